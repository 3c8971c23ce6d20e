"""`valuemesh lineage drift` over a catalog on disk that a server took OpenLineage events into."""

from __future__ import annotations

import gc
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from server.catalog.seeding import prepare
from server.settings import Settings
from server.store import open_store
from server.web.app import create_app
from tests.conftest import admin_token
from tests.lineage_events import recent

HCP_360 = "https://valuemesh.example/data-product/hcp-360"


@pytest.fixture
def observed_store(tmp_path: Path) -> str:
    """A seeded catalog on disk whose server took one run of HCP 360 yesterday, then stopped."""
    location = str(tmp_path / "store")
    store = open_store(location)
    prepare(store, with_seed=True)
    app = create_app(Settings(store=location, seed=False), store=store)
    with TestClient(app, base_url="http://localhost") as client:
        answer = client.post(
            "/api/v1/lineage",
            content=recent("hcp-360-run.json"),
            headers={"Content-Type": "application/json", **admin_token(app)},
        )
        assert answer.status_code == 201, answer.text
    store.close()
    del app, store, client
    gc.collect()  # the last handle on the store goes: RocksDB lets go of it, and the CLI opens it as a user's would
    return location


def test_drift_as_json_names_each_products_undeclared_reads_and_unobserved_inputs(
    cli: Callable[..., Any], observed_store: str
) -> None:
    done = cli("lineage", "drift", "--store", observed_store, "--format", "json")
    assert done.exit_code == 0, done.stderr
    (entry,) = json.loads(done.stdout)
    assert (entry["dataProduct"], entry["name"]) == (HCP_360, "HCP 360")
    assert [r["dataset"] for r in entry["undeclaredReads"]] == [
        "postgres://warehouse.roche.example:5432/commercial.web.sessions"
    ]
    assert sorted(p["name"] for p in entry["unobservedInputs"]) == ["Face-to-face meetings", "HCP master data"]


def test_drift_as_a_table_for_people(cli: Callable[..., Any], observed_store: str) -> None:
    done = cli("lineage", "drift", "--store", observed_store, "--product", HCP_360)
    assert done.exit_code == 0, done.stderr
    assert "commercial.web.sessions" in done.stdout and "HCP master data" in done.stdout
    assert "3 drift(s) in 1 product(s) over the last 30 day(s)" in done.stdout


def test_the_window_is_a_number_of_days(cli: Callable[..., Any], observed_store: str) -> None:
    # The run read its datasets yesterday plus its fourteen minutes: a window of one day holds it.
    done = cli("lineage", "drift", "--store", observed_store, "--format", "json", "--days", "1")
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout)[0]["dataProduct"] == HCP_360


def test_an_unknown_product_is_named(cli: Callable[..., Any], observed_store: str) -> None:
    done = cli("lineage", "drift", "--store", observed_store, "--product", "https://valuemesh.example/data-product/x")
    assert done.exit_code == 2 and "no data product" in done.stderr
