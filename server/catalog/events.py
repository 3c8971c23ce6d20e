"""Events: every state change of the catalog, numbered in commit order, for the feed and the webhooks.

An event is an entity in a service graph of its own: each version the history keeps (server/catalog/history.py) is
the event of its write (`data-product.registered`, `.changed`, `.removed`, `.restored`; other records as `domain.`,
`agent.`, `source.`, `goal.`, `use-case.`, else `record.`), and any other state change is published here:

    from server.catalog.events import event_graph, publish, record_event

    # In the same transaction as the records it reports (preferred):
    publish(store, records, lambda number: event_graph(number, "access-request.requested", request_iri, actor,
                                                       {"port": port_iri}))
    # Or on its own, once the change has committed:
    record_event(store, "access-request.decided", request_iri, actor, {"approved": True})

`kind` is `<what>.<what happened>` in lower case; `subject` the IRI of the record concerned; `actor` the Principal
who caused it; `data` anything JSON can hold.

Every event has a number, one more than the last: the counter (`urn:valuemesh:events`) is read and written in the
same transaction as the events, while `publish` holds it against other writers (this process's lock, and on a
shared SPARQL server the claim `EVENTS_KEY`). So numbers follow commit order on every replica, a write that fails
uses none, and the feed finds the events after a cursor by their numbers (an index lookup each) rather than by
scanning every event ever stored. Gaps appear only where old versions were pruned.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
COUNTER_GRAPH = "urn:valuemesh:events"
# What a write that publishes events holds on a shared server (writes.py adds it to the keys it claims).
EVENTS_KEY = "events"
_KIND = re.compile(r"^[a-z][a-z0-9-]*\.[a-z][a-z0-9-]*$")
# The counter is read and written by one publisher at a time in this process (other processes: EVENTS_KEY).
_counter_lock = threading.Lock()

COUNT = (
    sparql_prefixes()
    + f"SELECT ?count WHERE {{ GRAPH <{COUNTER_GRAPH}> {{ <{COUNTER_GRAPH}> vm:eventCount ?count }} }}"
)

# The events of a window of numbers: one index lookup per number.
NUMBERED = (
    sparql_prefixes()
    + """
