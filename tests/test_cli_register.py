"""`valuemesh register` and the descriptor exports as a domain team's CI runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from rdflib import Graph

from server.formats.loading import load_file
from tests.conftest import DATA, SHARED, CliResult

DESCRIPTORS = DATA / "descriptors"
BASE = "https://valuemesh.example/"
ORDERS = BASE + "data-product/customer-orders"


@pytest.fixture
def store_dir(tmp_path: Path) -> str:
    return str(tmp_path / "catalog")


def records_in(cli, store_dir: str) -> list[str]:  # type: ignore[no-untyped-def]
    result: CliResult = cli("export", "--format", "nquads", "--store", store_dir)
    assert result.exit_code == 0, result.stderr
    return sorted({line.rsplit(" ", 2)[-2] for line in result.stdout.splitlines() if line})


def test_register_stores_then_finds_nothing_changed(cli, store_dir: str) -> None:  # type: ignore[no-untyped-def]
    paths = [str(DESCRIPTORS / "hcp-call-planning.valuemesh.yaml"), str(DESCRIPTORS / "odps-with-contract")]
    first = cli("register", *paths, "--store", store_dir)
    assert first.exit_code == 0, first.stderr
    assert f"added     {ORDERS}" in first.stdout
    assert "added     " + BASE + "agent/call-planning-team" in first.stdout
    again = cli("register", *paths, "--store", store_dir, "--dry-run")
    assert again.exit_code == 0, again.stderr
    # The agent made on the first run is now in the catalog: it is found, never written again.
    assert "0 record(s) would be added, 0 replaced, 2 unchanged" in again.stderr


def test_dry_run_shows_the_mapping_and_writes_nothing(cli, store_dir: str) -> None:  # type: ignore[no-untyped-def]
    before = records_in(cli, store_dir)
    result = cli("register", str(DESCRIPTORS / "odps-with-contract"), "--dry-run", "--show", "--store", store_dir)
    assert result.exit_code == 0, result.stderr
    assert f"added     {ORDERS}" in result.stdout
    assert "would be added" in result.stderr and "nothing was written" in result.stderr
    assert "Marketing analysts; others on request" in result.stdout  # the TriG of the converted records
    assert records_in(cli, store_dir) == before


def test_a_directory_with_one_bad_file_stores_nothing(cli, store_dir: str) -> None:  # type: ignore[no-untyped-def]
    before = records_in(cli, store_dir)
    result = cli("register", str(DESCRIPTORS / "batch-with-one-bad-file"), "--store", store_dir)
    assert result.exit_code == 2
    assert "slo-target-is-text.valuemesh.yaml:18" in result.stderr
    assert "$.sharing.slos[0].target" in result.stderr
    assert records_in(cli, store_dir) == before


def test_checklist_violations_exit_1_with_the_report_by_product(cli, store_dir: str) -> None:  # type: ignore[no-untyped-def]
    result = cli("register", str(DESCRIPTORS / "product-missing-checklist-items.valuemesh.yaml"), "--store", store_dir)
    assert result.exit_code == 1
    assert f"{BASE}data-product/unowned-scratch-table (from " in result.stderr
    assert "owner" in result.stderr and "type" in result.stderr
    assert f"{BASE}data-product/unowned-scratch-table" not in records_in(cli, store_dir)


def test_shared_odps_example_with_its_contract_on_the_command_line(cli, store_dir: str) -> None:  # type: ignore[no-untyped-def]
    standards = SHARED / "standards"
    result = cli(
        "register",
        str(standards / "odps-1.0" / "simple-data-product.odps.yaml"),
        "--contract",
        f"processed-data={standards / 'odcs-3.1' / 'database-table-sla.odcs.yaml'}",
        "--dry-run",
        "--show",
        "--store",
        store_dir,
    )
    # The example lacks checklist items: the user sees the mapping and what to add.
    assert result.exit_code == 1
    assert '"latency 4 d"' in result.stdout
    assert "needs exactly one owner" in result.stderr


def test_unusable_input_exits_2(cli, store_dir: str) -> None:  # type: ignore[no-untyped-def]
    missing = cli("register", str(DESCRIPTORS / "no-such-file.yaml"), "--store", store_dir)
    assert missing.exit_code == 2 and "no such file" in missing.stderr
    network = cli("register", str(DESCRIPTORS / "dpds-port-ref-over-https"), "--store", store_dir)
    assert network.exit_code == 2 and "never fetches" in network.stderr


def test_odps_round_trips_through_the_catalog(cli, store_dir: str) -> None:  # type: ignore[no-untyped-def]
    source = DESCRIPTORS / "odps-with-contract" / "customer-orders.odps.yaml"
    assert cli("register", str(source.parent), "--store", store_dir).exit_code == 0
    exported = cli("export", "--format", "odps", "--product", ORDERS, "--store", store_dir)
    assert exported.exit_code == 0, exported.stderr
    assert yaml.safe_load(exported.stdout) == load_file(source).data


def test_export_dpds_turtle_and_jsonld_with_a_local_context(cli, store_dir: str) -> None:  # type: ignore[no-untyped-def]
    assert cli("register", str(DESCRIPTORS / "odps-with-contract"), "--store", store_dir).exit_code == 0
    dpds = json.loads(cli("export", "--format", "dpds", "--product", ORDERS, "--store", store_dir).stdout)
    assert dpds["info"]["displayName"] == "Customer orders"
    assert dpds["info"]["owner"]["name"] == "Web Analytics Lead"
    assert [p["displayName"] for p in dpds["interfaceComponents"]["outputPorts"]] == ["orders table"]

    turtle = cli("export", "--format", "turtle", "--product", ORDERS, "--store", store_dir).stdout
    jsonld = cli("export", "--format", "jsonld", "--product", ORDERS, "--store", store_dir).stdout
    assert isinstance(json.loads(jsonld)["@context"], dict)  # inline, never a remote context
    from_turtle, from_jsonld = Graph().parse(data=turtle, format="turtle"), Graph().parse(data=jsonld, format="json-ld")
    assert len(from_turtle) == len(from_jsonld) > 20

    unknown = cli("export", "--format", "odps", "--product", BASE + "data-product/nope", "--store", store_dir)
    assert unknown.exit_code == 2 and "no data product" in unknown.stderr
