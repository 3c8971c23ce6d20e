"""The history of every record: each write keeps what it replaced or removed, and who did it, when and how.

Every write of a record (server/catalog/writes.py, removal.py, bulk_load.py) adds one version of it, a PROV entity
in a service graph of its own (`urn:valuemesh:version:<time>-<n>-<random>`), and the write itself is a PROV
activity in one more (`urn:valuemesh:activity:...`, one per action of the write), all in the same `replace_records`
call as the records, so they commit together or not at all:

    <V3> prov:specializationOf <record> ; vm:versionNumber 3 ; prov:generatedAtTime "..." ;
         prov:wasAttributedTo <agent> ; prov:wasGeneratedBy <A> ; prov:wasRevisionOf <V2> ;
         vm:eventKind "data-product.changed" ; vm:eventNumber 1234 .
    <V2> vm:snapshot "<the record as V3 found it: sorted N-Triples, zlib, base64>"^^xsd:base64Binary .
    <A>  a prov:Activity ; vm:action "UPDATE" ; prov:startedAtTime "..." ; prov:wasAssociatedWith <agent> ;
         vm:agentName "ci-commercial" .

so a version's content is the snapshot the next version kept of it, or the live record for the newest one (none
for a removal). Only what a write replaces is copied: registering a product stores no copy at all, and a version
costs 7 triples (a bulk load of 18k records adds about 130k). Old versions are literals, never triples of their
own, so nothing the catalog asks of its records (listing, lineage, validation, SPARQL over the records) can meet
them, and every `urn:valuemesh:` graph is a service graph no face lists or exports. Each version is also the event
of its write (server/catalog/events.py).

A record stored before history was kept (or loaded in bulk without it) gets, at its first recorded write, a version
1 without time or author holding what was stored; it can be restored and compared, but is not listed.
"""

from __future__ import annotations

import base64
import binascii
import uuid
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

import pyoxigraph as ox
from rdflib import RDF, Graph, Literal, URIRef
from rdflib.namespace import XSD
from rdflib.term import Node

from server.catalog.events import EVENT_PREDICATES, first_names, names, now, parse_time, publish, timestamp
from server.errors import BadInput, NotFound, StoreUnavailable
from server.identity.principal import Principal
from server.namespaces import DPROD, FOAF, PROV, VM, sparql_prefixes
from server.sparql_text import iri_ref
from server.store.base import SERVICE_PREFIX, Store, Triple
from server.store.terms import serialize_triples, to_oxigraph, to_rdflib

VERSION_PREFIX = "urn:valuemesh:version:"

# The kind of record an event names, by the record's type (the record kinds of docs/model.md).
RECORD_KINDS: dict[URIRef, str] = {
    DPROD.DataProduct: "data-product",
    VM.Domain: "domain",
    PROV.Agent: "agent",
    PROV.Person: "agent",
    PROV.Organization: "agent",
    FOAF.Agent: "agent",
    VM.DataSource: "source",
    VM.Goal: "goal",
    VM.Vision: "goal",
    VM.UseCase: "use-case",
}


class Action(str, Enum):
    REGISTER = "REGISTER"
    UPDATE = "UPDATE"
    REMOVE = "REMOVE"
    RESTORE = "RESTORE"


# What each action is called in an event's kind.
EVENT_VERBS = {
    Action.REGISTER: "registered",
    Action.UPDATE: "changed",
    Action.REMOVE: "removed",
    Action.RESTORE: "restored",
}

# A record's versions, then who wrote them and how: two questions, each led by the record (as one, with the second
# part OPTIONAL, Oxigraph evaluated that part for every version of every record: 31 ms at 1k products, not 1).
VERSIONS = (
    sparql_prefixes()
    + """
SELECT ?record ?version ?n WHERE {
  GRAPH ?g { ?version prov:specializationOf ?record ; vm:versionNumber ?n }
  FILTER (STRSTARTS(STR(?g), "urn:valuemesh:version:"))
}
"""
)