SELECT ?event ?number WHERE {
  VALUES ?number { #NUMBERS }
  GRAPH ?event { ?event vm:eventNumber ?number }
  FILTER (STRSTARTS(STR(?event), "urn:valuemesh:"))
}
"""
)

# After a gap (pruned events) wider than a window: the next events by a scan of those that are left.
AFTER_GAP = (
    sparql_prefixes()
    + """
SELECT ?event ?number WHERE {
  GRAPH ?event { ?event vm:eventNumber ?number }
  FILTER (?number > #AFTER && STRSTARTS(STR(?event), "urn:valuemesh:"))
}
ORDER BY ?number
LIMIT #LIMIT
"""
)

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

# A version's action and the name its writer went by, from the write (history.py's activity).
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

# Numbers asked per window of the feed.
WINDOW = 1000

# Terms built once: rdflib's are slow to make, and a bulk load stamps thousands of versions at a time.
_KIND_OF, _SUBJECT_OF, _NUMBER_OF, _DATA_OF, _COUNT = (
    VM.eventKind,
    VM.eventSubject,
    VM.eventNumber,
    VM.eventData,
    VM.eventCount,
)
_AT, _BY, _NAME = PROV.generatedAtTime, PROV.wasAttributedTo, VM.agentName
# What an event states of itself, in the order of `event_triples`: its number, kind, time and agent.
EVENT_PREDICATES = (_NUMBER_OF, _KIND_OF, _AT, _BY)
_RECORD, _VERSION = PROV.specializationOf, VM.versionNumber  # what a version of a record (history.py) states


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


def integer(value: int) -> Literal:
    """An xsd:integer literal, made without rdflib's slower conversion of Python values; `str(int)` is already the
    canonical form, so rdflib's normalising (writing the value out again: half the cost) is skipped."""
    return Literal(str(int(value)), datatype=XSD.integer, normalize=False)


def parse_time(node: object) -> datetime | None:
    """The time an xsd:dateTime literal holds (None for anything else)."""
    if not isinstance(node, Literal) or node.datatype != XSD.dateTime:
        return None
    value = datetime.fromisoformat(str(node).replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def names(at: datetime) -> Callable[[int], str]:
    """Unique, time-ordered local names for the graphs of one write: `<UTC time>-<place in the write>-<random>`."""
    moment = _moment(at)
    return lambda sequence: f"{moment}-{sequence:08d}-{secrets.token_hex(4)}"


def first_names(at: datetime, count: int) -> list[str]:
    """`names(at)` of places 0 to `count - 1`, their random parts drawn at once rather than a draw each (a bulk load
    names hundreds of thousands of versions)."""
    moment, random = _moment(at), secrets.token_hex(4 * count)
    return [f"{moment}-{sequence:08d}-{random[8 * sequence : 8 * sequence + 8]}" for sequence in range(count)]


def _moment(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y%m%dT%H%M%S%f}Z"


def check_kind(kind: str) -> str:
    if not _KIND.match(kind):
        raise ValueError(f"an event kind is `what.happened` in lower case, not {kind!r}")
    return kind


def event_triples(node: URIRef, number: int, kind: Literal, at: Literal, actor: URIRef) -> list[Triple]:
    """What makes `node` an event: its number, kind, time and agent (history.py's versions carry them too)."""
    return [
        (node, predicate, value)
        for predicate, value in zip(EVENT_PREDICATES, (integer(number), kind, at, actor), strict=True)
    ]


def event_graph(
    number: int,
    kind: str,
    subject: str,
    actor: Principal,
    data: Mapping[str, Any] | None = None,
    *,
    at: datetime | None = None,
) -> dict[str, list[Triple]]:
    """The graph of one event numbered `number` (the number `publish` hands out)."""
    at = at or now()
    node = URIRef(f"{EVENT_PREFIX}{names(at)(0)}")
    triples = event_triples(node, number, Literal(check_kind(kind)), timestamp(at), URIRef(actor.id))
    triples += [
        (node, RDF.type, VM.Event),
        (node, _SUBJECT_OF, URIRef(subject)),
        (node, _NAME, Literal(actor.name)),
        (node, _DATA_OF, Literal(json.dumps(dict(data or {}), sort_keys=True, separators=(",", ":")))),
    ]
    return {str(node): triples}


def event_count(store: Store) -> int:
    """How many events were ever numbered (the last number)."""
    rows = store.select(COUNT).rows
    return int(str(rows[0][0])) if rows else 0


def counter_graph(count: int) -> dict[str, list[Triple]]:
    node = URIRef(COUNTER_GRAPH)
    return {COUNTER_GRAPH: [(node, _COUNT, integer(count))]}


def numbered_events(graphs: Mapping[str, Iterable[Triple]]) -> int:
    """How many event numbers `graphs` use."""
    return sum(1 for triples in graphs.values() for _, predicate, _ in triples if predicate == _NUMBER_OF)


@contextmanager
def numbering(store: Store, *, held: bool = False) -> Iterator[int]:
    """Hold the counter and give the first free number; the block writes its events with `counter_graph` of the
    last number it used, in one write. `held`: the caller already holds `EVENTS_KEY` (writes.py claims it with the
    rest of its keys); otherwise it is claimed here."""
    with _counter_lock, contextlib.nullcontext() if held else store.exclusive([EVENTS_KEY]):
        yield event_count(store) + 1


def publish(
    store: Store,
    records: Mapping[str, Iterable[Triple]],
    events: Callable[[int], Mapping[str, Iterable[Triple]]],
    drop: Iterable[str] = (),
    *,
    held: bool = False,
) -> None:
    """Write `records` (dropping `drop`) and the graphs `events(first number)` makes, numbered on from the counter,
    in one `replace_records` call (see `numbering` for `held`)."""
    with numbering(store, held=held) as first:
        graphs = dict(events(first))
        used = numbered_events(graphs)
        # The counter last: on a server that applies a write graph by graph, it moves only once its events are in.
        written = {**records, **graphs, **(counter_graph(first + used - 1) if used else {})}
        store.replace_records(written, drop)


def record_event(
    store: Store, kind: str, subject: str, actor: Principal, data: Mapping[str, Any] | None = None
) -> None:
    """Publish one event on its own, after the change it reports has committed (better: `publish` it with it)."""
    check_kind(kind)
    publish(store, {}, lambda number: event_graph(number, kind, subject, actor, data))


def encode_cursor(number: int) -> str:
    return base64.urlsafe_b64encode(f"event:{number}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The event number a cursor stands for; BadInput for anything the feed did not hand out."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    match = re.fullmatch(r"event:(\d{1,18})", text)
    if not match:
        raise BadInput(f"not an event cursor: {cursor!r}; use the `cursor` of an event the feed served")
    return int(match.group(1))


def events_after(store: Store, cursor: str | None, limit: int) -> list[Event]:
    """Up to `limit` events after `cursor` (None: from the first), in order."""
    after = decode_cursor(cursor) if cursor else 0
    page = _page(store, after, limit)
    if not page:
        return []
    listed = " ".join(iri_ref(event) for event, _ in page)
    stated: dict[str, dict[Node, Node]] = {}
    for node, predicate, value in store.select(DETAILS.replace("#EVENTS", listed)).rows:
        stated.setdefault(str(node), {})[predicate] = value  # type: ignore[index, assignment]
    writers = {str(row["event"]): row for row in store.select(WRITERS.replace("#EVENTS", listed))}
    return [_event(event, number, stated.get(event, {}), writers.get(event)) for event, number in page]


def _page(store: Store, after: int, limit: int) -> list[tuple[str, int]]:
    """(event, number) of up to `limit` events numbered after `after`, in order."""
    count = event_count(store)
    page: list[tuple[str, int]] = []
    start = after + 1
    while len(page) < limit and start <= count:
        end = min(start + max(limit, WINDOW) - 1, count)
        numbers = " ".join(str(n) for n in range(start, end + 1))
        rows = store.select(NUMBERED.replace("#NUMBERS", numbers)).rows
        found = sorted(((str(e), int(str(n))) for e, n in rows), key=lambda row: row[1])
        page += found[: limit - len(page)]
        if not found and end < count:  # a gap wider than a window: find where the events go on
            rest = AFTER_GAP.replace("#AFTER", str(end)).replace("#LIMIT", str(limit - len(page)))
            page += [(str(e), int(str(n))) for e, n in store.select(rest).rows]
            break
        start = end + 1
    return page


def _event(event: str, number: int, fields: dict[Node, Node], write: Mapping[str, Node | None] | None) -> Event:
    data: Any = {}
    name = fields.get(_NAME)
    if write is not None and _VERSION in fields:
        data = {"version": int(str(fields[_VERSION])), "action": str(write["action"])}
        name = name if name is not None else write["writer"]
    elif _DATA_OF in fields:
        try:
            data = json.loads(str(fields[_DATA_OF]))
        except json.JSONDecodeError:
            data = {}
    subject = fields.get(_SUBJECT_OF, fields.get(_RECORD))
    by = str(fields.get(_BY, ""))
    return Event(
        id=event,
        cursor=encode_cursor(number),
        kind=str(fields.get(_KIND_OF, "")),
        subject=str(subject or ""),
        at=iso(parse_time(fields.get(_AT)) or now()),
        actor=by,
        actor_name=str(name) if name is not None else by,
        data=data if isinstance(data, dict) else {"value": data},
    )


def latest_cursor(store: Store) -> str:
    """The cursor after which only new events come."""
    return encode_cursor(event_count(store))
