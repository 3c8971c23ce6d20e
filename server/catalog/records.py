"""How documents become records: one named graph per main node (product, domain, agent, source, goal, use case).

A product's ports, sharing agreement and SLOs live in the product's record, as do blank nodes hanging off any
record. A triple about a node that is no record of this document joins the record its object belongs to
(`<use-case> vm:servedBy <product>` inside a product's descriptor); anything else is refused rather than
guessed, because writing it as a record of its own would replace that node's stored record.
"""

from __future__ import annotations

from collections.abc import Iterable

from rdflib import RDF, BNode, Graph, URIRef
from rdflib.term import Node

from server.errors import BadInput
from server.namespaces import DPROD, FOAF, ODRL, PROV, VM
from server.rdf_io import RdfDocument

RECORD_TYPES: frozenset[URIRef] = frozenset(
    {
        DPROD.DataProduct,
        VM.Domain,
        PROV.Agent,
        PROV.Person,
        PROV.Organization,
        FOAF.Agent,
        VM.DataSource,
        VM.Goal,
        VM.Vision,
        VM.UseCase,
    }
)

# Properties whose object is part of the subject's record (a product owns its ports, agreement and SLOs).
OWNING_PROPERTIES: frozenset[URIRef] = frozenset(
    {DPROD.inputPort, DPROD.outputPort, ODRL.hasPolicy, VM.serviceLevelObjective}
)

Records = dict[str, Graph]


def main_nodes(graph: Graph) -> list[URIRef]:
    """The subjects of `graph` that are records of their own, by their type."""
    found = {s for s, o in graph.subject_objects(RDF.type) if o in RECORD_TYPES and isinstance(s, URIRef)}
    return sorted(found)


def _owners(graph: Graph, roots: list[URIRef]) -> dict[Node, URIRef]:
    """Map each node to the record it belongs to, walking owning properties and blank nodes from each root."""
    root_set = set(roots)
    owner: dict[Node, URIRef] = {root: root for root in roots}
    frontier: list[Node] = list(roots)
    while frontier:
        node = frontier.pop()
        for p, o in graph.predicate_objects(node):
            owned = p in OWNING_PROPERTIES or isinstance(o, BNode)
            if owned and o not in owner and o not in root_set:
                owner[o] = owner[node]
                frontier.append(o)
    return owner


def split_records(graph: Graph, source: str) -> Records:
    """Split a graph into records keyed by their main node's IRI."""
    roots = main_nodes(graph)
    owner = _owners(graph, roots)
    records: Records = {str(root): Graph(identifier=str(root)) for root in roots}
    orphans: set[Node] = set()
    for s, p, o in graph:
        record = owner.get(s)
        if record is None:
            record = owner.get(o) if isinstance(o, URIRef) else None
        if record is None:
            orphans.add(s)
            continue
        records[str(record)].add((s, p, o))
    if orphans:
        named = ", ".join(sorted(str(n) for n in orphans)[:5])
        raise BadInput(
            f"statements about {named} belong to no record: give each main node its type "
            "(dprod:DataProduct, vm:Domain, prov:Agent, vm:DataSource, vm:Goal, vm:UseCase) and attach ports, "
            "agreements and SLOs to their product",
            source=source,
        )
    return records


def records_of(document: RdfDocument) -> Records:
    """Records a document contains: its named graphs as they are, its other triples split by main node."""
    records = split_records(document.default, document.source) if len(document.default) else {}
    for iri, graph in document.named.items():
        if iri in records:
            records[iri] += graph
        else:
            records[iri] = graph
    return records


def merge_records(batches: Iterable[Records]) -> Records:
    """Merge records from several documents; a record described in two files is the union of both."""
    merged: Records = {}
    for batch in batches:
        for iri, graph in batch.items():
            if iri in merged:
                merged[iri] += graph
            else:
                merged[iri] = graph
    return merged