WRITES = (
    sparql_prefixes()
    + """
SELECT ?record ?version ?at ?agent ?name ?action WHERE {
  GRAPH ?version {
    ?version prov:specializationOf ?record ; prov:generatedAtTime ?at ; prov:wasAttributedTo ?agent ;
             prov:wasGeneratedBy ?activity
  }
  GRAPH ?activity { ?activity vm:action ?action . OPTIONAL { ?activity vm:agentName ?name } }
  FILTER (STRSTARTS(STR(?version), "urn:valuemesh:version:"))
}
"""
)

LATEST_VERSIONS = (
    sparql_prefixes()
    + """
SELECT ?record ?version ?n WHERE {
  VALUES ?record { #RECORDS }
  GRAPH ?version { ?version prov:specializationOf ?record ; vm:versionNumber ?n }
  FILTER (STRSTARTS(STR(?version), "urn:valuemesh:version:"))
}
"""
)

ANY_VERSION = (
    sparql_prefixes()
    + """
ASK { GRAPH ?version { ?version prov:specializationOf ?record } FILTER (STRSTARTS(STR(?version), "urn:valuemesh:version:")) }
"""
)

SNAPSHOT = (
    sparql_prefixes()
    + """
SELECT ?version ?snapshot WHERE {
  GRAPH ?g { ?version vm:snapshot ?snapshot }
  FILTER (STRSTARTS(STR(?g), "urn:valuemesh:version:"))
}
"""
)

# Versions generated before a moment, with their record.
PRUNABLE = (
    sparql_prefixes()
    + """
SELECT ?version ?record ?before WHERE {
  GRAPH ?version { ?version prov:specializationOf ?record ; prov:generatedAtTime ?at }
  FILTER (STRSTARTS(STR(?version), "urn:valuemesh:version:") && ?at < ?before)
}
"""
)

# Writes none of whose versions is kept any more.
ORPHAN_ACTIVITIES = (
    sparql_prefixes()
    + """
SELECT ?activity WHERE {
  GRAPH ?activity { ?activity a prov:Activity }
  FILTER (STRSTARTS(STR(?activity), "urn:valuemesh:activity:"))
  FILTER NOT EXISTS { GRAPH ?version { ?version prov:wasGeneratedBy ?activity } }
}
"""
)

_CHUNK = 500

ACTIVITY_PREFIX = "urn:valuemesh:activity:"

_TYPE, _ACTIVITY, _ENTITY = RDF.type, PROV.Activity, PROV.Entity
_VERSION_OF, _NUMBER, _GENERATED_BY, _REVISION_OF = (
    PROV.specializationOf,
    VM.versionNumber,
    PROV.wasGeneratedBy,
    PROV.wasRevisionOf,
)
_ACTION, _SNAPSHOT, _STARTED, _ASSOCIATED, _NAME = (
    VM.action,
    VM.snapshot,
    PROV.startedAtTime,
    PROV.wasAssociatedWith,
    VM.agentName,
)


@dataclass(frozen=True)
class RecordVersion:
    """One version of a record as the history lists it (`at` None only for a version stored before history)."""

    record: str
    version: int
    iri: str
    at: datetime | None
    by: str | None
    by_name: str | None
    action: Action | None


@dataclass(frozen=True)
class Change:
    """What a write does to one record: `before` as stored (empty when it did not exist), and how."""

    record: str
    before: Graph | None  # None: the record was not stored (a registration, as an empty graph says too)
    action: Action
    after: Graph | None = None  # None for a removal
    kind: str | None = None  # what the record is (`record_kind`), when the caller knows it without the graphs


def snapshot_text(triples: Iterable[Triple]) -> str:
    """A record as sorted N-Triples lines (stored records have no blank nodes, so this text is canonical)."""
    text = serialize_triples(list(triples), ox.RdfFormat.N_TRIPLES).decode()
    return "".join(sorted(line + "\n" for line in text.splitlines() if line.strip()))


def snapshot(triples: Iterable[Triple]) -> Literal:
    """What a version keeps of a record: its N-Triples, zlib-compressed (about 6x smaller), as xsd:base64Binary."""
    packed = zlib.compress(snapshot_text(triples).encode(), 6)
    return Literal(base64.b64encode(packed).decode("ascii"), datatype=XSD.base64Binary)


