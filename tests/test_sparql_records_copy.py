"""`/sparql` over a remote SPARQL store answers from this replica's copy of the records (catalog/records_copy.py):
no caller, ADMIN included, reaches the service graphs the server holds (API token hashes, the change log), and the
copy follows writes, this replica's at once and another replica's as the change follower reads them."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

import pyoxigraph as ox
import pytest
from fastapi.testclient import TestClient
from rdflib import Literal, URIRef
from rdflib.namespace import RDFS

from server.identity.principal import Role
from server.settings import Settings
from server.store import Store, open_store
from server.store.base import CHANGES_GRAPH, SERVICE_PREFIX, TOKENS_GRAPH
from server.web.app import create_app
from tests.conftest import REMOTE_BACKENDS, configured_backends
from tests.test_access_requests import Catalog
from tests.test_restricted_records import sparql as answered

pytestmark = pytest.mark.parametrize("backend", list(REMOTE_BACKENDS), indirect=True)

BASE = "https://valuemesh.example/"
HCP_360 = BASE + "data-product/hcp-360"
LABEL = f"SELECT ?label WHERE {{ <{HCP_360}> <{RDFS.label}> ?label }}"
GRAPHS = "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"
SERVICE_TRIPLES = f"""SELECT ?s ?p ?o WHERE {{
    {{ ?s ?p ?o }} UNION {{ GRAPH ?g {{ ?s ?p ?o }} }}
    FILTER (STRSTARTS(STR(?s), "{SERVICE_PREFIX}") || STRSTARTS(STR(?p), "{SERVICE_PREFIX}"))
}}"""
TOKENS = f"SELECT ?s WHERE {{ GRAPH <{TOKENS_GRAPH}> {{ ?s ?p ?o }} }}"


@pytest.fixture
def catalog(seeded_store: Store, settings: Settings) -> Iterator[Catalog]:
    with TestClient(create_app(settings, store=seeded_store), base_url="http://localhost") as client:
        catalog = Catalog(client.app, client, seeded_store)  # type: ignore[arg-type]
        catalog.person("outsider", "https://example.org/agent/web-team")
        catalog.person("admin", "https://example.org/agent/platform-team", roles=(Role.ADMIN,))
        yield catalog


def sparql(catalog: Catalog, query: str, who: str = "anonymous") -> list[dict[str, str]]:
    return answered(catalog, who, query)


def relabel(store: Store, label: str) -> None:
    """A write of HCP 360 with a new name, through a catalog's store."""
    record = store.record(HCP_360)
    record.set((URIRef(HCP_360), RDFS.label, Literal(label)))
    store.replace_records({HCP_360: list(record)})


def test_no_caller_reaches_the_service_graphs_the_server_holds(catalog: Catalog) -> None:
    relabel(catalog.app.state.catalog.store, "HCP 360 (renamed)")  # a change noted in the server's change log
    on_server = {str(row["g"]) for row in catalog.store.select(GRAPHS)}
    assert {TOKENS_GRAPH, CHANGES_GRAPH} <= on_server  # what the catalog keeps there for itself
    for who in ("anonymous", "outsider", "admin"):
        graphs = {row["g"] for row in sparql(catalog, GRAPHS, who)}
        assert graphs == set(catalog.store.record_iris()), who
        assert not sparql(catalog, TOKENS, who), who
        assert not sparql(catalog, SERVICE_TRIPLES, who), who
        assert sparql(catalog, LABEL, who) == [{"label": "HCP 360 (renamed)"}], who


def test_healthz_says_whether_the_copy_is_ready(catalog: Catalog) -> None:
    sparql(catalog, LABEL)  # answered: the copy is made
    assert catalog.client.get("/healthz").json()["sparql_records_copy"] == "ready"


def test_the_copy_follows_this_replicas_writes_at_once_and_another_replicas_soon(
    catalog: Catalog, settings: Settings, backend: str
) -> None:
    relabel(catalog.app.state.catalog.store, "Renamed here")
    assert sparql(catalog, LABEL) == [{"label": "Renamed here"}]  # this replica's write: the next question sees it

    other_store = open_store(configured_backends()[backend])
    try:
        with TestClient(create_app(settings, store=other_store), base_url="http://localhost") as other:
            relabel(other.app.state.catalog.store, "Renamed on another replica")
            deadline = time.monotonic() + 20
            while sparql(catalog, LABEL) != [{"label": "Renamed on another replica"}]:
                assert time.monotonic() < deadline, "another replica's write never reached this replica's SPARQL"
                time.sleep(0.2)
            other.app.state.catalog.store.replace_records({}, drop=[HCP_360])
            while sparql(catalog, LABEL):
                assert time.monotonic() < deadline, "another replica's removal never reached this replica's SPARQL"
                time.sleep(0.2)
    finally:
        other_store.close()


def test_the_copy_holds_exactly_the_records_of_the_server(catalog: Catalog) -> None:
    relabel(catalog.app.state.catalog.store, "Renamed once more")
    catalog.app.state.catalog.store.replace_records({}, drop=[BASE + "data-product/digital-engagement"])
    sparql(catalog, LABEL)  # the copy is made
    copy = catalog.app.state.catalog.records_copy()
    assert copy is not None

    def quads(nquads: bytes) -> set[tuple[str, ...]]:
        return {
            tuple(
                "_:b" if isinstance(t, ox.BlankNode) else str(t)
                for t in (q.graph_name, q.subject, q.predicate, q.object)
            )
            for q in ox.parse(nquads, ox.RdfFormat.N_QUADS)
        }

    on_server, copied = io.BytesIO(), io.BytesIO()
    catalog.store.dump(on_server, "application/n-quads")
    copy.current(wait_s=30).dump(copied, "application/n-quads")
    assert quads(copied.getvalue()) == quads(on_server.getvalue())
