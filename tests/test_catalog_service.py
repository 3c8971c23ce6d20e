"""The Catalog service under the faces: a slow question never holds up other clients, and writes reach the index."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest
from rdflib.term import Node

from server.catalog.service import Catalog
from server.settings import Settings
from server.store import MemoryStore
from server.store.base import SelectResult
from server.web.app import create_app
from tests.conftest import free_port, serving


class SlowStore(MemoryStore):
    """A store whose SELECT questions wait at a gate: a question that takes as long as the test wants."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.waiting = threading.Event()

    def select(self, query: str, bindings: Mapping[str, Node] | None = None) -> SelectResult:
        if threading.current_thread() is not threading.main_thread():
            self.waiting.set()
            self.gate.wait(timeout=20)
        return super().select(query, bindings)


@pytest.fixture
def slow_server(seed_nquads: bytes) -> Iterator[tuple[str, SlowStore]]:
    store = SlowStore()
    store.bulk_load(seed_nquads, "application/n-quads")
    port = free_port()
    app = create_app(Settings(store="memory:", seed=False, port=port), store=store)
    store.gate.set()
    app.state.catalog.index.refresh()  # built before the gate closes: only the question below waits
    store.gate.clear()
    with serving(app, port) as url:
        yield url, store
        store.gate.set()


def test_health_and_other_questions_answer_while_a_slow_graphql_question_runs(
    slow_server: tuple[str, SlowStore],
) -> None:
    url, store = slow_server
    answers: dict[str, Any] = {}

    def slow_question() -> None:
        answers["slow"] = httpx.post(f"{url}/graphql", json={"query": "{ domains { id } }"}, timeout=30)

    asking = threading.Thread(target=slow_question)
    asking.start()
    assert store.waiting.wait(timeout=10), "the GraphQL question never reached the store"
    health = httpx.get(f"{url}/healthz", timeout=5)
    lineage = httpx.post(
        f"{url}/graphql",
        json={"query": '{ lineage(id: "https://valuemesh.example/data-product/hcp-360") { nodes { depth } } }'},
        timeout=5,
    )
    # Both answered (within the client's timeout) while the first question still waits at the gate.
    assert health.status_code == 200
    assert "errors" not in lineage.json() and lineage.json()["data"]["lineage"]["nodes"]
    assert "slow" not in answers
    store.gate.set()
    asking.join(timeout=20)
    assert answers["slow"].json()["data"]["domains"]


def test_a_serving_catalog_keeps_its_index_out_of_the_garbage_collector(seed_nquads: bytes) -> None:
    store = MemoryStore()
    store.bulk_load(seed_nquads, "application/n-quads")
    catalog = Catalog(Settings(store="memory", seed=False), store).open()
    try:
        catalog.keep_long_lived()
        assert gc.get_freeze_count() > 0
        gc.unfreeze()
        assert catalog.index is not None
        catalog.index.store_changed(write=lambda: None)  # a change the index reads again whole
        catalog.index.refresh()
        assert gc.get_freeze_count() > 0  # the new build is kept out too
    finally:
        gc.unfreeze()  # the test process is no server: let it collect as usual
        catalog.close()
