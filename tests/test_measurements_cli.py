"""`valuemesh measurements import`: JSON Lines and CSV into the local catalog, checked like the API, all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from server.observations.measurements import table_path
from server.observations.table import PointTable
from server.settings import Settings
from server.store import open_store

DATA = Path(__file__).parent / "data" / "measurements"
HCP_360 = "https://valuemesh.example/data-product/hcp-360"
F2F = "https://valuemesh.example/data-product/f2f-meetings"
SLOS_OF_HCP_360 = ("/slo/freshness", "/slo/monthly-error-budget", "/slo/dashboard-availability")


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("VALUEMESH_MEASUREMENT_RETENTION_DAYS", "36500")  # the fixtures' points stay in it
    return str(tmp_path / "store")


def points(store: str) -> int:
    opened = open_store(store)
    path = table_path(Settings(store=store), opened)
    opened.close()
    del opened  # RocksDB lets go of the directory with the last handle: the next command opens it
    if path is None or not path.exists():
        return 0
    table = PointTable(path)
    try:
        return table.count()
    finally:
        table.close()


def summary_counts(store: str, product: str) -> dict[str, int]:
    opened = open_store(store)
    try:
        query = (
            "PREFIX dqv: <http://www.w3.org/ns/dqv#> PREFIX vm: <https://w3id.org/valuemesh/ontology#> "
            f"SELECT ?slo ?n WHERE {{ ?m dqv:computedOn <{product}> ; vm:objective ?slo ; vm:measurementCount ?n }}"
        )
        return {str(row["slo"]): int(str(row["n"])) for row in opened.select(query)}
    finally:
        opened.close()


@pytest.mark.parametrize("name", ["good-points.jsonl", "good-points.csv"])
def test_import_adds_the_points_once_and_updates_the_summaries(cli: Any, store: str, name: str) -> None:
    seeded = points(store)
    done = cli("measurements", "import", str(DATA / name), "--store", store)
    assert done.exit_code == 0, done.stderr
    assert "3 point(s) added, 0 sent before" in done.stderr
    assert "2 product(s)" in done.stderr
    assert points(store) == seeded + 3
    assert set(summary_counts(store, HCP_360)) == {HCP_360 + s for s in SLOS_OF_HCP_360}
    assert summary_counts(store, F2F) == {F2F + "/slo/timeliness": 0}  # the points are older than its week
    again = cli("measurements", "import", str(DATA / name), "--store", store)
    assert again.exit_code == 0 and "0 point(s) added, 3 sent before" in again.stderr
    assert points(store) == seeded + 3


def test_a_file_with_bad_points_is_refused_naming_each_line_and_nothing_is_imported(cli: Any, store: str) -> None:
    seeded = points(store)
    done = cli("measurements", "import", str(DATA / "bad-points.csv"), "--store", store)
    assert done.exit_code == 2
    bad = str(DATA / "bad-points.csv")
    assert f"{bad}:3:" in done.stderr and "has no zone" in done.stderr
    assert f"{bad}:4:" in done.stderr and '"good" (1001) is more than "total" (1000)' in done.stderr
    assert f"{bad}:2:" not in done.stderr
    assert "nothing was imported" in done.stderr
    assert points(store) == seeded


def test_a_file_of_another_format_or_missing_is_refused(cli: Any, store: str, tmp_path: Path) -> None:
    other = tmp_path / "points.xml"
    other.write_text("<points/>")
    assert "JSON Lines" in cli("measurements", "import", str(other), "--store", store).stderr
    missing = cli("measurements", "import", str(tmp_path / "none.jsonl"), "--store", store)
    assert missing.exit_code == 2 and "no such file" in missing.stderr
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"slo": \n')
    done = cli("measurements", "import", str(broken), "--store", store)
    assert done.exit_code == 2 and f"{broken}:1" in done.stderr and "not JSON" in done.stderr
