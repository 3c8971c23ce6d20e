"""SLI points from OpenLineage run events (server/openlineage/measurements.py), as the measurements API takes them."""

from __future__ import annotations

import json
from typing import Any

from server.catalog.restrictions import EVERYTHING_VISIBLE
from server.catalog.service import Catalog
from server.formats.description import DatasetName
from server.identity.principal import SYSTEM
from server.openlineage.events import run_event
from server.openlineage.measurements import COMPLETENESS, CORRECTNESS, FRESHNESS, SloIndicator, measurement_points
from server.settings import Settings
from server.store import Store
from tests.lineage_events import body

WAREHOUSE = "postgres://warehouse.roche.example:5432"
PROFILES = DatasetName(WAREHOUSE, "commercial.hcp360.profiles")
ACCURACY = SloIndicator("https://valuemesh.example/data-product/hcp-360/slo/correct", CORRECTNESS)
FILLED = SloIndicator("https://valuemesh.example/data-product/hcp-360/slo/complete", COMPLETENESS)
FRESH = SloIndicator("https://valuemesh.example/data-product/hcp-360/slo/freshness", FRESHNESS)


def events() -> list[dict[str, Any]]:
    return list(json.loads(body("hcp-360-run.json")))


def test_assertions_count_as_good_and_total_of_the_correctness_slo() -> None:
    start, complete = (run_event(e) for e in events())
    assert measurement_points(start, [ACCURACY]) == []  # no assertions on the START event
    (point,) = measurement_points(complete, [ACCURACY])
    assert point["slo"] == ACCURACY.slo and (point["good"], point["total"]) == (2, 3)
    assert point["time"] == "2026-11-29T02:14:31.250000Z"
    assert point["id"] == measurement_points(complete, [ACCURACY])[0]["id"]  # the same event, the same point


def test_assertions_on_a_dataset_the_product_does_not_publish_are_not_its_own() -> None:
    complete = run_event(events()[1])
    assert measurement_points(complete, [ACCURACY], published=[DatasetName(WAREHOUSE, "other.table")]) == []
    assert len(measurement_points(complete, [ACCURACY], published=[PROFILES])) == 1


def test_tests_reported_on_an_input_count_when_the_product_publishes_that_dataset() -> None:
    document = events()[1]
    tested = document["outputs"].pop()
    document["inputs"].append(
        {"namespace": tested["namespace"], "name": tested["name"], "inputFacets": tested["facets"]}
    )
    (point,) = measurement_points(run_event(document), [ACCURACY], published=[PROFILES])
    assert (point["good"], point["total"]) == (2, 3)


def test_null_counts_give_the_completeness_slo_its_points() -> None:
    document = events()[1]
    document["outputs"][0]["facets"]["dataQualityMetrics"] = {
        "_producer": "https://example.org", "_schemaURL": "https://example.org/schema",
        "rowCount": 1000, "columnMetrics": {"hcp_id": {"nullCount": 0}, "email": {"nullCount": 150}, "name": {}},
    }  # fmt: skip
    (point,) = measurement_points(run_event(document), [FILLED])
    assert (point["good"], point["total"]) == (1850, 2000)


def test_a_run_that_ends_is_a_freshness_point_good_when_it_completed() -> None:
    start, complete = (run_event(e) for e in events())
    failed = run_event({**events()[1], "eventType": "FAIL"})
    assert measurement_points(start, [FRESH]) == []
    assert [(p["good"], p["total"]) for p in measurement_points(complete, [FRESH])] == [(1, 1)]
    assert [(p["good"], p["total"]) for p in measurement_points(failed, [FRESH])] == [(0, 1)]


def test_each_slo_gets_its_own_points_with_ids_of_their_own() -> None:
    complete = run_event(events()[1])
    points = measurement_points(complete, [FRESH, ACCURACY])
    assert [p["slo"] for p in points] == sorted([FRESH.slo, ACCURACY.slo])
    assert len({p["id"] for p in points}) == 2


def test_taking_events_in_yields_the_points_of_the_products_slos(seeded_store: Store) -> None:
    catalog = Catalog(Settings(store="memory:", seed=False), seeded_store).open()
    try:
        outcome = catalog.observed_lineage.record(events(), SYSTEM, EVERYTHING_VISIBLE)
    finally:
        catalog.close()
    # HCP 360 promises two timeliness SLOs (daily freshness, monthly processing): the COMPLETE event feeds both.
    assert sorted((p["slo"].rsplit("/", 1)[-1], p["good"], p["total"]) for p in outcome.points) == [
        ("freshness", 1, 1),
        ("monthly-error-budget", 1, 1),
    ]
