"""What a product's checklist verdict was judged from, and what a write touches: so that a write forgets only the
verdicts it can change (server/catalog/checklists.py).

Why it can be exact: `checklist` (server/validation.py) judges a product on a scratch store holding nothing but
its record and the neighbourhood fetched for it (server/governance/neighbourhood.py), plus one question about its
domain's regulated flag. Whatever the shapes in force ask, even in SHACL-SPARQL, they see only those facts. When
the shapes look no further than one step from a record (`Reach.beyond_one_step()` is false), every question of
the neighbourhood is a plain pattern (no negation over the data) keyed on the product's own IRIs and name key:

- statements about the nodes its record mentions but does not describe (its owner, domain, the ports and sources
  its input ports consume; the vocabulary: types, mechanisms, classifications) and about the product itself
  (its domain, read over every graph);
- `vm:servedBy` and `vm:consumes` statements pointing at a node its record describes;
- the products with the same name key, and the subclass statements of the types involved.

A statement can only change such an answer by being added or removed. An added one is seen in the write's new
triples: its subject is a node the verdict reads (`subjects`), or it points at one of the product's nodes
(`targets`), or it states one of its name keys (`keys`). A removed one was part of an answer, so it was stated in
a record the answer came from: those records (`records`) are asked for when the verdict is judged (which graphs
hold each answer's statements), and a write of one of them, rewritten or dropped, forgets the verdict. So the old
triples of a rewritten record, which the lineage index does not pass on, are not needed. Subclass statements
apply to every product: a write that states one, or rewrites a record that held one (the ontology's), forgets
every verdict. With shapes that look further (paths of several steps, nested shapes), what they reach is not
bounded here and any write forgets every verdict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from sys import intern

from rdflib import RDFS, Literal, URIRef
from rdflib.term import Node

from server.governance.shapes import Shapes
from server.namespaces import VM, sparql_prefixes
from server.sparql_text import iri_ref, string_literal
from server.store.base import Store, Triple
from server.validation import Checklist, judged_checklists

POINTING = frozenset({VM.servedBy, VM.consumes})
CHUNK = 2000  # values per question: keeps its text to a size every SPARQL server accepts

# Which graphs hold statements about these nodes (what DESCRIBE_NODES and REGULATED_PRODUCTS read).
STATED_IN = (
    sparql_prefixes()
    + """
SELECT DISTINCT ?node ?g WHERE { VALUES ?node { #NODES } GRAPH ?g { ?node ?p ?o } }"""
)

# Which graphs point at these nodes with vm:servedBy or vm:consumes (what SERVING_AND_CONSUMING reads).
POINTED_FROM = (
    sparql_prefixes()
    + """
SELECT DISTINCT ?node ?g WHERE {
    VALUES ?node { #NODES }
    { GRAPH ?g { ?x vm:servedBy ?node } } UNION { GRAPH ?g { ?x vm:consumes ?node } }
}"""
)

# Which graphs state these name keys (what SAME_NAME and NAMED_PRODUCTS read).
KEYED_IN = (
    sparql_prefixes()
    + """
SELECT DISTINCT ?key ?g WHERE { VALUES ?key { #KEYS } GRAPH ?g { ?x vm:nameKey ?key } }"""
)

# The graphs holding subclass statements (what SUPERCLASSES reads, for every product).
SUBCLASSES_IN = (
    sparql_prefixes()
    + """
SELECT DISTINCT ?g WHERE { GRAPH ?g { ?class rdfs:subClassOf ?super } }"""
)


@dataclass(frozen=True)
class Reads:
    """What one product's verdict was judged from (see the module docstring)."""

    records: tuple[str, ...]  # records whose statements it read: rewriting or dropping one may change it
    subjects: tuple[str, ...]  # nodes what is stated about which it read: a new statement about one may change it
    targets: tuple[str, ...]  # its own nodes: a new vm:servedBy / vm:consumes pointing at one may change it
    keys: tuple[str, ...]  # its name keys: a new statement of one may change it


@dataclass(frozen=True)
class Judged:
    """A product's verdict and what it was judged from."""

    verdict: Checklist
    reads: Reads


@dataclass(frozen=True)
class Judgement:
    """Verdicts of some products, and the records holding subclass statements, which every verdict reads."""

    judged: dict[str, Judged]
    subclass_records: frozenset[str]
    apart: int = 0  # of `judged`, how many a whole-catalog judgement judged product by product (checklist_catalog.py)


@dataclass
class Touch:
    """What one write touches: the records it rewrote or dropped, and what its new statements are about."""

    records: set[str] = field(default_factory=set)
    subjects: set[str] = field(default_factory=set)
    targets: set[str] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)
    everything: bool = False

    def changes(self, reads: Reads) -> bool:
        """Whether the write may change a verdict judged from `reads`."""
        return (
            self.everything
            or any(r in self.records for r in reads.records)
            or any(s in self.subjects for s in reads.subjects)
            or any(t in self.targets for t in reads.targets)
            or any(k in self.keys for k in reads.keys)
        )


