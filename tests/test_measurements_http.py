"""SLI measurements through the running app: `POST /api/v1/measurements` as the caller (identity, idempotency, every
kind of bad point named by index, all or nothing), the SLO status GraphQL and the graph's summaries (SPARQL, the
library's goals-at-risk agreeing with GraphQL's goalsAtRisk), and restricted products' summaries kept hidden."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from server.identity.principal import SYSTEM, Role
from server.namespaces import VM
from server.observations.synthetic import synthetic_points
from server.query_library import library_query
from server.settings import Settings
from server.store import Store
from server.web.app import create_app
from tests.test_access_requests import Catalog
from tests.test_restricted_records import (
    CRM,
    catalog,  # noqa: F401 - the fixture: CRM interactions restricted
    sparql,
)

DATA = Path(__file__).parent / "data" / "measurements"
CAT = "https://valuemesh.example/"
COMMERCIAL = CAT + "domain/commercial"
MARKETING = CAT + "domain/marketing"
HCP_360 = CAT + "data-product/hcp-360"
MASTER_DATA = CAT + "data-product/hcp-master-data"
FRESHNESS = HCP_360 + "/slo/freshness"
AVAILABILITY = MASTER_DATA + "/slo/availability"

SLO_STATUS = """query ($id: ID!) { dataProduct(id: $id) { sloStatus {
  slo { id target errorBudget period } measured budgetRemaining burnRate status measurements } } }"""
GOALS_AT_RISK = """{ goalsAtRisk { goal { id title } status
  causes { dataProduct { id } slo { id } status via { id __typename } } } }"""


@pytest.fixture
def measured(seeded_store: Store, settings: Settings) -> Iterator[Catalog]:
    """The seed with its synthetic SLI history (as a fresh `valuemesh serve` has it), and people with tokens."""
    app = create_app(replace(settings, measurement_retention_days=36500), store=seeded_store)
    with TestClient(app, base_url="http://localhost") as client:
        app.state.catalog.seed_measurements()
        found = Catalog(app, client, seeded_store)
        found.person("commercial", CAT + "agent/commercial-dev", domains=(COMMERCIAL,), roles=(Role.DOMAIN_MEMBER,))
        found.person("marketing", CAT + "agent/web-dev", domains=(MARKETING,), roles=(Role.DOMAIN_MEMBER,))
        found.person("admin", CAT + "agent/platform", roles=(Role.ADMIN,))
        yield found


def post(app_: Catalog, who: str | None, body: bytes | dict[str, Any]) -> Any:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", **(app_.headers.get(who, {}) if who else {})}
    return app_.client.post("/api/v1/measurements", content=content, headers=headers)


def kept(app_: Catalog) -> tuple[int, bytes]:
    """What a batch could change: the points stored and the graph (the summaries)."""
    out = io.BytesIO()
    app_.store.dump(out, "application/n-quads")
    return app_.app.state.catalog.measurements.table.count(), b"\n".join(sorted(out.getvalue().splitlines()))


def statuses(app_: Catalog, product: str, who: str | None = None) -> dict[str, dict[str, Any]]:
    data = app_.post(who or "", SLO_STATUS, id=product)["data"]["dataProduct"]
    return {row["slo"]["id"]: row for row in data["sloStatus"]}


# --- ingest ---------------------------------------------------------------------------------------------------


def test_a_domain_member_records_points_and_the_same_points_sent_again_count_once(measured: Catalog) -> None:
    body = (DATA / "good-batch.json").read_bytes()
    before = measured.app.state.catalog.measurements.table.count()
    first = post(measured, "commercial", body)
    assert first.status_code == 200, first.text
    assert first.json() == {"accepted": 3, "duplicates": 0}
    again = post(measured, "commercial", body)
    assert again.json() == {"accepted": 0, "duplicates": 3}
    assert measured.app.state.catalog.measurements.table.count() == before + 3


def test_a_point_with_an_id_is_the_same_point_at_any_time_and_one_without_is_keyed_by_its_time(
    measured: Catalog,
) -> None:
    point = {"slo": FRESHNESS, "time": "2026-11-02T09:00:17Z", "good": 1, "total": 2, "id": "run-7"}
    assert post(measured, "admin", {"measurements": [point]}).json() == {"accepted": 1, "duplicates": 0}
    moved = {**point, "time": "2026-11-02T09:30:17Z"}
    assert post(measured, "admin", {"measurements": [moved]}).json() == {"accepted": 0, "duplicates": 1}
    plain = [{k: v for k, v in point.items() if k != "id"}] * 2
    assert post(measured, "admin", {"measurements": plain}).json() == {"accepted": 1, "duplicates": 1}


def test_writing_points_needs_an_identity_with_the_right_to_write_the_product(measured: Catalog) -> None:
    before = kept(measured)
    body = (DATA / "good-batch.json").read_bytes()
    anonymous = post(measured, None, body)
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "UNAUTHENTICATED"
    outsider = post(measured, "marketing", body)
    assert outsider.status_code == 403 and outsider.json()["code"] == "FORBIDDEN"
    assert "hcp-360" in outsider.json()["detail"] or "crm-interactions" in outsider.json()["detail"]
    assert kept(measured) == before


@pytest.mark.parametrize(
    ("fixture", "index", "reason"),
    [
        ("unknown-slo.json", 1, "unknown SLO <https://valuemesh.example/data-product/hcp-360/slo/no-such-slo>"),
        ("time-without-zone.json", 2, "has no zone"),
        ("good-over-total.json", 0, '"good" (1001) is more than "total" (1000)'),
        ("negative-count.json", 1, '"good" is negative (-1)'),
        ("missing-total.json", 0, '"total" is missing'),
        ("value-without-threshold.json", 1, "defines no threshold"),
    ],
)
def test_a_batch_with_a_bad_point_is_refused_naming_its_index_and_nothing_is_stored(
    measured: Catalog, fixture: str, index: int, reason: str
) -> None:
    before = kept(measured)
    refused = post(measured, "admin", (DATA / fixture).read_bytes())
    assert refused.status_code == 400
    problem = refused.json()
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert problem["code"] == "BAD_INPUT"
    assert [e["index"] for e in problem["errors"]] == [index]
    assert reason in problem["errors"][0]["reason"]
    assert f"[{index}]" in problem["detail"] and "nothing of this batch was stored" in problem["detail"]
    assert kept(measured) == before  # the good points of the batch were not stored either


def test_every_bad_point_of_a_batch_is_named(measured: Catalog) -> None:
    good = {"slo": FRESHNESS, "time": "2026-11-02T09:00:17Z", "good": 1, "total": 2}
    batch = [good, {**good, "good": 3}, good, {**good, "time": "yesterday"}, "not a point"]
    refused = post(measured, "admin", {"measurements": batch})
    assert [e["index"] for e in refused.json()["errors"]] == [1, 3, 4]


def test_what_points_share_is_checked_once_but_every_point_it_spoils_is_named(measured: Catalog) -> None:
    """Times and SLOs are checked once per distinct string in a batch: each point sharing a bad one is still
    named, with the same reason, and a good time shared with them is not spoiled by them."""
    future = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0).isoformat()
    good = {"slo": FRESHNESS, "time": "2026-11-02T09:00:17Z", "good": 1, "total": 2}
    batch = [
        {**good, "time": future},
        good,
        {**good, "time": future, "slo": AVAILABILITY},
        {**good, "slo": "not an iri"},
        {**good, "slo": "not an iri", "time": future},
        {**good, "slo": ["a list"]},
        {**good, "good": True},
    ]
    before = kept(measured)
    errors = post(measured, "admin", {"measurements": batch}).json()["errors"]
    assert [(e["index"], e["reason"]) for e in errors] == [
        (0, f'"time" {future!r} is in the future'),
        (2, f'"time" {future!r} is in the future'),
        (3, "\"slo\" 'not an iri' is not an IRI"),
        (4, "\"slo\" 'not an iri' is not an IRI"),
        (5, '"slo" is missing: give the IRI of the SLO the point measures'),
        (6, '"good" must be a whole number, not True'),
    ]
    assert kept(measured) == before


def test_malformed_json_and_an_oversized_batch_are_refused(measured: Catalog, seeded_store: Store) -> None:
    before = kept(measured)
    malformed = post(measured, "admin", (DATA / "malformed.json").read_bytes())
    assert malformed.status_code == 400 and "not JSON" in malformed.json()["detail"]
    assert malformed.json()["location"]["line"] is not None
    limit = measured.app.state.catalog.settings.max_measurements
    point = {"slo": FRESHNESS, "time": "2026-11-02T09:00:17Z", "good": 1, "total": 2}
    oversized = post(measured, "admin", {"measurements": [point] * (limit + 1)})
    assert oversized.status_code == 400 and f"at most {limit}" in oversized.json()["detail"]
    assert kept(measured) == before


def test_a_value_counts_against_the_threshold_of_an_slo_that_states_one(measured: Catalog) -> None:
    nba = CAT + "data-product/next-best-action"
    record = measured.store.record(nba)
    from rdflib import Literal, URIRef

    latency = URIRef(nba + "/slo/latency")
    record.add((latency, VM.goodAtMost, Literal(200)))
    measured.app.state.catalog.store.replace_records({nba: list(record)})
    points = [
        {"slo": str(latency), "time": "2026-11-29T09:00:17Z", "value": 120.0},
        {"slo": str(latency), "time": "2026-11-29T09:01:17Z", "value": 450},
        {"slo": str(latency), "time": "2026-11-29T09:02:17Z", "value": 200},
    ]
    assert post(measured, "admin", {"measurements": points}).json() == {"accepted": 3, "duplicates": 0}
    table = measured.app.state.catalog.measurements.table
    from server.observations.table import Window

    start = datetime(2026, 11, 29, 9, 0, 10, tzinfo=UTC).timestamp() * 1000
    (sums,) = table.sums(str(latency), [Window(int(start), int(start) + 180_000)])  # the three points only
    assert (sums.good, sums.total) == (2, 3)


# --- statuses and goals at risk on the seed --------------------------------------------------------------------


def _expected(slo: str, app_: Catalog) -> tuple[float, float]:
    """Compliance and budget left of a seed SLO, from the synthetic points themselves (what the period holds)."""
    from server.observations.objectives import objectives

    found = objectives(app_.store, [slo])[slo]
    now = datetime.now(UTC)
    start = found.period.start(now).timestamp() * 1000
    points = [p for p in synthetic_points([found], now) if p.time_ms >= start]
    good, total = sum(p.good for p in points), sum(p.total for p in points)
    compliance = 100 * good / total
    return compliance, 100 * (1 - (100 - compliance) / found.budget)


def test_slo_status_of_the_seed_shows_the_overspent_budget(measured: Catalog) -> None:
    found = statuses(measured, MASTER_DATA)
    availability = found[AVAILABILITY]
    compliance, remaining = _expected(AVAILABILITY, measured)
    assert availability["status"] == "EXHAUSTED"
    assert availability["measured"] == pytest.approx(compliance, abs=0.01)
    assert availability["budgetRemaining"] == pytest.approx(remaining, abs=1.0)
    assert availability["budgetRemaining"] < 0
    assert availability["burnRate"] == pytest.approx(1 - remaining / 100, abs=0.01)
    assert availability["measurements"] > 24 * 7
    healthy = statuses(measured, HCP_360)[FRESHNESS]
    assert healthy["status"] == "HEALTHY" and 0 < healthy["budgetRemaining"] < 100
    assert healthy["measurements"] in (24, 25)  # hourly points over its one-day period


def test_an_unmeasured_slo_is_unknown_with_no_figures(measured: Catalog) -> None:
    (only,) = statuses(measured, CAT + "data-product/medical-inquiries").values()
    assert only["status"] == "UNKNOWN"
    assert only["measurements"] == 0
    assert only["measured"] is None and only["budgetRemaining"] is None and only["burnRate"] is None


def test_goals_at_risk_are_those_the_products_downstream_of_the_overspent_one_trace_to(measured: Catalog) -> None:
    answer = measured.post("admin", GOALS_AT_RISK)["data"]["goalsAtRisk"]
    downstream = measured.post(
        "admin",
        f'{{ lineage(id: "{MASTER_DATA}", direction: DOWNSTREAM) {{ nodes {{ node {{ ... on DataProduct {{ id }} }} }} }} }}',
    )["data"]["lineage"]["nodes"]
    affected = [MASTER_DATA, *(hop["node"]["id"] for hop in downstream)]
    traced: set[str] = set()
    for product in affected:
        trace = measured.post("admin", f'{{ goalTrace(id: "{product}") {{ goals {{ id }} }} }}')["data"]["goalTrace"]
        traced |= {goal["id"] for goal in trace["goals"]}
    assert {risk["goal"]["id"] for risk in answer} == traced
    assert traced  # the seed's overspent product does put goals at risk
    for risk in answer:
        assert risk["status"] == "EXHAUSTED"
        assert {(c["dataProduct"]["id"], c["slo"]["id"]) for c in risk["causes"]} == {(MASTER_DATA, AVAILABILITY)}
        for cause in risk["causes"]:
            kinds = [node["__typename"] for node in cause["via"]]
            assert "UseCase" in kinds  # a goal is reached through a use case
            assert kinds == sorted(kinds, key=["DataProduct", "UseCase", "Goal"].index)  # products, use case, goals
    vision = next(r for r in answer if r["goal"]["id"] == CAT + "goal/vision")
    assert vision["causes"][0]["via"][-1]["__typename"] == "Goal"  # the sub-goals between use case and vision


def test_the_library_question_agrees_with_graphql(measured: Catalog) -> None:
    answer = measured.post("admin", GOALS_AT_RISK)["data"]["goalsAtRisk"]
    from_graphql = {
        (r["goal"]["id"], c["dataProduct"]["id"], c["slo"]["id"], c["status"]) for r in answer for c in r["causes"]
    }
    rows = sparql(measured, "admin", library_query("goals-at-risk").text)
    names = {VM.BudgetAtRisk: "AT_RISK", VM.BudgetExhausted: "EXHAUSTED"}
    names = {str(iri): name for iri, name in names.items()}
    from_sparql = {(r["goal"], r["product"], r["slo"], names[r["status"]]) for r in rows}
    assert from_sparql == from_graphql


def test_summaries_are_in_the_graph_and_a_write_of_points_updates_them(measured: Catalog) -> None:
    query = (
        "PREFIX dqv: <http://www.w3.org/ns/dqv#> PREFIX vm: <https://w3id.org/valuemesh/ontology#> "
        f"SELECT ?slo ?count WHERE {{ ?m dqv:computedOn <{HCP_360}> ; vm:objective ?slo ; vm:measurementCount ?count }}"
    )
    before = {r["slo"]: int(r["count"]) for r in sparql(measured, "admin", query)}
    assert set(before) == set(statuses(measured, HCP_360))  # one summary per SLO of the product
    now = datetime.now(UTC).replace(microsecond=0)
    point = {"slo": FRESHNESS, "time": (now - timedelta(seconds=7)).isoformat(), "good": 1, "total": 1}
    assert post(measured, "commercial", {"measurements": [point]}).status_code == 200
    measured.app.state.catalog.flush_summaries()
    after = {r["slo"]: int(r["count"]) for r in sparql(measured, "admin", query)}
    assert after == {**before, FRESHNESS: before[FRESHNESS] + 1}


def test_the_graph_follows_within_the_summary_interval_and_graphql_at_once(measured: Catalog) -> None:
    """A batch returns once its points are stored; the summaries follow in the background, many batches in one
    write; GraphQL counts the points at once."""
    service = measured.app.state.catalog
    service.flush_summaries()  # nothing waits, and the summariser wrote just now: the next write waits an interval
    service.measurements.summariser.interval_s = 3600.0
    query = (
        "PREFIX dqv: <http://www.w3.org/ns/dqv#> PREFIX vm: <https://w3id.org/valuemesh/ontology#> "
        "SELECT ?slo ?count WHERE { ?m vm:objective ?slo ; vm:measurementCount ?count }"
    )
    before = {r["slo"]: int(r["count"]) for r in sparql(measured, "admin", query)}
    now = datetime.now(UTC).replace(microsecond=0)
    for k in range(3):
        point = {"slo": FRESHNESS, "time": (now - timedelta(seconds=k + 3)).isoformat(), "good": 1, "total": 1}
        assert post(measured, "commercial", {"measurements": [point]}).json() == {"accepted": 1, "duplicates": 0}
    assert statuses(measured, HCP_360)[FRESHNESS]["measurements"] == before[FRESHNESS] + 3
    assert {r["slo"]: int(r["count"]) for r in sparql(measured, "admin", query)} == before  # not yet written
    assert service.measurements.summariser.waiting == 1  # three batches, one product to write
    service.flush_summaries()
    after = {r["slo"]: int(r["count"]) for r in sparql(measured, "admin", query)}
    assert after == {**before, FRESHNESS: before[FRESHNESS] + 3}
    assert service.measurements.summariser.waiting == 0


def test_summaries_waiting_at_shutdown_are_written(seeded_store: Store, settings: Settings) -> None:
    from server.catalog.service import Catalog as Service

    service = Service(replace(settings, slo_summary_interval_s=3600.0), seeded_store).open()
    service.seed_measurements()
    service.flush_summaries()
    now = datetime.now(UTC).replace(microsecond=0)
    point = {"slo": FRESHNESS, "time": (now - timedelta(seconds=5)).isoformat(), "good": 0, "total": 9}
    count = {s.objective.iri: s.measurements for s in service.slo_statuses(service.store, [HCP_360])[HCP_360]}
    service.record_measurements([point], SYSTEM)
    assert service.measurements.summariser.waiting == 1
    service.close()
    graph = seeded_store.record(HCP_360 + "/slo-status")
    counts = {
        str(o): int(c) for m, o in graph.subject_objects(VM.objective) for c in graph.objects(m, VM.measurementCount)
    }
    assert counts[FRESHNESS] == count[FRESHNESS] + 1


def test_summaries_do_not_trip_the_checklist(measured: Catalog) -> None:
    report = measured.post("admin", "{ validation { conforms results { focusNode severity } } }")["data"]
    violations = [r for r in report["validation"]["results"] if r["severity"] == "VIOLATION"]
    assert not [v for v in violations if "/slo-status" in v["focusNode"]]
    assert report["validation"]["conforms"]


# --- restricted products ---------------------------------------------------------------------------------------


def test_a_restricted_products_summaries_are_hidden_from_those_who_may_not_read_it(catalog: Catalog) -> None:  # noqa: F811
    catalog.person("writer", CAT + "agent/pipeline", roles=(Role.ADMIN,))
    slo = CRM + "/slo/daily-completeness"
    point = {"slo": slo, "time": datetime.now(UTC).replace(microsecond=0).isoformat(), "good": 9, "total": 10}
    done = post(catalog, "writer", {"measurements": [point]})
    assert done.status_code == 200, done.text
    catalog.app.state.catalog.flush_summaries()
    query = f"PREFIX dqv: <http://www.w3.org/ns/dqv#> SELECT ?m WHERE {{ ?m dqv:computedOn <{CRM}> }}"
    assert sparql(catalog, "member", query)  # its domain reads it
    assert sparql(catalog, "outsider", query) == []
    assert catalog.client.get("/sparql", params={"query": query}).json()["results"]["bindings"] == []
    assert catalog.post("outsider", SLO_STATUS, id=CRM)["data"]["dataProduct"] is None
    assert statuses(catalog, CRM, "member")[slo]["measurements"] == 1


def test_removing_a_product_removes_its_summaries(measured: Catalog) -> None:
    last = CAT + "data-product/next-best-action"  # no product consumes it
    assert measured.store.record(last + "/slo-status")
    done = measured.post("admin", f'mutation {{ removeDataProduct(id: "{last}") }}')
    assert "errors" not in done, done
    assert not measured.store.record(last + "/slo-status")


def test_batches_arriving_together_are_all_in_the_summaries(measured: Catalog) -> None:
    from concurrent.futures import ThreadPoolExecutor

    service = measured.app.state.catalog
    now = datetime.now(UTC).replace(microsecond=0)
    products = [HCP_360, CAT + "data-product/f2f-meetings"]
    slos = [FRESHNESS, CAT + "data-product/f2f-meetings/slo/timeliness"]
    before = {
        p: {s.objective.iri: s.measurements for s in service.slo_statuses(service.store, [p])[p]} for p in products
    }
    batches = [
        [{"slo": slo, "time": (now - timedelta(seconds=k + 3)).isoformat(), "good": 1, "total": 1} for k in range(5)]
        for slo in slos
    ]
    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(lambda batch: post(measured, "admin", {"measurements": batch}).json(), batches))
    assert done == [{"accepted": 5, "duplicates": 0}] * 2
    service.flush_summaries()
    query = (
        "PREFIX dqv: <http://www.w3.org/ns/dqv#> PREFIX vm: <https://w3id.org/valuemesh/ontology#> "
        "SELECT ?slo ?count WHERE { ?m vm:objective ?slo ; vm:measurementCount ?count }"
    )
    counts = {r["slo"]: int(r["count"]) for r in sparql(measured, "admin", query)}
    for product, slo in zip(products, slos, strict=True):
        assert counts[slo] == before[product][slo] + 5
