"""`POST /api/v1/lineage` through the ASGI app: OpenLineage run events in, observed lineage and drift out."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from server.identity.principal import Role
from server.query_library import library_query
from server.settings import Settings
from server.store import Store
from server.web.app import create_app
from tests.conftest import admin_token
from tests.lineage_events import aged, body, recent

CAT = "https://valuemesh.example/"
HCP_360 = CAT + "data-product/hcp-360"
COMMERCIAL = CAT + "domain/commercial"

DRIFT = """query($id: ID!) { lineageDrift(id: $id) {
  dataProduct { name } undeclaredReads runs unobservedInputs { id name }
} }"""

OBSERVED = """PREFIX vm: <https://w3id.org/valuemesh/ontology#>
PREFIX prov: <http://www.w3.org/ns/prov#>
SELECT ?runs ?state ?generated WHERE {
  ?summary vm:observedLineageOf <%s> ; vm:runCount ?runs ; vm:lastRun ?run .
  ?run a prov:Activity ; vm:runState ?state ; prov:generated/vm:datasetName ?generated .
}"""


def post(client: TestClient, content: bytes, **headers: str) -> Any:
    return client.post("/api/v1/lineage", content=content, headers={"Content-Type": "application/json", **headers})


def observed(client: TestClient, product: str) -> list[dict[str, Any]]:
    answer = client.post("/sparql", data={"query": OBSERVED % product}, headers={"Accept": "application/json"})
    assert answer.status_code == 200, answer.text
    return [{k: v["value"] for k, v in row.items()} for row in answer.json()["results"]["bindings"]]


def run_count(client: TestClient) -> int:
    return int(client.app.state.catalog.observed_lineage.runs.summary(HCP_360).runs)  # type: ignore[attr-defined]


def token(client: TestClient, name: str, roles: list[Role], domains: list[str]) -> dict[str, str]:
    secret, _ = client.app.state.catalog.identity.tokens.create(  # type: ignore[attr-defined]
        name, agent=CAT + f"agent/{name}", domains=domains, roles=roles, expires_in=None
    )
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def anonymous(seeded_store: Store, settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings, store=seeded_store)
    with TestClient(app, base_url="http://localhost") as test_client:
        yield test_client


def test_a_run_writing_a_published_dataset_is_the_products_and_the_graph_shows_its_last_run(client: TestClient) -> None:
    answer = post(client, body("hcp-360-run.json"))
    assert answer.status_code == 201, answer.text
    assert {k: v for k, v in answer.json().items() if k != "measurements"} == {
        "received": 2,
        "stored": 2,
        "duplicates": 0,
        "expired": 0,
        "ignored": 0,
        "unattributed": 0,
        "dataProducts": [HCP_360],
    }
    assert observed(client, HCP_360) == [{"runs": "1", "state": "COMPLETE", "generated": "commercial.hcp360.profiles"}]


def test_an_event_sent_twice_counts_once(client: TestClient) -> None:
    assert post(client, body("hcp-360-start.json")).json()["stored"] == 1
    again = post(client, body("hcp-360-run.json"))
    assert again.status_code == 201
    assert (again.json()["stored"], again.json()["duplicates"]) == (1, 1)
    assert post(client, body("hcp-360-run.json")).json()["duplicates"] == 2
    assert run_count(client) == 1


def test_events_for_datasets_no_product_publishes_are_kept(client: TestClient) -> None:
    answer = post(client, body("run-writing-unknown-datasets.json"))
    assert answer.status_code == 201
    assert (answer.json()["stored"], answer.json()["unattributed"]) == (1, 1)
    assert client.app.state.catalog.observed_lineage.runs.unattributed() == 1  # type: ignore[attr-defined]


def test_gzip_bodies_as_the_python_client_compresses_them_are_taken(client: TestClient) -> None:
    answer = post(client, gzip.compress(body("hcp-360-run.json")), **{"Content-Encoding": "gzip"})
    assert answer.status_code == 201, answer.text
    assert answer.json()["stored"] == 2


@pytest.mark.parametrize(
    ("fixture", "event", "pointer", "words"),
    [
        ("event-without-job-name.json", 0, "/job", "'name' is a required property"),
        ("event-time-without-zone.json", 0, "/eventTime", "no time zone"),
        (
            "second-event-with-bad-assertion.json",
            1,
            "/outputs/0/facets/dataQualityAssertions/assertions/2/success",
            "is not of type 'boolean'",
        ),
        ("run-naming-an-unknown-product.json", 0, "/run/facets/valuemesh/dataProduct", "no data product"),
    ],
)
def test_an_event_the_schema_refuses_is_named_by_index_and_field_and_nothing_is_stored(
    client: TestClient, fixture: str, event: int, pointer: str, words: str
) -> None:
    answer = post(client, body(fixture))
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert (problem["event"], problem["pointer"], problem["code"]) == (event, pointer, "BAD_INPUT")
    assert words in problem["detail"] and f"event {event}" in problem["detail"]
    assert client.app.state.catalog.observed_lineage.runs.unattributed() == 0  # type: ignore[attr-defined]


def test_malformed_json_is_refused_with_where_it_breaks(client: TestClient) -> None:
    problem = post(client, body("malformed.json")).json()
    assert problem["status"] == 400 and "malformed JSON" in problem["detail"]
    assert problem["location"]["line"] > 1


def test_writing_runs_needs_an_identity(anonymous: TestClient) -> None:
    answer = post(anonymous, body("hcp-360-run.json"))
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert answer.json()["code"] == "UNAUTHENTICATED"


def test_writing_runs_of_a_product_needs_the_right_to_change_it(anonymous: TestClient) -> None:
    outsider = token(anonymous, "finance-pipeline", [Role.DOMAIN_MEMBER], [CAT + "domain/finance"])
    refused = post(anonymous, body("hcp-360-run.json"), **outsider)
    assert refused.status_code == 403
    assert HCP_360 in refused.json()["detail"] and "nothing of this request was stored" in refused.json()["detail"]
    assert anonymous.app.state.catalog.observed_lineage.runs.summary(HCP_360).runs == 0  # type: ignore[attr-defined]
    member = token(anonymous, "commercial-pipeline", [Role.DOMAIN_MEMBER], [COMMERCIAL])
    assert post(anonymous, body("hcp-360-run.json"), **member).status_code == 201


def test_a_body_over_the_size_limit_is_refused_before_it_is_read(seeded_store: Store) -> None:
    app = create_app(Settings(store="memory:", seed=False, max_body_bytes=2_000), store=seeded_store)
    with TestClient(app, base_url="http://localhost") as small:
        answer = post(small, body("hcp-360-run.json"), **token(small, "admin", [Role.ADMIN], []))
    assert answer.status_code == 413


def test_a_gzip_body_unpacking_past_the_size_limit_is_refused(seeded_store: Store) -> None:
    app = create_app(Settings(store="memory:", seed=False, max_body_bytes=20_000), store=seeded_store)
    bomb = gzip.compress(b"[" + b" " * 1_000_000 + b"]")
    with TestClient(app, base_url="http://localhost") as small:
        answer = post(small, bomb, **{"Content-Encoding": "gzip"}, **token(small, "admin", [Role.ADMIN], []))
    assert answer.status_code == 400 and "larger than 20000 bytes" in answer.json()["detail"]


def test_more_events_than_a_request_may_hold_are_refused(seeded_store: Store) -> None:
    app = create_app(Settings(store="memory:", seed=False, lineage_max_events=1), store=seeded_store)
    with TestClient(app, base_url="http://localhost") as small:
        answer = post(small, body("hcp-360-run.json"), **token(small, "admin", [Role.ADMIN], []))
    assert answer.status_code == 400 and "at most 1 events" in answer.json()["detail"]


def test_drift_on_the_seed_names_undeclared_reads_and_unobserved_inputs(client: TestClient) -> None:
    before = client.post("/graphql", json={"query": DRIFT, "variables": {"id": HCP_360}}).json()["data"]
    assert before["lineageDrift"] == {
        "dataProduct": {"name": "HCP 360"},
        "undeclaredReads": [],
        "runs": 0,
        "unobservedInputs": [],
    }
    post(client, recent("hcp-360-run.json"))
    drift = client.post("/graphql", json={"query": DRIFT, "variables": {"id": HCP_360}}).json()["data"]["lineageDrift"]
    assert drift["runs"] == 1
    assert drift["undeclaredReads"] == ["postgres://warehouse.roche.example:5432/commercial.web.sessions"]
    assert [p["name"] for p in drift["unobservedInputs"]] == ["Face-to-face meetings", "HCP master data"]


def test_old_runs_fall_out_of_the_drift_window(client: TestClient) -> None:
    post(client, body("hcp-360-run.json"))  # November 2026: older than 30 days from now once tests run later
    stale = datetime.fromisoformat("2026-11-29T02:14:31+00:00") + timedelta(days=31)
    drift = client.app.state.catalog.observed_lineage.drift(HCP_360, now=stale)  # type: ignore[attr-defined]
    assert (drift.runs, drift.undeclared_reads, drift.unobserved_inputs) == (0, [], [])


def test_the_library_drift_question_over_the_graph_agrees_with_graphql(client: TestClient) -> None:
    post(client, recent("hcp-360-run.json"))
    post(client, recent("run-writing-unknown-datasets.json"))
    entry = library_query("lineage-drift")
    rows = list(client.app.state.catalog.store.select(entry.text, entry.bindings({})))  # type: ignore[attr-defined]
    drift = client.post("/graphql", json={"query": DRIFT, "variables": {"id": HCP_360}}).json()["data"]["lineageDrift"]
    undeclared = [str(r["dataset"]) for r in rows if str(r["drift"]) == "undeclared read"]
    unobserved = sorted(str(r["port"]) for r in rows if str(r["drift"]) == "unobserved input")
    assert {str(r["product"]) for r in rows} == {HCP_360}
    assert undeclared == drift["undeclaredReads"]
    assert unobserved == sorted(p["id"] for p in drift["unobservedInputs"])


def test_port_datasets_are_served_in_graphql(client: TestClient) -> None:
    query = "{ dataProduct(id: %s) { outputPorts { name datasets { namespace name qualifiedName } } } }"
    ports = client.post("/graphql", json={"query": query % json.dumps(HCP_360)}).json()["data"]["dataProduct"]
    published = {p["name"]: p["datasets"] for p in ports["outputPorts"]}
    assert published["HCP 360 API"] == [
        {
            "namespace": "postgres://warehouse.roche.example:5432",
            "name": "commercial.hcp360.profiles",
            "qualifiedName": "postgres://warehouse.roche.example:5432/commercial.hcp360.profiles",
        }
    ]
    assert published["HCP 360 dashboard"] == []


def test_the_observed_lineage_records_pass_the_checklist_and_dereference(client: TestClient) -> None:
    post(client, recent("hcp-360-run.json"))
    report = client.post("/graphql", json={"query": "{ validation { conforms results { focusNode message } } }"})
    validation = report.json()["data"]["validation"]
    assert validation["conforms"] is True
    assert not [r for r in validation["results"] if "observed-lineage" in r["focusNode"]]
    record = client.get("/data-product/hcp-360/observed-lineage", headers={"Accept": "text/turtle"})
    assert record.status_code == 200
    assert '"0192a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"' in record.text  # the last run's id, on its prov:Activity


def test_removing_a_product_removes_its_observed_lineage_and_keeps_its_runs(client: TestClient) -> None:
    nba = CAT + "data-product/next-best-action"
    event = json.loads(body("run-naming-an-unknown-product.json"))
    event["run"]["facets"]["valuemesh"]["dataProduct"] = nba
    assert post(client, json.dumps(event).encode()).json()["dataProducts"] == [nba]
    assert len(client.app.state.catalog.store.record(nba + "/observed-lineage"))  # type: ignore[attr-defined]
    removed = client.post(
        "/graphql", json={"query": "mutation($id: ID!) { removeDataProduct(id: $id) }", "variables": {"id": nba}}
    )
    assert removed.json()["data"] == {"removeDataProduct": nba}
    assert not len(client.app.state.catalog.store.record(nba + "/observed-lineage"))  # type: ignore[attr-defined]
    assert client.app.state.catalog.observed_lineage.runs.summary(nba).runs == 1  # type: ignore[attr-defined]


def test_the_data_quality_of_a_run_becomes_sli_points_of_the_products_slos(client: TestClient) -> None:
    # The run's assertions (2 of 3 passed) count for HCP 360's correctness SLO, its ending for its freshness SLO.
    events = json.loads(body("hcp-360-run.json"))
    now = datetime.now(UTC)
    for at, event in zip((now - timedelta(minutes=20), now - timedelta(minutes=5)), events, strict=True):
        event["eventTime"] = at.isoformat().replace("+00:00", "Z")
    answer = post(client, json.dumps(events).encode())
    assert answer.status_code == 201, answer.text
    assert answer.json()["measurements"] == {"recorded": 2, "duplicates": 0}
    again = post(client, json.dumps(events).encode())
    assert again.json()["measurements"] == {"recorded": 0, "duplicates": 2}  # the same run, the same points
    question = "query ($id: ID!) { dataProduct(id: $id) { sloStatus { measurements } } }"
    statuses = client.post("/graphql", json={"query": question, "variables": {"id": HCP_360}}).json()["data"][
        "dataProduct"
    ]["sloStatus"]
    assert sum(status["measurements"] for status in statuses) == 2


def test_run_events_older_than_the_retention_are_let_go_and_the_summary_follows(
    seeded_store: Store, settings: Settings
) -> None:
    """`VALUEMESH_LINEAGE_RETENTION_DAYS`: an event older than it is acknowledged as expired and not kept; events
    stored earlier are let go once they pass it, and their product's observed lineage no longer counts them."""
    app = create_app(replace(settings, lineage_retention_days=3), store=seeded_store)
    with TestClient(app, base_url="http://localhost", headers=admin_token(app)) as client:
        observed_lineage = app.state.catalog.observed_lineage
        old = post(client, aged("hcp-360-run.json", days=10))
        assert old.status_code == 201, old.text
        assert (old.json()["stored"], old.json()["expired"]) == (0, 2)
        assert run_count(client) == 0
        observed_lineage.retention_days = 36500  # stored while within a longer retention...
        assert post(client, aged("hcp-360-run.json", days=10)).json()["stored"] == 2
        assert observed(client, HCP_360)[0]["runs"] == "1"
        observed_lineage.retention_days = 3  # ...then the next request lets them go
        fresh = post(client, recent("hcp-360-run.json"))
        assert (fresh.json()["stored"], fresh.json()["expired"]) == (2, 0)
        assert run_count(client) == 1  # the recent run alone
        observed_lineage.flush()
        assert observed(client, HCP_360)[0]["runs"] == "1"
