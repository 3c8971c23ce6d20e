"""Events: every state change of the catalog, in order, for the feed (`GET /api/v1/events`) and the webhooks.

An event is an entity in a service graph of its own: each version the history keeps (server/catalog/history.py) is
the event of its write (`data-product.registered`, `.changed`, `.removed`, `.restored`; other records as `domain.`,
`agent.`, `use-case.` ... `record.`), and any other state change is published with `record_event`:

    from server.catalog.events import event_graph, record_event

    # In the same transaction as the record it reports (preferred): add its graph to the write.
    store.replace_records({**records, **event_graph("access-request.requested", request_iri, actor, {"port": port})})
    # Or on its own, right after the write committed:
    record_event(store, "access-request.decided", request_iri, actor, {"approved": True})

`kind` is `<what>.<what happened>` in lower case; `subject` the IRI of the record concerned; `actor` the Principal
who caused it; `data` anything JSON can hold. Every event carries an order key, `<UTC time to the microsecond>-
<sequence in its write>-<random>`: the feed serves events by it and its cursor is that key (opaque to clients), so
replicas sharing a SPARQL server serve the same order and resume each other's cursors. On such a server a write
stamped by one replica may commit a moment after a later stamp of another, so there the feed holds back events
younger than `settle_s` (the Catalog service passes its setting).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from rdflib import RDF, Literal, URIRef
from rdflib.namespace import XSD

from server.errors import BadInput
from server.identity.principal import Principal
from server.namespaces import PROV, VM, sparql_prefixes
from server.store.base import Store, Triple

EVENT_PREFIX = "urn:valuemesh:event:"
_KIND = re.compile(r"^[a-z][a-z0-9-]*\.[a-z][a-z0-9-]*$")
_ORDER = re.compile(r"^\d{8}T\d{12}Z-\d{4}-[0-9a-f]{8}$")

# Every event-bearing graph: its entity (the graph's own IRI) states kind, subject, order, time and agent.
EVENTS_AFTER = (
    sparql_prefixes()
    + """
SELECT ?event ?order ?kind ?subject ?at ?agent ?name ?data ?after ?before WHERE {
  GRAPH ?event {
    ?event vm:eventOrder ?order ; vm:eventKind ?kind ; vm:eventSubject ?subject ; prov:generatedAtTime ?at ;
           prov:wasAttributedTo ?agent .
    OPTIONAL { ?event vm:agentName ?name }
    OPTIONAL { ?event vm:eventData ?data }
  }
  FILTER (?order > ?after && ?order < ?before)
}
ORDER BY ?order
LIMIT #LIMIT
"""
)

LATEST_ORDER = (
    sparql_prefixes() + "SELECT (MAX(?order) AS ?latest) WHERE { GRAPH ?event { ?event vm:eventOrder ?order } }"
)


@dataclass(frozen=True)
class Event:
    """One state change, as the feed and the webhooks send it."""

    id: str
    cursor: str
    kind: str
    subject: str
    at: str
    actor: str
    actor_name: str
    data: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "cursor": self.cursor,
            "kind": self.kind,
            "subject": self.subject,
            "at": self.at,
            "actor": {"id": self.actor, "name": self.actor_name},
            "data": self.data,
        }


def now() -> datetime:
    return datetime.now(UTC)


def iso(at: datetime) -> str:
    """ISO 8601 in UTC, to the microsecond: how every time of the history and the events is written."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def timestamp(at: datetime) -> Literal:
    """`at` as an xsd:dateTime literal."""
    return Literal(iso(at), datatype=XSD.dateTime)


