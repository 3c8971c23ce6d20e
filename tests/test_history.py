"""The history of every record: who wrote each version, when and how (GraphQL, CLI), what one version changed, going
back to a version (validated like any write), pruning, and old versions never showing as catalog data."""

from __future__ import annotations

import getpass
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from rdflib.compare import isomorphic

from server.catalog import products
from server.catalog.changes import ChangeLog
from server.catalog.events import events_after
from server.catalog.history import content, diff, versions
from server.catalog.lineage_index import LineageIndex
from server.catalog.records import records_of
from server.catalog.removal import remove_data_product
from server.catalog.service import IndexedStore
from server.catalog.writes import write_records
from server.identity.principal import SYSTEM, Role
from server.rdf_io import parse_rdf
from server.settings import Settings
from server.store import OxigraphStore, Store
from server.web.app import create_app
from tests.conftest import DATA, CliResult

CAT = "https://valuemesh.example/"
TERRITORY_PLAN = CAT + "data-product/territory-plan"
COMMERCIAL = CAT + "domain/commercial"
AGENT = "https://example.org/agent/commercial-pipeline"
DESCRIPTION = "<http://purl.org/dc/terms/description>"
PLAN = (DATA / "territory-plan.ttl").read_text()
OLD_DESCRIPTION = "Which HCPs each PJP plans to meet this quarter, from HCP 360."
NEW_DESCRIPTION = "Which HCPs each PJP plans to meet this quarter and next, from HCP 360."

REGISTER = """
mutation ($document: String!) {
  registerDataProduct(document: $document) {
    __typename ... on DataProduct { id } ... on RegistrationRefused { report { results { message } } }
  }
}"""
REMOVE = "mutation ($id: ID!) { removeDataProduct(id: $id) }"
HISTORY = "query ($id: ID!) { history(id: $id) { version at by { id name } action } }"
PRODUCT_HISTORY = "query ($id: ID!) { dataProduct(id: $id) { description history { version action by { id } } } }"


def post(client: TestClient, operation: str, **variables: Any) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": operation, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]  # type: ignore[no-any-return]


def pipeline_token(app: FastAPI) -> dict[str, str]:
    """A commercial team's pipeline: a domain member's API token, as `valuemesh token create` makes one."""
    secret, _ = app.state.catalog.identity.tokens.create(
        "ci-commercial", agent=AGENT, domains=[COMMERCIAL], roles=[Role.DOMAIN_MEMBER], expires_in=None
    )
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def disk_store(tmp_path: Path, seed_nquads: bytes) -> Iterator[OxigraphStore]:
    """The seeded catalog on disk, so the CLI can work on a copy of what the API wrote."""
    store = OxigraphStore(tmp_path / "catalog")
    store.bulk_load(seed_nquads, "application/n-quads")
    yield store
    store.close()


@pytest.fixture
def pipeline(disk_store: OxigraphStore, settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings, store=disk_store)
    with TestClient(app, base_url="http://localhost", headers=pipeline_token(app)) as client:
        yield client


def register_update_remove(client: TestClient) -> None:
    assert post(client, REGISTER, document=PLAN)["registerDataProduct"]["__typename"] == "DataProduct"
    changed = PLAN.replace(OLD_DESCRIPTION, NEW_DESCRIPTION)
    assert post(client, REGISTER, document=changed)["registerDataProduct"]["__typename"] == "DataProduct"
    assert post(client, REMOVE, id=TERRITORY_PLAN)["removeDataProduct"] == TERRITORY_PLAN


def copy_of(store: OxigraphStore, tmp_path: Path) -> str:
    """A copy of the store the API holds (RocksDB's lock keeps a second process out of the original)."""
    target = tmp_path / "copy"
    store.snapshot(target)
    return str(target)


def test_register_update_remove_through_graphql_leave_three_versions_by_the_token_agent(pipeline: TestClient) -> None:
    assert post(pipeline, REGISTER, document=PLAN)["registerDataProduct"]["__typename"] == "DataProduct"
    changed = PLAN.replace(OLD_DESCRIPTION, NEW_DESCRIPTION)
    post(pipeline, REGISTER, document=changed)
    live = post(pipeline, PRODUCT_HISTORY, id=TERRITORY_PLAN)["dataProduct"]
    assert live["description"] == NEW_DESCRIPTION
    assert [(v["version"], v["action"], v["by"]["id"]) for v in live["history"]] == [
        (2, "UPDATE", AGENT),
        (1, "REGISTER", AGENT),
    ]
    post(pipeline, REMOVE, id=TERRITORY_PLAN)

    history = post(pipeline, HISTORY, id=TERRITORY_PLAN)["history"]
    assert [(v["version"], v["action"]) for v in history] == [(3, "REMOVE"), (2, "UPDATE"), (1, "REGISTER")]
    assert {v["by"]["id"] for v in history} == {AGENT}
    assert {v["by"]["name"] for v in history} == {"ci-commercial"}  # no agent record names it: its token's name
    times = [v["at"] for v in history]
    assert times == sorted(times, reverse=True) and all(t.endswith("Z") and "T" in t for t in times)
    assert post(pipeline, PRODUCT_HISTORY, id=TERRITORY_PLAN)["dataProduct"] is None