def parse_snapshot(kept: Node) -> Graph:
    """A record from what `snapshot` kept (or from plain N-Triples)."""
    text = str(kept)
    if isinstance(kept, Literal) and kept.datatype == XSD.base64Binary:
        try:
            text = zlib.decompress(base64.b64decode(text)).decode()
        except (binascii.Error, zlib.error, UnicodeDecodeError) as error:
            raise StoreUnavailable(f"a stored version cannot be read back ({error})") from None
    graph = Graph()
    for triple in ox.parse(text.encode(), ox.RdfFormat.N_TRIPLES):
        graph.add((to_rdflib(triple.subject), to_rdflib(triple.predicate), to_rdflib(triple.object)))  # type: ignore[arg-type]
    return graph


def record_kind(iri: str, *graphs: Graph | None) -> str:
    """What a record is (`data-product`, `domain` ...), from its type in the first graph that states one."""
    node = URIRef(iri)
    for graph in graphs:
        if graph is None:
            continue
        for kind in graph.objects(node, RDF.type):
            if kind in RECORD_KINDS:
                return RECORD_KINDS[kind]  # type: ignore[index]
    return "record"


def latest_versions(store: Store, records: Iterable[str]) -> dict[str, tuple[str, int]]:
    """Each record's newest version (IRI, number), for those that have one."""
    wanted = set(records)
    latest: dict[str, tuple[str, int]] = {}
    # A load into a catalog without history (a migration: tens of thousands of records) would otherwise ask for
    # every record, a question per 500, and write each IRI into them: one question settles it for all.
    if len(wanted) > _CHUNK and not store.ask(ANY_VERSION):
        return latest
    texts = sorted(iri_ref(iri) for iri in wanted)
    for start in range(0, len(texts), _CHUNK):
        query = LATEST_VERSIONS.replace("#RECORDS", " ".join(texts[start : start + _CHUNK]))
        for row in store.select(query):
            record, number = str(row["record"]), int(row["n"])  # type: ignore[call-overload]
            if record not in latest or number > latest[record][1]:
                latest[record] = (str(row["version"]), number)
    return latest


@dataclass(frozen=True)
class VersionQuads:
    """The versions of one write and its activities as N-Quads (`text`), and the graphs they fill (`graphs`)."""

    text: bytes
    graphs: list[str]


def version_quads(
    store: Store, changes: list[Change], actor: Principal, first: int, at: datetime | None = None
) -> VersionQuads:
    """The version graph of each change, numbered as events from `first` on, and the write's activity graphs, to be
    written in the same write as the change (`events.publish`), as N-Quads. Written as text, term by term: a bulk
    load versions hundreds of thousands of records, and rdflib terms for them cost several times what the store
    takes to write them."""
    if not changes:
        return VersionQuads(b"", [])
    at = at or now()
    latest = latest_versions(store, [c.record for c in changes])
    # Terms shared by every version of the write, written once.
    stamp, agent, name = _text(timestamp(at)), _iri(actor.id), _text(Literal(actor.name))
    kinds: dict[str, str] = {}
    activities: dict[Action, str] = {}
    nothing_kept = ""  # what a version keeps of a record that did not exist (made when first needed)
    named, version_names = names(at), first_names(at, len(changes))
    lines: list[str] = []
    graphs: list[str] = []
    for sequence, change in enumerate(changes):
        iri = f"{VERSION_PREFIX}{version_names[sequence]}"
        node, record = f"<{iri}>", _iri(change.record)
        activity = activities.get(change.action)
        if activity is None:
            activity_iri = f"{ACTIVITY_PREFIX}{named(sequence)}"
            graphs.append(activity_iri)
            activity = activities[change.action] = f"<{activity_iri}>"
            lines.append(
                _ACTIVITY_LINES.format(
                    node=activity, action=_text(Literal(change.action.value)), at=stamp, agent=agent, name=name
                )
            )
        previous = latest.get(change.record)
        if previous is None and change.before is not None and len(change.before):
            # Stored before history was kept: it becomes version 1, without time or author.
            legacy = f"{VERSION_PREFIX}{uuid.uuid4().hex}"
            lines.append(_LEGACY_LINES.format(node=node, legacy=f"<{legacy}>", record=record))
            previous = (legacy, 1)
        if previous is not None:
            if change.before is not None and len(change.before):
                kept = _text(snapshot(change.before))
            else:
                kept = nothing_kept = nothing_kept or _text(snapshot(()))
            lines.append(_REVISION_LINES.format(node=node, earlier=_iri(previous[0]), kept=kept))
        kind = f"{change.kind or record_kind(change.record, change.after, change.before)}.{EVENT_VERBS[change.action]}"
        lines.append(
            _VERSION_LINES.format(
                node=node,
                record=record,
                number=_integer(previous[1] + 1 if previous is not None else 1),
                activity=activity,
                event=_integer(first + sequence),
                kind=kinds.get(kind) or kinds.setdefault(kind, _text(Literal(kind))),
                at=stamp,
                agent=agent,
            )
        )
        graphs.append(iri)
    return VersionQuads("".join(lines).encode(), graphs)