def parse_time(node: object) -> datetime | None:
    """The time an xsd:dateTime literal holds (None for anything else)."""
    if not isinstance(node, Literal) or node.datatype != XSD.dateTime:
        return None
    value = datetime.fromisoformat(str(node).replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def order_key(at: datetime, sequence: int) -> str:
    """The key events are served by: time first, then the place in its write, then a random tie-break."""
    return f"{at.astimezone(UTC):%Y%m%dT%H%M%S%f}Z-{sequence:04d}-{secrets.token_hex(4)}"


def _moment_key(at: datetime) -> str:
    """The smallest order key of anything stamped at `at` or later."""
    return f"{at.astimezone(UTC):%Y%m%dT%H%M%S%f}Z"


def event_triples(
    entity: str, kind: str, subject: str, actor: Principal, at: datetime, order: str, data: Mapping[str, Any]
) -> list[Triple]:
    """What makes `entity` an event (history.py adds these to each version it keeps)."""
    if not _KIND.match(kind):
        raise ValueError(f"an event kind is `what.happened` in lower case, not {kind!r}")
    node = URIRef(entity)
    return [
        (node, RDF.type, VM.Event),
        (node, VM.eventKind, Literal(kind)),
        (node, VM.eventSubject, URIRef(subject)),
        (node, VM.eventOrder, Literal(order)),
        (node, PROV.generatedAtTime, timestamp(at)),
        (node, PROV.wasAttributedTo, URIRef(actor.id)),
        (node, VM.agentName, Literal(actor.name)),
        (node, VM.eventData, Literal(json.dumps(dict(data), sort_keys=True, separators=(",", ":")))),
    ]


def event_graph(
    kind: str,
    subject: str,
    actor: Principal,
    data: Mapping[str, Any] | None = None,
    *,
    at: datetime | None = None,
    sequence: int = 0,
) -> dict[str, list[Triple]]:
    """The graph of one event, to be written in the same `replace_records` call as the change it reports."""
    at = at or now()
    order = order_key(at, sequence)
    entity = f"{EVENT_PREFIX}{order}"
    return {entity: event_triples(entity, kind, subject, actor, at, order, data or {})}


def record_event(store: Store, kind: str, subject: str, actor: Principal, data: Mapping[str, Any] | None = None) -> str:
    """Publish one event on its own (prefer `event_graph` inside the write it reports); its IRI."""
    graph = event_graph(kind, subject, actor, data)
    store.replace_records(graph)
    return next(iter(graph))


def encode_cursor(order: str) -> str:
    return base64.urlsafe_b64encode(order.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The order key a cursor stands for; BadInput for anything the feed did not hand out."""
    try:
        order = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        order = ""
    if not _ORDER.match(order):
        raise BadInput(f"not an event cursor: {cursor!r}; use the `cursor` of an event the feed served")
    return order


def events_after(
    store: Store, cursor: str | None, limit: int, *, settle_s: float = 0.0, before: datetime | None = None
) -> list[Event]:
    """Up to `limit` events after `cursor` (None: from the first), oldest first; events younger than `settle_s`
    wait for a later call (see the module docstring)."""
    after = decode_cursor(cursor) if cursor else ""
    until = (before or now()) - timedelta(seconds=settle_s) if settle_s else None
    bindings = {"after": Literal(after), "before": Literal(_moment_key(until) if until else "~")}
    rows = store.select(EVENTS_AFTER.replace("#LIMIT", str(int(limit))), bindings)
    events = []
    for row in rows:
        try:
            data = json.loads(str(row["data"])) if row["data"] is not None else {}
        except json.JSONDecodeError:
            data = {}
        events.append(
            Event(
                id=str(row["event"]),
                cursor=encode_cursor(str(row["order"])),
                kind=str(row["kind"]),
                subject=str(row["subject"]),
                at=iso(parse_time(row["at"]) or now()),
                actor=str(row["agent"]),
                actor_name=str(row["name"]) if row["name"] is not None else str(row["agent"]),
                data=data if isinstance(data, dict) else {"value": data},
            )
        )
    return events


def latest_cursor(store: Store) -> str | None:
    """The cursor of the newest event stored (None when there is none)."""
    rows = store.select(LATEST_ORDER).rows
    latest = rows[0][0] if rows else None
    return encode_cursor(str(latest)) if latest is not None else None
