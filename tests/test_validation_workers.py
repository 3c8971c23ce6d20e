"""Whole-catalog validation on the embedded store on disk runs in a worker process, on a snapshot of the store.

What a user notices: the same report as before, the writes just made included, and a clear error when a
validation is stopped at a limit, while the server keeps answering everyone else.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from server.catalog.service import Catalog
from server.errors import LimitExceeded
from server.settings import Settings
from server.store.oxigraph import OxigraphStore
from server.validation import CatalogValidation, ValidationReport, checklist, validate_store
from server.web.app import create_app

Served = tuple[TestClient, OxigraphStore]
REPORT = "{ validation { conforms results { focusNode severity message } } }"
UNFINISHED_PRODUCT = "https://example.org/unfinished"
PRODUCTS = "SELECT ?p WHERE { GRAPH ?p { ?p a <https://ekgf.github.io/dprod/DataProduct> } }"


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


def _report(client: TestClient) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": REPORT})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]["validation"]  # type: ignore[no-any-return]


def _results(report: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(r["focusNode"], r["severity"], r["message"]) for r in report["results"]}


def test_validation_answers_from_a_worker_as_it_does_in_process(serve_on_disk: Callable[..., Served]) -> None:
    client, store = serve_on_disk()
    served = _report(client)
    here = validate_store(store)
    assert served["conforms"] == here.conforms
    assert _results(served) == {(r.focus_node, r.severity.upper(), r.message) for r in here.results}
    assert served["results"], "the seed has warnings: the comparison compares something"
    assert store.path is not None
    assert store.path.with_name("store.validation-snapshots").is_dir()  # it was answered on a snapshot


def test_validation_in_a_worker_sees_the_write_just_made(serve_on_disk: Callable[..., Served]) -> None:
    client, _ = serve_on_disk()
    assert UNFINISHED_PRODUCT not in {focus for focus, _, _ in _results(_report(client))}
    catalog: Catalog = client.app.state.catalog  # type: ignore[attr-defined]
    product = f"<{UNFINISHED_PRODUCT}>"
    catalog.store.update(
        f"INSERT DATA {{ GRAPH {product} {{ {product} a <https://ekgf.github.io/dprod/DataProduct> }} }}"
    )
    after = _report(client)
    assert not after["conforms"]
    assert any(focus == UNFINISHED_PRODUCT and severity == "VIOLATION" for focus, severity, _ in _results(after))


def test_a_validation_past_the_memory_limit_is_stopped_with_a_clear_error(
    serve_on_disk: Callable[..., Served],
) -> None:
    client, _ = serve_on_disk(validation_max_memory_mb=1)  # a worker holds more than that before it starts
    for _ in range(2):  # the killed worker is replaced: the next validation is answered (and stopped) too
        response = client.post("/graphql", json={"query": "{ validation { conforms } }"})
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "LIMIT_EXCEEDED"
        assert "validating the whole catalog needed more than 1 MB of memory" in error["message"]
    assert client.get("/healthz").status_code == 200
    one = client.post("/graphql", json={"query": '{ validation(ids: ["https://example.org/x"]) { conforms } }'})
    assert one.json()["data"]["validation"]["conforms"] is True  # chosen records are still validated here


class _TooSlowWorkers:
    """Workers whose every job outlives its time limit."""

    def run(self, job: CatalogValidation) -> ValidationReport:
        raise LimitExceeded("the query ran longer than the time limit", limit="time")

    def close(self) -> None:
        pass


def test_an_overlong_validation_is_refused_with_the_time_limit_named(tmp_path: Path) -> None:
    catalog = Catalog(Settings(store="memory", seed=False, validation_timeout_s=42)).open()
    try:
        catalog._validation_workers = _TooSlowWorkers()  # type: ignore[assignment]
        with pytest.raises(LimitExceeded) as refused:
            catalog.validate_catalog()
        assert refused.value.limit == "time"
        assert "validating the whole catalog took longer than the time limit of 42 s" in str(refused.value)
    finally:
        catalog.close()


def test_whole_catalog_validation_stays_in_process_without_a_store_on_disk() -> None:
    catalog = Catalog(Settings(store="memory", seed=True)).open()
    try:
        catalog.start_workers()  # nothing to snapshot: no workers
        assert catalog.validate_catalog().results == validate_store(catalog.store).results
    finally:
        catalog.close()


def test_checklist_verdicts_are_filled_ahead_in_the_worker_equal_to_checklist(
    serve_on_disk: Callable[..., Served],
) -> None:
    client, store = serve_on_disk()
    catalog: Catalog = client.app.state.catalog  # type: ignore[attr-defined]
    deadline = time.monotonic() + 120
    while client.get("/healthz").json()["checklists"] == "filling" and time.monotonic() < deadline:
        time.sleep(0.05)
    everyone = [str(row[0]) for row in store.select(PRODUCTS).rows]
    judged = catalog._judge_checklists(everyone, threading.Event())  # what the filler asks: in the worker
    assert judged is not None
    assert {iri: found.verdict for iri, found in judged.judged.items()} == checklist(store, everyone)
    assert judged.apart == 0  # every verdict derived from the whole-catalog validation, on a snapshot
    stopped = threading.Event()
    stopped.set()
    assert catalog._judge_checklists(everyone, stopped) is None  # a stopped fill: the worker answers nothing
    assert catalog.checklists.known() == checklist(store, everyone)  # what the filler kept
    assert store.path is not None
    assert store.path.with_name("store.validation-snapshots").is_dir()  # judged on a snapshot
