"""Which statements a write may make: each record describes only its own nodes, never another record's.

This is the one rule every write path runs (GraphQL registration, `valuemesh register`, `valuemesh load`, typed
input): within a record, every statement is about the record's own nodes (`records.check_named_graph`); across
the batch, no node is described by two records; and against the catalog, no node the write describes is
described by a stored record the write does not replace. Without it, one extra line in a product document gave
another product a second owner.
"""

from __future__ import annotations

from collections.abc import Iterable

from rdflib import URIRef
from rdflib.term import Node

from server.catalog.records import Records, Triple, check_named_graph, foreign_statement, serves_a_product
from server.namespaces import sparql_prefixes
from server.sparql_text import iri_ref
from server.store.base import Store

# #PAIRS: (node, record) rows, #BATCH: the records being written, whose stored versions the write replaces.
# vm:servedBy statements are left out: a product's record may state them about a use case (records.py).
DESCRIBED_ELSEWHERE = (
    sparql_prefixes()
    + """
SELECT ?node ?g WHERE {
    VALUES (?node ?record) { #PAIRS }
    GRAPH ?g { ?node ?p ?o }
    FILTER (?g != ?record && ?p != vm:servedBy)
    FILTER NOT EXISTS { VALUES ?batchRecord { #BATCH } FILTER (?batchRecord = ?g) }
} LIMIT 1"""
)

# Rows per query: keeps the query text of a large load to a size every SPARQL server accepts.
_CHUNK = 500


def _described_nodes(records: Records) -> dict[Node, tuple[str, Triple]]:
    """Each node the batch describes, with its record and the first statement about it; refuses a statement a
    record may not hold and a node two records describe."""
    described: dict[Node, tuple[str, Triple]] = {}
    for iri, graph in sorted(records.items()):
        check_named_graph(graph, iri)
        for triple in sorted(graph):
            if serves_a_product(triple):
                continue
            first = described.setdefault(triple[0], (iri, triple))
            if first[0] != iri:
                raise foreign_statement(triple, iri, described_by=first[0])
    return described


def _iri_texts(iris: Iterable[str]) -> list[str]:
    texts = []
    for iri in iris:
        try:
            texts.append(iri_ref(iri))
        except ValueError:
            continue  # an IRI that cannot be stored names no stored record
    return texts


def _rows(described: dict[Node, tuple[str, Triple]]) -> list[tuple[str, Node]]:
    rows = []
    for node, (record, _) in described.items():
        if not isinstance(node, URIRef):
            continue
        try:
            rows.append((f"({iri_ref(str(node))} {iri_ref(record)})", node))
        except ValueError:
            continue  # an IRI that cannot be stored cannot be described by a stored record either
    return sorted(rows, key=lambda row: row[0])


def check_ownership(store: Store, records: Records) -> None:
    """Raise BadInput naming the first statement of `records` about a node that is not theirs to describe."""
    described = _described_nodes(records)
    if store.is_empty():
        return
    batch = " ".join(sorted(_iri_texts(records)))
    rows = _rows(described)
    for start in range(0, len(rows), _CHUNK):
        pairs = " ".join(text for text, _ in rows[start : start + _CHUNK])
        query = DESCRIBED_ELSEWHERE.replace("#PAIRS", pairs).replace("#BATCH", batch)
        found = store.select(query).rows
        if found and found[0][0] is not None:
            record, triple = described[found[0][0]]
            raise foreign_statement(triple, record, described_by=str(found[0][1]))
