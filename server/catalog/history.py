"""The history of every record: each write keeps what it replaced or removed, and who did it, when and how.

Every write of a record (server/catalog/writes.py, removal.py, bulk_load.py) adds one version of it, a PROV entity
in a service graph of its own (`urn:valuemesh:version:<order key>`), written in the same `replace_records` call as
the record itself, so the two commit together or not at all:

    <V3> a prov:Entity ; prov:specializationOf <record> ; vm:versionNumber 3 ;
         prov:generatedAtTime "..." ; prov:wasAttributedTo <agent> ; prov:wasGeneratedBy <V3#write> ;
         prov:wasRevisionOf <V2> .
    <V2> vm:snapshot "<the record as V3 found it, as sorted N-Triples>" .
    <V3#write> a prov:Activity ; vm:action "UPDATE" ; prov:startedAtTime "..." ; prov:wasAssociatedWith <agent> .

so a version's content is the snapshot the next version kept of it, or the live record for the newest one (none
for a removal). Only what a write replaces is copied: registering a product stores no copy at all. Old versions are
literals, never triples of their own, so nothing the catalog asks of its records (listing, lineage, validation,
SPARQL over the records) can meet them, and every `urn:valuemesh:` graph is a service graph no face lists or
exports. Each version is also the event of its write (server/catalog/events.py).

A record stored before history was kept (or loaded in bulk without it) gets, at its first recorded write, a version
1 without time or author holding what was stored; it can be restored and compared, but is not listed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

import pyoxigraph as ox
from rdflib import RDF, Graph, Literal, URIRef

from server.catalog.events import event_triples, now, order_key, parse_time, timestamp
from server.errors import BadInput, NotFound
from server.identity.principal import Principal
from server.namespaces import DPROD, FOAF, PROV, VM, sparql_prefixes
from server.sparql_text import iri_ref
from server.store.base import SERVICE_PREFIX, Store, Triple
from server.store.terms import serialize_triples, to_rdflib

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

VERSIONS = (
    sparql_prefixes()
    + """
SELECT ?record ?version ?n ?at ?agent ?name ?action WHERE {
  GRAPH ?g {
    ?version prov:specializationOf ?record ; vm:versionNumber ?n .
    OPTIONAL { ?version prov:generatedAtTime ?at ; prov:wasAttributedTo ?agent ; prov:wasGeneratedBy ?activity .
               ?activity vm:action ?action . OPTIONAL { ?activity vm:agentName ?name } }
  }
  FILTER (STRSTARTS(STR(?g), "urn:valuemesh:version:"))
}
ORDER BY DESC(?n)
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

SNAPSHOT = (
    sparql_prefixes()
    + """
SELECT ?version ?snapshot WHERE {
  GRAPH ?g { ?version vm:snapshot ?snapshot }
  FILTER (STRSTARTS(STR(?g), "urn:valuemesh:version:"))
}
"""
)

# Versions generated before a moment, with their record and whether they are its newest.
PRUNABLE = (
    sparql_prefixes()
    + """
SELECT ?version ?record ?n ?at ?before WHERE {
  GRAPH ?version { ?version prov:specializationOf ?record ; vm:versionNumber ?n ; prov:generatedAtTime ?at }
  FILTER (STRSTARTS(STR(?version), "urn:valuemesh:version:") && ?at < ?before)
}
"""
)

_CHUNK = 500


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
    before: Graph
    action: Action
    after: Graph | None = None  # None for a removal


def snapshot_text(triples: Iterable[Triple]) -> str:
    """A record as sorted N-Triples lines (stored records have no blank nodes, so this text is canonical)."""
    text = serialize_triples(list(triples), ox.RdfFormat.N_TRIPLES).decode()
    return "".join(sorted(line + "\n" for line in text.splitlines() if line.strip()))


def parse_snapshot(text: str) -> Graph:
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
    texts = sorted({iri_ref(iri) for iri in records})
    latest: dict[str, tuple[str, int]] = {}
    for start in range(0, len(texts), _CHUNK):
        query = LATEST_VERSIONS.replace("#RECORDS", " ".join(texts[start : start + _CHUNK]))
        for row in store.select(query):
            record, number = str(row["record"]), int(row["n"])  # type: ignore[call-overload]
            if record not in latest or number > latest[record][1]:
                latest[record] = (str(row["version"]), number)
    return latest


