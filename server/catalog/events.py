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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from rdflib import RDF, Literal, URIRef
from rdflib.namespace import XSD
from rdflib.term import Node

from server.errors import BadInput
from server.identity.principal import Principal
from server.namespaces import PROV, VM, sparql_prefixes
from server.sparql_text import iri_ref
from server.store.base import Store, Triple

EVENT_PREFIX = "urn:valuemesh:event:"
_KIND = re.compile(r"^[a-z][a-z0-9-]*\.[a-z][a-z0-9-]*$")
_ORDER = re.compile(r"^\d{8}T\d{12}Z-\d{8}-[0-9a-f]{8}$")
_HOUR = "%Y%m%dT%H"

# A page of events: the order keys after the cursor, hour by hour (each event states the hour it was stamped in, so
# a poll reads the index entries of the last hours instead of scanning every event ever stored), then what those
# events say. An event of its own names its subject, agent name and data; a version of a record (history.py) names
# its record, and its number, action and agent name are read from it and its write.
PAGE = (
    sparql_prefixes()
    + """
SELECT ?event ?order WHERE {
  VALUES ?hour { #HOURS }
  GRAPH ?event { ?event vm:eventHour ?hour ; vm:eventOrder ?order }
  FILTER (?order > #AFTER && ?order < #BEFORE && STRSTARTS(STR(?event), "urn:valuemesh:"))
}
ORDER BY ?order
LIMIT #LIMIT
"""
)

FIRST_HOUR = (
    sparql_prefixes()
    + """SELECT (MIN(?hour) AS ?first) WHERE {
  GRAPH ?event { ?event vm:eventHour ?hour } FILTER (STRSTARTS(STR(?event), "urn:valuemesh:"))
}"""
)

# Hours asked per question when a cursor is far behind (a year of hours without events is 52 questions).
WINDOW_HOURS = 168
# Events stamped by a replica whose clock runs this far ahead of this one's are still found.
CLOCK_MARGIN = timedelta(hours=1)

# Everything the page's events state of themselves, read as it is (a query per field, even as OPTIONALs, cost
# several times more).
DETAILS = (
    sparql_prefixes()
    + """
SELECT ?event ?p ?o WHERE {
  VALUES ?event { #EVENTS }
  GRAPH ?event { ?event ?p ?o }
}
"""
)

WRITERS = (
    sparql_prefixes()
    + """
SELECT ?event ?action ?writer WHERE {
  VALUES ?event { #EVENTS }
  GRAPH ?event { ?event prov:wasGeneratedBy ?activity }
  GRAPH ?activity { ?activity vm:action ?action . OPTIONAL { ?activity vm:agentName ?writer } }
}
"""
)

