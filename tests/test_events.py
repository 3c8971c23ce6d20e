"""Events out: the feed `GET /api/v1/events` and webhooks posted to real receivers on loopback, signed, in order,
retried with backoff, never holding up the write that caused them, resumed after a restart without resending."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rdflib import RDFS, Literal, URIRef

from server.catalog.events import decode_cursor, event_count, event_graph, publish, record_event
from server.errors import BadInput
from server.identity.principal import SYSTEM
from server.settings import Settings
from server.store import Store
from server.web.app import create_app
from tests.conftest import DATA, admin_token, free_port

CAT = "https://valuemesh.example/"
TERRITORY_PLAN = CAT + "data-product/territory-plan"
PLAN = (DATA / "territory-plan.ttl").read_text()
CHANGED = PLAN.replace("from HCP 360.", "from HCP 360, weekly.")
SECRET = "a shared secret of the platform team"
ADMIN_AGENT = "https://example.org/agent/platform-team"

REGISTER = "mutation ($document: String!) { registerDataProduct(document: $document) { __typename } }"
REMOVE = "mutation ($id: ID!) { removeDataProduct(id: $id) }"
# How long a test waits for a delivery before it fails (a bound on a hang, not a timing requirement).
PATIENCE_S = 30.0


def post(client: TestClient, operation: str, **variables: Any) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": operation, "variables": variables})
    assert response.status_code == 200 and "errors" not in response.json(), response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def register_change_remove(client: TestClient) -> None:
    post(client, REGISTER, document=PLAN)
    post(client, REGISTER, document=CHANGED)
    post(client, REMOVE, id=TERRITORY_PLAN)


# --- the feed ------------------------------------------------------------------------------------------------


def test_the_feed_serves_each_write_in_order_and_pages_by_cursor(client: TestClient) -> None:
    register_change_remove(client)
    everything = client.get("/api/v1/events").json()
    kinds = [(e["kind"], e["subject"], e["data"]) for e in everything["events"]]
    assert kinds[-3:] == [
        ("data-product.registered", TERRITORY_PLAN, {"version": 1, "action": "REGISTER"}),
        ("data-product.changed", TERRITORY_PLAN, {"version": 2, "action": "UPDATE"}),
        ("data-product.removed", TERRITORY_PLAN, {"version": 3, "action": "REMOVE"}),
    ]
    assert {e["actor"]["id"] for e in everything["events"]} == {ADMIN_AGENT}
    assert {e["actor"]["name"] for e in everything["events"]} == {"test-admin"}
    assert everything["cursor"] == everything["events"][-1]["cursor"]

    paged, after = [], None
    while True:
        page = client.get("/api/v1/events", params={"limit": 2, **({"after": after} if after else {})}).json()
        if not page["events"]:
            assert page["cursor"] == after  # nothing new: the same cursor back
            break
        assert len(page["events"]) <= 2
        paged += page["events"]
        after = page["cursor"]
    assert paged == everything["events"]
    times = [e["at"] for e in paged]
    assert times == sorted(times)


def test_bad_cursors_and_limits_are_refused_with_problem_json(client: TestClient) -> None:
    for params in (
        {"after": "not-a-cursor"},
        {"after": "' } DROP ALL #"},
        {"limit": "0"},
        {"limit": "x"},
        {"limit": "100000"},
    ):
        response = client.get("/api/v1/events", params=params)
        assert response.status_code == 400, params
        assert response.headers["content-type"] == "application/problem+json"


def test_the_feed_needs_what_reads_need(seeded_store: Store, settings: Settings) -> None:
    app = create_app(replace(settings, read_access="authenticated"), store=seeded_store)
    with TestClient(app, base_url="http://localhost") as anonymous:
        assert anonymous.get("/api/v1/events").status_code == 401
        assert anonymous.get("/api/v1/events", headers=admin_token(app, "reader")).status_code == 200


def test_other_state_changes_are_published_with_their_records_or_on_their_own(client: TestClient) -> None:
    """What the access-request workflow uses: an event written in the same transaction as its record, or alone."""
    store = client.app.state.catalog.store  # type: ignore[attr-defined]
    request = CAT + "access-request/42"
    record = {request: [(URIRef(request), RDFS.label, Literal("access to HCP 360 for territory planning"))]}
    publish(
        store, record, lambda number: event_graph(number, "access-request.requested", request, SYSTEM, {"port": "p"})
    )
    record_event(store, "access-request.decided", request, SYSTEM, {"approved": True})
    events = client.get("/api/v1/events").json()["events"]
    assert [(e["kind"], e["subject"], e["data"]) for e in events[-2:]] == [
        ("access-request.requested", request, {"port": "p"}),
        ("access-request.decided", request, {"approved": True}),
    ]
    assert len(store.record(request)) == 1
    with pytest.raises(ValueError, match=r"what\.happened"):
        record_event(store, "Access Requested", request, SYSTEM, {})


def test_cursors_are_event_numbers_in_commit_order(client: TestClient) -> None:
    register_change_remove(client)
    store = client.app.state.catalog.store  # type: ignore[attr-defined]
    events = client.get("/api/v1/events").json()["events"]
    assert len(events) == event_count(store) == 3
    assert [decode_cursor(e["cursor"]) for e in events] == [1, 2, 3]


# --- webhooks --------------------------------------------------------------------------------------------------


@dataclass
class Receiver:
    """A real HTTP server on loopback that records every request; `answer` decides each response's status."""

    url: str
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    answer: Callable[[int], int] = lambda attempt: 200
    delivered: list[dict[str, Any]] = field(default_factory=list)

    def wait_for(self, count: int) -> list[dict[str, Any]]:
        deadline = time.monotonic() + PATIENCE_S
        while len(self.delivered) < count:
            assert time.monotonic() < deadline, f"{len(self.delivered)} of {count} events delivered"
            time.sleep(0.02)
        return self.delivered