def version_graphs(
    store: Store, changes: list[Change], actor: Principal, first: int, at: datetime | None = None
) -> dict[str, list[Triple]]:
    """`version_quads` as triples by graph, for a write that goes through `Store.replace_records`."""
    written = version_quads(store, changes, actor, first, at)
    graphs: dict[str, list[Triple]] = {iri: [] for iri in written.graphs}
    for quad in ox.parse(written.text, ox.RdfFormat.N_QUADS):
        graph = quad.graph_name
        assert isinstance(graph, ox.NamedNode)
        graphs[graph.value].append((to_rdflib(quad.subject), to_rdflib(quad.predicate), to_rdflib(quad.object)))  # type: ignore[arg-type]
    return graphs


def _text(term: Node) -> str:
    """A term as N-Quads writes it (Oxigraph's own text of it)."""
    return str(to_oxigraph(term))


def _iri(iri: str) -> str:
    return str(ox.NamedNode(iri))


def _integer(value: int) -> str:
    return f'"{value}"^^{_INTEGER_TYPE}'


_INTEGER_TYPE = f"<{XSD.integer}>"  # looking a term up in an rdflib namespace makes it anew each time


def _lines(*statements: tuple[str, Node, str]) -> str:
    """A template of N-Quads lines in the graph `{node}`: (subject, predicate, object) with `{field}`s."""
    return "".join(f"{s} {_text(p)} {o} {{node}} .\n" for s, p, o in statements)


# The statements of a version (see the module docstring), each in the version's own graph.
_VERSION_LINES = _lines(
    ("{node}", _VERSION_OF, "{record}"),
    ("{node}", _NUMBER, "{number}"),
    ("{node}", _GENERATED_BY, "{activity}"),
    *(
        ("{node}", predicate, value)
        for predicate, value in zip(EVENT_PREDICATES, ("{event}", "{kind}", "{at}", "{agent}"), strict=True)
    ),
)
_REVISION_LINES = _lines(("{node}", _REVISION_OF, "{earlier}"), ("{earlier}", _SNAPSHOT, "{kept}"))
_LEGACY_LINES = _lines(
    ("{legacy}", _TYPE, _text(_ENTITY)), ("{legacy}", _VERSION_OF, "{record}"), ("{legacy}", _NUMBER, _integer(1))
)
_ACTIVITY_LINES = _lines(
    ("{node}", _TYPE, _text(_ACTIVITY)),
    ("{node}", _ACTION, "{action}"),
    ("{node}", _STARTED, "{at}"),
    ("{node}", _ASSOCIATED, "{agent}"),
    ("{node}", _NAME, "{name}"),
)


def versions(store: Store, record: str) -> list[RecordVersion]:
    """Every version of `record` the store keeps, newest first (including one stored before history)."""
    bound = {"record": URIRef(record)}
    writes = {str(row["version"]): row for row in store.select(WRITES, bound)}
    found = []
    for row in store.select(VERSIONS, bound):
        iri = str(row["version"])
        write = writes.get(iri, {})
        action = write.get("action")
        found.append(
            RecordVersion(
                record=record,
                version=int(row["n"]),  # type: ignore[call-overload]
                iri=iri,
                at=parse_time(write.get("at")),
                by=str(write["agent"]) if write.get("agent") is not None else None,
                by_name=str(write["name"]) if write.get("name") is not None else None,
                action=Action(str(action)) if action is not None else None,
            )
        )
    return sorted(found, key=lambda v: v.version, reverse=True)


