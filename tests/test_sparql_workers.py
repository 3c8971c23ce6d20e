"""`/sparql` on the embedded store on disk: queries run in worker processes that are stopped at their limits.

What a user notices: a query that would sort or count a huge join gets a clear refusal instead of taking the server
down, the server keeps answering everyone else, and an answer always shows the catalog as last written.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rdflib import Literal, URIRef
from rdflib.namespace import RDFS

from server.settings import Settings
from server.store.oxigraph import OxigraphStore
from server.web.app import create_app

JSON = {"Accept": "application/sparql-results+json"}
Served = tuple[TestClient, OxigraphStore]
CROSS_JOIN = "{ ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


@pytest.fixture
def serve_on_disk(tmp_path: Path, seed_nquads: bytes) -> Iterator[Callable[..., Served]]:
    """The seeded catalog on disk behind the app, with the given settings."""
    opened: list[Served] = []

    def serve(**settings: Any) -> Served:
        store = OxigraphStore(tmp_path / "store")
        store.bulk_load(seed_nquads, "application/n-quads")
        app = create_app(Settings(store=str(tmp_path / "store"), seed=False, **settings), store=store)
        client = TestClient(app, base_url="http://localhost").__enter__()
        opened.append((client, store))
        return client, store

    yield serve
    for client, store in opened:
        client.__exit__(None, None, None)
        store.close()


def _count(client: TestClient) -> int:
    response = client.get("/sparql", params={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"}, headers=JSON)
    assert response.status_code == 200, response.text
    return int(response.json()["results"]["bindings"][0]["n"]["value"])


def test_a_query_that_sorts_a_huge_join_is_stopped_at_the_memory_limit(serve_on_disk: Callable[..., Served]) -> None:
    client, _ = serve_on_disk(sparql_timeout_s=60, sparql_max_memory_mb=300)
    response = client.get("/sparql", params={"query": f"SELECT * WHERE {CROSS_JOIN} ORDER BY ?i LIMIT 1"}, headers=JSON)
    assert response.status_code == 422, response.text
    assert "more than 300 MB of memory" in response.json()["detail"]
    assert client.get("/healthz").status_code == 200
    assert _count(client) > 0


def test_queries_past_the_time_limit_are_killed_and_never_keep_a_worker(serve_on_disk: Callable[..., Served]) -> None:
    client, _ = serve_on_disk(sparql_timeout_s=1.0)
    for _ in range(3):  # more than there are workers: each must really have stopped
        started = time.monotonic()
        response = client.get("/sparql", params={"query": f"SELECT (COUNT(*) AS ?n) WHERE {CROSS_JOIN}"})
        assert response.status_code == 503, response.text
        assert "time limit of 1 s" in response.json()["detail"]
        assert time.monotonic() - started < 1.0 + 2.5
    assert _count(client) > 0


def test_an_answer_shows_every_write_made_before_it(serve_on_disk: Callable[..., Served]) -> None:
    client, store = serve_on_disk()
    before = _count(client)
    record = "https://valuemesh.example/test/written-after-start"
    store.replace_records({record: [(URIRef(record), RDFS.label, Literal("written after start"))]})
    assert _count(client) == before + 1
    store.replace_records({}, drop=[record])
    assert _count(client) == before