def version_graphs(
    store: Store, changes: list[Change], actor: Principal, at: datetime | None = None
) -> dict[str, list[Triple]]:
    """The version graph of each change, to be written in the same `replace_records` call as the change."""
    if not changes:
        return {}
    at = at or now()
    latest = latest_versions(store, [c.record for c in changes])
    graphs: dict[str, list[Triple]] = {}
    for sequence, change in enumerate(changes):
        order = order_key(at, sequence)
        iri = f"{VERSION_PREFIX}{order}"
        node, record = URIRef(iri), URIRef(change.record)
        activity = URIRef(f"{iri}#write")
        triples: list[Triple] = []
        previous = latest.get(change.record)
        if previous is None and len(change.before):
            # Stored before history was kept: it becomes version 1, without time or author.
            legacy = URIRef(f"{VERSION_PREFIX}{uuid.uuid4().hex}")
            triples += [
                (legacy, RDF.type, PROV.Entity),
                (legacy, PROV.specializationOf, record),
                (legacy, VM.versionNumber, Literal(1)),
            ]
            previous = (str(legacy), 1)
        number = previous[1] + 1 if previous is not None else 1
        if previous is not None:
            triples += [
                (node, PROV.wasRevisionOf, URIRef(previous[0])),
                (URIRef(previous[0]), VM.snapshot, Literal(snapshot_text(change.before))),
            ]
        triples += [
            (node, RDF.type, PROV.Entity),
            (node, PROV.specializationOf, record),
            (node, VM.versionNumber, Literal(number)),
            (node, PROV.wasGeneratedBy, activity),
            (activity, RDF.type, PROV.Activity),
            (activity, VM.action, Literal(change.action.value)),
            (activity, PROV.startedAtTime, timestamp(at)),
            (activity, PROV.wasAssociatedWith, URIRef(actor.id)),
            (activity, VM.agentName, Literal(actor.name)),
        ]
        kind = f"{record_kind(change.record, change.after, change.before)}.{EVENT_VERBS[change.action]}"
        data = {"version": number, "action": change.action.value}
        triples += event_triples(iri, kind, change.record, actor, at, order, data)
        graphs[iri] = triples
    return graphs


def versions(store: Store, record: str) -> list[RecordVersion]:
    """Every version of `record` the store keeps, newest first (including one stored before history)."""
    found = []
    for row in store.select(VERSIONS, {"record": URIRef(record)}):
        action = row["action"]
        found.append(
            RecordVersion(
                record=record,
                version=int(row["n"]),  # type: ignore[call-overload]
                iri=str(row["version"]),
                at=parse_time(row["at"]),
                by=str(row["agent"]) if row["agent"] is not None else None,
                by_name=str(row["name"]) if row["name"] is not None else None,
                action=Action(str(action)) if action is not None else None,
            )
        )
    return found


def history(store: Store, record: str) -> list[RecordVersion]:
    """The versions of `record` written since history is kept, newest first."""
    return [v for v in versions(store, record) if v.at is not None]


def _snapshot(store: Store, version: str) -> str | None:
    rows = store.select(SNAPSHOT, {"version": URIRef(version)}).rows
    return str(rows[0][1]) if rows else None


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
    """Drop the versions generated before `before`, except the newest of each record still stored; how many."""
    rows = store.select(PRUNABLE, {"before": timestamp(before)}).rows
    newest = latest_versions(store, {str(row[1]) for row in rows})
    live = set(store.record_iris())
    dropped = [
        str(version)
        for version, record, *_ in rows
        if not (str(record) in live and newest.get(str(record), ("", 0))[0] == str(version))
    ]
    for start in range(0, len(dropped), _CHUNK):
        store.replace_records({}, drop=dropped[start : start + _CHUNK])
    return len(dropped)


def is_version_graph(iri: str) -> bool:
    return iri.startswith(VERSION_PREFIX)


def refuse_service_names(records: Mapping[str, object]) -> None:
    """A record may not take the name of the catalog's own data (tokens, versions, events ...)."""
    for iri in records:
        if iri.startswith(SERVICE_PREFIX):
            raise BadInput(f"{iri}: IRIs starting with {SERVICE_PREFIX} name the catalog's own data, not records")