@contextmanager
def receiving(answer: Callable[[int], int] = lambda attempt: 200) -> Iterator[Receiver]:
    port = free_port()
    receiver = Receiver(f"http://127.0.0.1:{port}/hooks/valuemesh", answer=answer)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                receiver.requests.append((dict(self.headers), body))
                attempt = len(receiver.requests)
            status = receiver.answer(attempt)
            if status == 200:
                receiver.delivered.append(json.loads(body))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def hooked(settings: Settings, *urls: str, backoff_s: float = 1.0) -> Settings:
    return replace(settings, webhooks=urls, webhook_secret=SECRET, webhook_backoff_s=backoff_s)


@contextmanager
def app_client(store: Store, settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings, store=store)
    with TestClient(app, base_url="http://localhost", headers=admin_token(app, f"admin-{free_port()}")) as client:
        yield client


def test_each_event_is_posted_in_order_and_signed(seeded_store: Store, settings: Settings) -> None:
    with receiving() as first, receiving() as second:
        with app_client(seeded_store, hooked(settings, first.url, second.url)) as client:
            register_change_remove(client)
            for receiver in (first, second):
                delivered = receiver.wait_for(3)
                assert [e["kind"] for e in delivered if e["subject"] == TERRITORY_PLAN] == [
                    "data-product.registered",
                    "data-product.changed",
                    "data-product.removed",
                ]
                assert [e["cursor"] for e in delivered] == sorted(e["cursor"] for e in delivered)
            feed = client.get("/api/v1/events").json()["events"]
        assert first.delivered == feed  # the same events, in the feed's order
        for headers, body in first.requests:
            expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            assert headers["X-Valuemesh-Signature"] == expected
            assert headers["Content-Type"] == "application/json"
            assert headers["X-Valuemesh-Event"] == json.loads(body)["kind"]
        forged = b'{"kind":"data-product.removed"}'
        assert "sha256=" + hmac.new(SECRET.encode(), forged, hashlib.sha256).hexdigest() not in {
            h["X-Valuemesh-Signature"] for h, _ in first.requests
        }