@pytest.mark.all_backends
def test_every_store_keeps_the_history_of_a_product(client: TestClient) -> None:
    register_update_remove(client)
    history = post(client, HISTORY, id=TERRITORY_PLAN)["history"]
    assert [(v["version"], v["action"], v["by"]["name"]) for v in history] == [
        (3, "REMOVE", "test-admin"),
        (2, "UPDATE", "test-admin"),
        (1, "REGISTER", "test-admin"),
    ]
    events = client.get("/api/v1/events").json()["events"]
    assert [e["kind"] for e in events if e["subject"] == TERRITORY_PLAN] == [
        "data-product.registered",
        "data-product.changed",
        "data-product.removed",
    ]
    listing = post(client, "{ dataProducts(first: 500) { edges { node { id } } } }")["dataProducts"]["edges"]
    assert not [e for e in listing if e["node"]["id"].startswith("urn:")]


def test_a_record_without_history_has_none_and_a_bad_id_is_bad_input(client: TestClient) -> None:
    assert post(client, HISTORY, id=CAT + "data-product/no-such-product")["history"] == []
    response = client.post("/graphql", json={"query": HISTORY, "variables": {"id": "not an iri"}})
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_INPUT"


def test_an_author_the_catalog_knows_is_named_as_the_catalog_names_them(client: TestClient) -> None:
    lead = CAT + "agent/field-force-excellence-lead"
    app = client.app
    secret, _ = app.state.catalog.identity.tokens.create(  # type: ignore[attr-defined]
        "ffe-lead-laptop", agent=lead, domains=[COMMERCIAL], roles=[Role.DOMAIN_MEMBER], expires_in=None
    )
    response = client.post(
        "/graphql",
        json={"query": REGISTER, "variables": {"document": PLAN}},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.json()["data"]["registerDataProduct"]["__typename"] == "DataProduct"
    history = post(client, HISTORY, id=TERRITORY_PLAN)["history"]
    assert history[0]["by"] == {"id": lead, "name": "Field Force Excellence Lead"}


def test_the_cli_lists_versions_and_diffs_show_the_changed_triple(
    pipeline: TestClient, disk_store: OxigraphStore, tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    register_update_remove(pipeline)
    location = copy_of(disk_store, tmp_path)

    listed = cli("history", TERRITORY_PLAN, "--store", location)
    assert listed.exit_code == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["VERSION", "AT", "ACTION", "BY"]
    assert [line.split()[0:3:2] for line in lines[1:]] == [["3", "REMOVE"], ["2", "UPDATE"], ["1", "REGISTER"]]
    assert all(f"ci-commercial <{AGENT}>" in line for line in lines[1:])

    changed = cli("history", TERRITORY_PLAN, "--diff", "2", "--store", location)
    assert changed.exit_code == 0, changed.stderr
    assert changed.stdout.splitlines() == [
        f'- <{TERRITORY_PLAN}> {DESCRIPTION} "{OLD_DESCRIPTION}" .',
        f'+ <{TERRITORY_PLAN}> {DESCRIPTION} "{NEW_DESCRIPTION}" .',
    ]
    removal = cli("history", TERRITORY_PLAN, "--diff", "3", "--store", location)
    assert removal.stdout and all(line.startswith("- ") for line in removal.stdout.splitlines())
    across = cli("history", TERRITORY_PLAN, "--diff", "1..2", "--store", location)
    assert across.stdout == changed.stdout

    for bad, message in (("9", "has no version 9"), ("2..1", "not in order"), ("two", "--diff takes")):
        refused = cli("history", TERRITORY_PLAN, "--diff", bad, "--store", location)
        assert refused.exit_code == 2 and message in refused.stderr


def test_restore_brings_a_removed_product_back_as_a_new_validated_write(
    pipeline: TestClient, disk_store: OxigraphStore, tmp_path: Path, cli: Callable[..., CliResult], settings: Settings
) -> None:
    register_update_remove(pipeline)
    location = copy_of(disk_store, tmp_path)

    refused = cli("restore", TERRITORY_PLAN, "--version", "3", "--store", location)
    assert refused.exit_code == 2 and "is its removal" in refused.stderr
    restored = cli("restore", TERRITORY_PLAN, "--version", "2", "--store", location)
    assert restored.exit_code == 0, restored.stderr
    assert "restored" in restored.stdout and "now version 4" in restored.stdout

    reopened = OxigraphStore(location)
    try:
        with TestClient(create_app(settings, store=reopened), base_url="http://localhost") as reader:
            product = post(reader, PRODUCT_HISTORY, id=TERRITORY_PLAN)["dataProduct"]
            lineage = post(
                reader,
                "query ($id: ID!) { lineage(id: $id) { nodes { node { ... on DataProduct { id } } } } }",
                id=TERRITORY_PLAN,
            )
    finally:
        reopened.close()
    assert product["description"] == NEW_DESCRIPTION
    assert (product["history"][0]["version"], product["history"][0]["action"]) == (4, "RESTORE")
    assert product["history"][0]["by"]["id"] == f"urn:valuemesh:agent:local:{getpass.getuser()}"
    assert {"id": CAT + "data-product/hcp-360"} in [hop["node"] for hop in lineage["lineage"]["nodes"]]


def test_a_restore_the_checklist_now_refuses_stores_nothing(
    pipeline: TestClient, disk_store: OxigraphStore, tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    post(pipeline, REGISTER, document=PLAN)
    renamed = PLAN.replace('"Territory plan"', '"Territory plan (old)"')
    post(pipeline, REGISTER, document=renamed)
    # Another product takes the name version 1 had, in the same domain: version 1 would now break "unique name".
    other = PLAN.replace("data-product/territory-plan", "data-product/territory-plan-2")
    other = other.replace("<use-case/next-best-action> vm:servedBy <data-product/territory-plan-2> .", "")
    assert post(pipeline, REGISTER, document=other)["registerDataProduct"]["__typename"] == "DataProduct"
    location = copy_of(disk_store, tmp_path)
    copy = OxigraphStore(location)
    before = dump(copy), len(versions(copy, TERRITORY_PLAN))
    copy.close()
    del copy

    refused = cli("restore", TERRITORY_PLAN, "--version", "1", "--store", location)
    assert refused.exit_code == 1, refused.stderr
    assert "name" in refused.stderr.lower() and "nothing was stored" in refused.stderr

    copy = OxigraphStore(location)
    try:
        assert (dump(copy), len(versions(copy, TERRITORY_PLAN))) == before
    finally:
        copy.close()


def dump(store: Store) -> bytes:
    out = io.BytesIO()
    store.dump(out, "application/n-quads")
    return b"\n".join(sorted(out.getvalue().splitlines()))


def test_old_versions_never_show_as_catalog_data(
    pipeline: TestClient, disk_store: OxigraphStore, tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    register_update_remove(pipeline)
    post(pipeline, REGISTER, document=PLAN)  # and back: versions 1-4 are kept, one product is live
    assert len(versions(disk_store, TERRITORY_PLAN)) == 4

    listing = post(pipeline, "{ dataProducts(first: 500) { totalCount edges { node { id } } } }")["dataProducts"]
    ids = [edge["node"]["id"] for edge in listing["edges"]]
    assert ids.count(TERRITORY_PLAN) == 1 and listing["totalCount"] == len(ids)
    assert not [i for i in ids if i.startswith("urn:")]

    query = "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s a <https://ekgf.github.io/dprod/DataProduct> } }"
    answer = pipeline.get("/sparql", params={"query": query}, headers={"Accept": "application/sparql-results+json"})
    graphs = [row["g"]["value"] for row in answer.json()["results"]["bindings"]]
    assert TERRITORY_PLAN in graphs and not [g for g in graphs if g.startswith("urn:valuemesh:")]
    count = "SELECT (COUNT(*) AS ?n) WHERE { ?p a <https://ekgf.github.io/dprod/DataProduct> ; <http://www.w3.org/2000/01/rdf-schema#label> ?l }"
    counted = pipeline.get("/sparql", params={"query": count}, headers={"Accept": "application/sparql-results+json"})
    assert int(counted.json()["results"]["bindings"][0]["n"]["value"]) == len(ids)

    report = post(pipeline, "{ validation { conforms results { focusNode } } }")["validation"]
    assert not [r for r in report["results"] if r["focusNode"].startswith("urn:valuemesh:")]

    page = pipeline.get("/data-product/territory-plan", headers={"Accept": "text/turtle"})
    assert page.status_code == 200 and "urn:valuemesh" not in page.text
    html = pipeline.get("/data-product/territory-plan", headers={"Accept": "text/html"})
    assert "urn:valuemesh" not in html.text

    location = copy_of(disk_store, tmp_path)
    for fmt in ("trig", "nquads", "turtle"):
        exported = cli("export", "--format", fmt, "--store", location)
        assert exported.exit_code == 0, exported.stderr
        assert TERRITORY_PLAN in exported.stdout and "urn:valuemesh" not in exported.stdout
    validated = cli("validate", "--store", location, "--format", "json")
    assert "urn:valuemesh" not in validated.stdout
    assert json.loads(validated.stdout)


def test_a_record_may_not_take_the_name_of_the_catalogs_own_data(client: TestClient) -> None:
    forged = PLAN.replace("<data-product/territory-plan>", "<urn:valuemesh:tokens>")
    response = client.post("/graphql", json={"query": REGISTER, "variables": {"document": forged}})
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_INPUT"
    assert "urn:valuemesh:" in response.json()["errors"][0]["message"]


def test_pruning_keeps_the_newest_version_of_each_stored_record(
    pipeline: TestClient, disk_store: OxigraphStore, tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    register_update_remove(pipeline)  # a removed product: all three versions go
    post(pipeline, REGISTER, document=PLAN.replace("territory-plan", "territory-plan-2"))
    post(pipeline, REGISTER, document=PLAN.replace("territory-plan", "territory-plan-2").replace(OLD_DESCRIPTION, "x"))
    location = copy_of(disk_store, tmp_path)

    pruned = cli("history", "prune", "--before", "2999-01-01", "--store", location)
    assert pruned.exit_code == 0, pruned.stderr
    assert "pruned 4 version(s)" in pruned.stderr
    listed = cli("history", CAT + "data-product/territory-plan-2", "--store", location)
    assert [line.split()[0] for line in listed.stdout.splitlines()[1:]] == ["2"]
    gone = cli("history", TERRITORY_PLAN, "--store", location)
    assert gone.stdout == "" and "no history" in gone.stderr
    assert cli("history", "prune", "--store", location).exit_code == 2
    assert cli("history", "prune", "--before", "last week", "--store", location).exit_code == 2


def test_each_version_is_an_event_of_its_write(pipeline: TestClient, disk_store: OxigraphStore) -> None:
    register_update_remove(pipeline)
    kinds = [(e.kind, e.subject, e.actor) for e in events_after(disk_store, None, 100)]
    assert kinds[-3:] == [
        ("data-product.registered", TERRITORY_PLAN, AGENT),
        ("data-product.changed", TERRITORY_PLAN, AGENT),
        ("data-product.removed", TERRITORY_PLAN, AGENT),
    ]


def test_the_lineage_index_and_the_change_log_hear_only_of_records(seeded_store: Store, settings: Settings) -> None:
    """Versions and events commit with the records but are none: the index lists what SPARQL lists, and replicas
    following the change log re-read records only."""
    index = LineageIndex(seeded_store)
    index.refresh()
    changes = ChangeLog(seeded_store)
    store = IndexedStore(seeded_store, index, changes)
    write_records(
        store, {TERRITORY_PLAN: records_of(parse_rdf(PLAN, ox.RdfFormat.TURTLE, "plan"))[TERRITORY_PLAN]}, actor=SYSTEM
    )
    remove_data_product(store, TERRITORY_PLAN, actor=SYSTEM)
    assert len(versions(seeded_store, TERRITORY_PLAN)) == 2
    noted = {record for _, record, _ in changes.since(None)}
    assert noted == {TERRITORY_PLAN}
    listed = index.products()
    assert listed is not None and TERRITORY_PLAN not in listed
    assert listed == products.page_of_products(seeded_store, first=10_000, listing=None).iris


def test_a_record_stored_before_history_was_kept_starts_at_version_two(client: TestClient, seeded_store: Store) -> None:
    """The seeded catalog here was loaded without history: its first recorded write keeps what was stored as an
    unlisted version 1, which can still be compared and restored."""
    hcp_360 = CAT + "data-product/hcp-360"
    stored = seeded_store.record(hcp_360)
    document = stored.serialize(format="turtle").replace("one view of every HCP", "one view of each HCP")
    assert "one view of each HCP" in document
    assert post(client, REGISTER, document=document)["registerDataProduct"]["__typename"] == "DataProduct"
    history = post(client, HISTORY, id=hcp_360)["history"]
    assert [(v["version"], v["action"]) for v in history] == [(2, "UPDATE")]
    change = diff(seeded_store, hcp_360, 2)
    assert len(change.added) == 1 and len(change.removed) == 1 and "one view of each HCP" in change.added[0]
    assert isomorphic(content(seeded_store, hcp_360, 1), stored)