def touch_of(records: Mapping[str, Iterable[Triple]], dropped: Iterable[str]) -> Touch:
    """What a write of `records` (their new triples) and a drop of `dropped` touch."""
    touch = Touch(records={*records, *dropped})
    for triples in records.values():
        for s, p, o in triples:
            if isinstance(s, URIRef):
                touch.subjects.add(str(s))
            if p in POINTING and isinstance(o, URIRef):
                touch.targets.add(str(o))
            elif p == VM.nameKey:
                touch.keys.add(str(o))
            elif p == RDFS.subClassOf:
                touch.everything = True
    return touch


def judge(store: Store, iris: Iterable[str], shapes: Shapes | None = None) -> Judgement:
    """The stored products' checklists (`checklist`'s verdicts; unknown IRIs left out), each with what it read."""
    verdicts, records, _ = judged_checklists(store, iris, shapes)
    if not verdicts:
        return Judgement({}, frozenset())
    described = {iri: _iris(graph.subjects()) for iri, graph in records.items()}
    mentioned = {iri: _iris(graph.objects()) - described[iri] | {iri} for iri, graph in records.items()}
    keys = {
        iri: {str(o) for o in graph.objects(None, VM.nameKey) if isinstance(o, Literal)}
        for iri, graph in records.items()
    }
    stated = _graphs(store, STATED_IN, "#NODES", {iri_ref(n) for ns in mentioned.values() for n in ns})
    pointed = _graphs(store, POINTED_FROM, "#NODES", {iri_ref(n) for ns in described.values() for n in ns})
    keyed = _graphs(store, KEYED_IN, "#KEYS", {string_literal(k) for ks in keys.values() for k in ks})
    judged = {}
    for iri, verdict in verdicts.items():
        read = {iri}
        for node in mentioned[iri]:
            read |= stated.get(node, set())
        for node in described[iri]:
            read |= pointed.get(node, set())
        for key in keys[iri]:
            read |= keyed.get(key, set())
        reads = Reads(tuple(read), tuple(mentioned[iri]), tuple(described[iri]), tuple(keys[iri]))
        judged[iri] = Judged(verdict, reads)
    subclass_records = frozenset(str(row[0]) for row in store.select(SUBCLASSES_IN).rows if row[0] is not None)
    return Judgement(judged, subclass_records)


def _iris(nodes: Iterable[Node]) -> set[str]:
    found = set()
    for node in nodes:
        if isinstance(node, URIRef):
            try:
                iri_ref(str(node))
            except ValueError:
                continue  # no stored statement can be about an IRI the store cannot hold
            found.add(intern(str(node)))  # one string per IRI however many verdicts read it
    return found


def _graphs(store: Store, query: str, slot: str, values: set[str]) -> dict[str, set[str]]:
    """node (or key) -> the graphs the query finds for it, asking about at most CHUNK values at once."""
    found: dict[str, set[str]] = {}
    listed = sorted(values)
    for start in range(0, len(listed), CHUNK):
        text = query.replace(slot, " ".join(listed[start : start + CHUNK]))
        for row in store.select(text).rows:
            if row[0] is not None and row[1] is not None:
                found.setdefault(str(row[0]), set()).add(intern(str(row[1])))
    return found