LATEST_ORDER = (
    sparql_prefixes()
    + """SELECT (MAX(?order) AS ?latest) WHERE {
  GRAPH ?event { ?event vm:eventOrder ?order } FILTER (STRSTARTS(STR(?event), "urn:valuemesh:"))
}"""
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
    return order_keys(at)(sequence)


def order_keys(at: datetime) -> Callable[[int], str]:
    """`order_key` for many events of one write (the time is written once)."""
    moment = _moment_key(at)
    return lambda sequence: f"{moment}-{sequence:08d}-{secrets.token_hex(4)}"


def _moment_key(at: datetime) -> str:
    """The smallest order key of anything stamped at `at` or later."""
    return f"{at.astimezone(UTC):%Y%m%dT%H%M%S%f}Z"


# Terms built once: rdflib's are slow to make, and a bulk load stamps thousands of versions at a time.
_KIND_OF, _SUBJECT_OF, _ORDER_OF, _HOUR_OF, _DATA_OF = (
    VM.eventKind,
    VM.eventSubject,
    VM.eventOrder,
    VM.eventHour,
    VM.eventData,
)
_AT, _BY, _NAME = PROV.generatedAtTime, PROV.wasAttributedTo, VM.agentName
_RECORD, _NUMBER = PROV.specializationOf, VM.versionNumber  # what a version of a record (history.py) states


def check_kind(kind: str) -> str:
    if not _KIND.match(kind):
        raise ValueError(f"an event kind is `what.happened` in lower case, not {kind!r}")
    return kind


def hour_of(at: datetime) -> Literal:
    """The hour an event was stamped in, as the feed looks events up (`20261130T14`)."""
    return Literal(at.astimezone(UTC).strftime(_HOUR))


def event_triples(node: URIRef, kind: Literal, order: str, at: Literal, hour: Literal, actor: URIRef) -> list[Triple]:
    """What makes `node` an event: its kind, order key, time, hour and agent (history.py's versions carry them)."""
    return [
        (node, _KIND_OF, kind),
        (node, _ORDER_OF, Literal(order)),
        (node, _AT, at),
        (node, _HOUR_OF, hour),
        (node, _BY, actor),
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
    node = URIRef(f"{EVENT_PREFIX}{order}")
    triples = event_triples(node, Literal(check_kind(kind)), order, timestamp(at), hour_of(at), URIRef(actor.id))
    triples += [
        (node, RDF.type, VM.Event),
        (node, _SUBJECT_OF, URIRef(subject)),
        (node, _NAME, Literal(actor.name)),
        (node, _DATA_OF, Literal(json.dumps(dict(data or {}), sort_keys=True, separators=(",", ":")))),
    ]
    return {str(node): triples}


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
    page = _page(store, after, _moment_key(until) if until else "~", limit)
    if not page:
        return []
    listed = " ".join(iri_ref(event) for event, _ in page)
    stated: dict[str, dict[Node, Node]] = {}
    for node, predicate, value in store.select(DETAILS.replace("#EVENTS", listed)).rows:
        stated.setdefault(str(node), {})[predicate] = value  # type: ignore[index, assignment]
    writers = {str(row["event"]): row for row in store.select(WRITERS.replace("#EVENTS", listed))}
    events = []
    for event, order in page:
        fields, write = stated.get(event), writers.get(event)
        if fields is None or _KIND_OF not in fields:
            continue  # pruned between the two questions
        data: Any = {}
        name = fields.get(_NAME)
        if write is not None:
            data = {"version": int(fields[_NUMBER]), "action": str(write["action"])}  # type: ignore[call-overload]
            name = name if name is not None else write["writer"]
        elif _DATA_OF in fields:
            try:
                data = json.loads(str(fields[_DATA_OF]))
            except json.JSONDecodeError:
                data = {}
        subject = fields.get(_SUBJECT_OF, fields.get(_RECORD))
        events.append(
            Event(
                id=event,
                cursor=encode_cursor(order),
                kind=str(fields[_KIND_OF]),
                subject=str(subject),
                at=iso(parse_time(fields.get(_AT)) or now()),
                actor=str(fields.get(_BY)),
                actor_name=str(name) if name is not None else str(fields.get(_BY)),
                data=data if isinstance(data, dict) else {"value": data},
            )
        )
    return events


def _page(store: Store, after: str, before: str, limit: int) -> list[tuple[str, str]]:
    """(event, order key) of up to `limit` events with keys between `after` and `before`, in order."""
    if after:
        hour = datetime.strptime(after[:11], _HOUR).replace(tzinfo=UTC)
    else:
        rows = store.select(FIRST_HOUR).rows
        if not rows or rows[0][0] is None:
            return []
        hour = datetime.strptime(str(rows[0][0]), _HOUR).replace(tzinfo=UTC)
    last = now() + CLOCK_MARGIN
    page: list[tuple[str, str]] = []
    while hour <= last and len(page) < limit:
        hours = [hour + timedelta(hours=i) for i in range(WINDOW_HOURS)]
        # Written into the text: the hours are made here, the keys checked (decode_cursor) or made here.
        slots = {
            "#HOURS": " ".join(f'"{h.strftime(_HOUR)}"' for h in hours if h <= last),
            "#AFTER": f'"{page[-1][1] if page else after}"',
            "#BEFORE": f'"{before}"',
            "#LIMIT": str(int(limit - len(page))),
        }
        query = PAGE
        for slot, value in slots.items():
            query = query.replace(slot, value)
        page += [(str(event), str(order)) for event, order in store.select(query).rows]
        hour += timedelta(hours=WINDOW_HOURS)
    return page


def latest_cursor(store: Store) -> str | None:
    """The cursor of the newest event stored (None when there is none)."""
    rows = store.select(LATEST_ORDER).rows
    latest = rows[0][0] if rows else None
    return encode_cursor(str(latest)) if latest is not None else None