def history(store: Store, record: str) -> list[RecordVersion]:
    """The versions of `record` written since history is kept, newest first."""
    return [v for v in versions(store, record) if v.at is not None]


def write_with_history(
    store: Store,
    records: Mapping[str, Iterable[Triple]],
    changes: list[Change],
    actor: Principal,
    drop: Iterable[str] = (),
) -> None:
    """Write `records` (dropping `drop`) with a version of each change, in one write; the caller holds the records'
    keys and `events.EVENTS_KEY` (writes.depends_on adds it)."""
    publish(store, records, lambda first: version_graphs(store, changes, actor, first), drop, held=True)


def _snapshot(store: Store, version: str) -> Node | None:
    rows = store.select(SNAPSHOT, {"version": URIRef(version)}).rows
    return rows[0][1] if rows else None


def content(store: Store, record: str, number: int, known: list[RecordVersion] | None = None) -> Graph:
    """The record as version `number` left it (empty for a removal); NotFound for a version the store lacks."""
    listed = known if known is not None else versions(store, record)
    by_number = {v.version: v for v in listed}
    chosen = by_number.get(number)
    if chosen is None:
        numbers = ", ".join(str(n) for n in sorted(by_number)) or "none"
        raise NotFound(f"{record} has no version {number} (versions kept: {numbers})")
    kept = _snapshot(store, chosen.iri)
    if kept is not None:
        return parse_snapshot(kept)
    if number == max(by_number):  # the newest: what is stored now (nothing after a removal)
        return Graph() if chosen.action is Action.REMOVE else store.record(record)
    raise NotFound(f"the content of version {number} of {record} was pruned")


@dataclass(frozen=True)
class Diff:
    older: int
    newer: int
    added: list[str]
    removed: list[str]


def diff(store: Store, record: str, newer: int, older: int | None = None) -> Diff:
    """The triples (N-Triples lines) version `newer` added and removed against `older` (default: the one before)."""
    listed = versions(store, record)
    older = newer - 1 if older is None else older
    if older >= newer:
        raise BadInput(f"compare an older version with a newer one: {older}..{newer} is not in order")
    after = set(snapshot_text(content(store, record, newer, listed)).splitlines())
    before = set() if older == 0 else set(snapshot_text(content(store, record, older, listed)).splitlines())
    return Diff(older, newer, sorted(after - before), sorted(before - after))


def prune(store: Store, before: datetime) -> int:
    """Drop the versions generated before `before`, except the newest of each record still stored (and the writes
    none of whose versions is left); how many versions."""
    rows = store.select(PRUNABLE, {"before": timestamp(before)}).rows
    newest = latest_versions(store, {str(row[1]) for row in rows})
    live = set(store.record_iris())
    dropped = [
        str(version)
        for version, record, _ in rows
        if not (str(record) in live and newest.get(str(record), ("", 0))[0] == str(version))
    ]
    for start in range(0, len(dropped), _CHUNK):
        store.replace_records({}, drop=dropped[start : start + _CHUNK])
    orphans = [str(row[0]) for row in store.select(ORPHAN_ACTIVITIES).rows]
    for start in range(0, len(orphans), _CHUNK):
        store.replace_records({}, drop=orphans[start : start + _CHUNK])
    return len(dropped)


def is_version_graph(iri: str) -> bool:
    return iri.startswith(VERSION_PREFIX)


def refuse_service_names(records: Mapping[str, object]) -> None:
    """A record may not take the name of the catalog's own data (tokens, versions, events ...)."""
    for iri in records:
        if iri.startswith(SERVICE_PREFIX):
            raise BadInput(f"{iri}: IRIs starting with {SERVICE_PREFIX} name the catalog's own data, not records")