def test_a_receiver_failing_twice_gets_the_event_on_the_third_try_and_order_holds(
    seeded_store: Store, settings: Settings
) -> None:
    with (
        receiving(answer=lambda attempt: 500 if attempt <= 2 else 200) as receiver,
        app_client(seeded_store, hooked(settings, receiver.url, backoff_s=0.01)) as client,
    ):
        post(client, REGISTER, document=PLAN)
        post(client, REGISTER, document=CHANGED)
        delivered = receiver.wait_for(2)
    assert [e["kind"] for e in delivered] == ["data-product.registered", "data-product.changed"]
    bodies = [json.loads(body)["kind"] for _, body in receiver.requests]
    assert bodies == ["data-product.registered"] * 3 + ["data-product.changed"]


def test_the_write_returns_before_the_receiver_has_taken_the_event(seeded_store: Store, settings: Settings) -> None:
    release = threading.Event()

    def blocking(attempt: int) -> int:
        release.wait(PATIENCE_S)
        return 200

    with receiving(answer=blocking) as receiver, app_client(seeded_store, hooked(settings, receiver.url)) as client:
        post(client, REGISTER, document=PLAN)  # returns while the receiver holds the delivery
        assert receiver.delivered == []
        assert post(client, "query ($id: ID!) { dataProduct(id: $id) { id } }", id=TERRITORY_PLAN)["dataProduct"]
        release.set()
        assert [e["kind"] for e in receiver.wait_for(1)] == ["data-product.registered"]


def test_a_restart_resumes_after_the_last_delivered_event(seeded_store: Store, settings: Settings) -> None:
    with receiving() as receiver:
        configured = hooked(settings, receiver.url)
        with app_client(seeded_store, configured) as client:
            post(client, REGISTER, document=PLAN)
            receiver.wait_for(1)
        # Written while no server runs: delivered by the next one, and nothing is sent twice.
        record_event(seeded_store, "access-request.requested", CAT + "access-request/1", SYSTEM, {})
        with app_client(seeded_store, configured) as client:
            post(client, REGISTER, document=CHANGED)
            delivered = receiver.wait_for(3)
    assert [e["kind"] for e in delivered] == [
        "data-product.registered",
        "access-request.requested",
        "data-product.changed",
    ]
    assert len(receiver.requests) == 3


def test_a_new_webhook_starts_with_the_events_after_the_server_starts(seeded_store: Store, settings: Settings) -> None:
    with app_client(seeded_store, settings) as client:
        post(client, REGISTER, document=PLAN)  # before the webhook was configured
    with receiving() as receiver, app_client(seeded_store, hooked(settings, receiver.url)) as client:
        post(client, REGISTER, document=CHANGED)
        assert [e["kind"] for e in receiver.wait_for(1)] == ["data-product.changed"]


@pytest.mark.parametrize(
    ("urls", "secret", "message"),
    [
        (("http://127.0.0.1:9/hook",), None, "VALUEMESH_WEBHOOK_SECRET"),
        (("ftp://example.org/hook",), SECRET, r"not an http\(s\) URL"),
        (("example.org/hook",), SECRET, r"not an http\(s\) URL"),
    ],
)
def test_webhooks_misconfigured_stop_the_server_from_starting(
    seeded_store: Store, settings: Settings, urls: tuple[str, ...], secret: str | None, message: str
) -> None:
    app = create_app(replace(settings, webhooks=urls, webhook_secret=secret), store=seeded_store)
    with pytest.raises(BadInput, match=message), TestClient(app, base_url="http://localhost"):
        pass


def test_the_readme_documents_the_event_kinds_and_headers() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for text in ("X-Valuemesh-Signature", "data-product.registered", "/api/v1/events", "record_event", "publish"):
        assert text in readme
