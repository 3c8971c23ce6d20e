"""Webhooks: each event of the catalog (server/catalog/events.py) posted as JSON to every configured URL, in order.

One thread per URL, owned by the Catalog service and started with the server (`VALUEMESH_WEBHOOKS`): it reads the
events after its cursor, posts each one and moves its cursor past it, so a receiver sees events in the feed's
order. A write never waits for it: the write only wakes the thread. A delivery that fails (no answer, or any status
but 2xx) is tried again after `backoff_s`, doubling up to `MAX_BACKOFF_S`, for as long as it takes; the events
after it wait, so order holds. Delivery is at least once: the cursor is saved in the store's service data
(`urn:valuemesh:webhook:...`) after each delivered event, so a restart resends at most the one it was posting.
With no cursor saved yet, a URL starts at the newest event when the server starts (the past is in the feed).

Replicas sharing a SPARQL server take turns per URL (`Store.exclusive`, held while posting and let go while waiting
to retry), so each event is normally posted once; a thread with nothing new to send takes nothing.

Each request: `POST <url>`, `Content-Type: application/json`, the event as the feed serves it, and
`X-Valuemesh-Signature: sha256=<hex HMAC-SHA256 of the body with VALUEMESH_WEBHOOK_SECRET>`, `X-Valuemesh-Event:
<kind>`, `X-Valuemesh-Delivery: <event id>`. A receiver checks the signature over the raw body before it trusts it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

import httpx
from rdflib import Literal, URIRef

from server.catalog.events import Event, decode_cursor, event_count, events_after, latest_cursor
from server.errors import BadInput
from server.store.base import Store

log = logging.getLogger(__name__)

WEBHOOK_PREFIX = "urn:valuemesh:webhook:"
_CURSOR = URIRef("urn:valuemesh:webhook#cursor")
_URL = URIRef("urn:valuemesh:webhook#url")
MAX_BACKOFF_S = 300.0
# How often a thread looks for events other processes wrote (its own process wakes it at once).
POLL_S = 2.0
PAGE = 100
TIMEOUT_S = 10.0


def checked_urls(urls: Iterable[str]) -> list[str]:
    """The configured URLs, each an absolute http(s) URL (BadInput naming the first that is not)."""
    checked = []
    for url in urls:
        parts = httpx.URL(url) if "://" in url else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.host:
            raise BadInput(f"VALUEMESH_WEBHOOKS: {url!r} is not an http(s) URL")
        checked.append(url)
    return checked


def signature(secret: str, body: bytes) -> str:
    """The `X-Valuemesh-Signature` header's value for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def cursor_graph(url: str) -> str:
    return WEBHOOK_PREFIX + hashlib.sha256(url.encode()).hexdigest()[:32]


@dataclass
class _Receiver:
    url: str
    wake: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    retry_in: float | None = None  # while a delivery fails: the pause before the next try


class WebhookDispatcher:
    """See the module docstring. `store` is the store itself (the cursors are service data, past the index)."""

    def __init__(
        self,
        store: Store,
        urls: Iterable[str],
        secret: str,
        *,
        backoff_s: float = 1.0,
        poll_s: float = POLL_S,
    ) -> None:
        self.store = store
        self.secret = secret
        self.backoff_s = backoff_s
        self.poll_s = poll_s
        self.receivers = [_Receiver(url) for url in dict.fromkeys(urls)]
        self._stop = threading.Event()
        self._client = httpx.Client(timeout=TIMEOUT_S, follow_redirects=False, headers={"User-Agent": "valuemesh"})

    def start(self) -> None:
        """Give each new URL its starting cursor (now), then start delivering."""
        for receiver in self.receivers:
            if self._cursor(receiver.url) is None:
                self._save(receiver.url, latest_cursor(self.store))
            receiver.thread = threading.Thread(target=self._run, args=(receiver,), name="webhooks", daemon=True)
            receiver.thread.start()

    def wake(self) -> None:
        """New events were written: deliver them now rather than at the next poll."""
        for receiver in self.receivers:
            receiver.wake.set()

    def stop(self) -> None:
        self._stop.set()
        self.wake()
        for receiver in self.receivers:
            if receiver.thread is not None:
                receiver.thread.join(timeout=TIMEOUT_S + 5)
        self._client.close()

    # --- one receiver ------------------------------------------------------------------------------------

    def _run(self, receiver: _Receiver) -> None:
        while not self._stop.is_set():
            receiver.wake.clear()
            try:
                self._deliver_pending(receiver)
            except Exception as error:  # the store may be away: try again at the next poll
                log.warning("webhook %s: cannot read the events now (%s)", receiver.url, error)
            if receiver.retry_in is not None:
                self._stop.wait(receiver.retry_in)  # a failing receiver: new events do not hurry the retry
            else:
                receiver.wake.wait(self.poll_s)

    def _deliver_pending(self, receiver: _Receiver) -> None:
        """Post the events after the URL's cursor, in order, until one fails (then `retry_in` says when again)."""
        cursor = self._cursor(receiver.url)
        if cursor is not None and decode_cursor(cursor) >= event_count(self.store):
            return  # nothing new: no need to take the URL from other replicas
        with self.store.exclusive([f"webhook {receiver.url}"]):  # replicas take turns; the cursor read under it
            cursor = self._cursor(receiver.url)
            while not self._stop.is_set():
                page = events_after(self.store, cursor, PAGE)
                for event in page:
                    if not self._post(receiver, event):
                        return
                    cursor = event.cursor
                    self._save(receiver.url, cursor)
                if len(page) < PAGE:
                    return

    def _post(self, receiver: _Receiver, event: Event) -> bool:
        """Post `event` once; on a failure, set when to try again (doubling from `backoff_s`)."""
        body = json.dumps(event.as_json(), separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Valuemesh-Signature": signature(self.secret, body),
            "X-Valuemesh-Event": event.kind,
            "X-Valuemesh-Delivery": event.id,
        }
        try:
            response = self._client.post(receiver.url, content=body, headers=headers)
            if 200 <= response.status_code < 300:
                receiver.retry_in = None
                return True
            reason = f"it answered {response.status_code}"
        except httpx.HTTPError as error:
            reason = f"{type(error).__name__}: {error}"
        previous = receiver.retry_in
        receiver.retry_in = self.backoff_s if previous is None else min(previous * 2, MAX_BACKOFF_S)
        log.warning(
            "webhook %s: event %s not delivered (%s); again in %.3g s",
            receiver.url,
            event.id,
            reason,
            receiver.retry_in,
        )
        return False

    # --- cursors -----------------------------------------------------------------------------------------

    def _cursor(self, url: str) -> str | None:
        """The saved cursor, or None when none is saved."""
        graph = self.store.record(cursor_graph(url))
        value = graph.value(URIRef(cursor_graph(url)), _CURSOR)
        return None if value is None else str(value)

    def _save(self, url: str, cursor: str) -> None:
        node = URIRef(cursor_graph(url))
        self.store.replace_records({str(node): [(node, _URL, Literal(url)), (node, _CURSOR, Literal(cursor))]})
