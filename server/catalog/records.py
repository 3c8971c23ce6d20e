"""How documents become records: one named graph per main node (product, domain, agent, source, goal, use case,
access request).

A product's ports, sharing agreement and SLOs live in the product's record, as do blank nodes hanging off any
record. The one statement about a node outside a record that a record may hold is `<use-case> vm:servedBy
<product>` (a product saying which use case it serves); anything else about a node that is no record of the
document is refused, naming the statement, because storing it would rewrite what another record says.
Blank nodes are skolemised under their record's IRI (RDF 1.1 section 3.5), so every node the catalog stores can
be asked about by IRI, and each product carries a derived `vm:nameKey` for the uniqueness of names.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from rdflib import RDF, RDFS, BNode, Graph, Literal, URIRef
from rdflib.compare import isomorphic, to_canonical_graph
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
        VM.AccessRequest,
        VM.ObservedLineage,  # written by server/openlineage/ (a dump loads back as it was)
    }
)

# Properties whose object is part of the subject's record (a product owns its ports, agreement and SLOs).
OWNING_PROPERTIES: frozenset[URIRef] = frozenset(
    {DPROD.inputPort, DPROD.outputPort, ODRL.hasPolicy, VM.serviceLevelObjective}
)

Records = dict[str, Graph]

Triple = tuple[Node, Node, Node]

# Where a record's skolemised blank nodes live: `<record>/.well-known/genid/<id>`.
GENID = "/.well-known/genid/"


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


def statement_text(triple: Triple) -> str:
    """A statement as N-Triples would write it, for messages (a blank node shows as `[]`)."""
    return " ".join("[]" if isinstance(term, BNode) else term.n3() for term in triple)


def serves_a_product(triple: Triple) -> bool:
    """`<use-case> vm:servedBy <product>`: the one statement about another node a product's record may hold."""
    return triple[1] == VM.servedBy and isinstance(triple[2], URIRef)


def foreign_statement(
    triple: Triple, record: str, source: str | None = None, described_by: str | None = None
) -> BadInput:
    """The refusal of a statement the record `record` may not hold, naming the statement."""
    subject = "[]" if isinstance(triple[0], BNode) else triple[0].n3()
    whose = (
        f"which the record {described_by} describes"
        if described_by
        else f"which is not part of the record {record} nor of any other record the document describes"
    )
    return BadInput(
        f"the statement {statement_text(triple)} is about {subject}, {whose}; a document may only describe its "
        "own records (their ports, agreement, SLOs and blank nodes), and say which use cases a product serves "
        "with vm:servedBy",
        source=source,
    )


def split_records(graph: Graph, source: str) -> Records:
    """Split a graph into records keyed by their main node's IRI; a statement belonging to none is refused."""
    roots = main_nodes(graph)
    owner = _owners(graph, roots)
    records: Records = {str(root): Graph(identifier=str(root)) for root in roots}
    for s, p, o in sorted(graph):
        record = owner.get(s)
        if record is None and isinstance(s, URIRef) and GENID in s:
            record = owner.get(URIRef(s.split(GENID, 1)[0]))  # a blank node of a stored record, skolemised under it
        if record is None and serves_a_product((s, p, o)):
            record = owner.get(o)
        if record is None:
            raise BadInput(
                f"the statement {statement_text((s, p, o))} and any other about its subject belong to no record "
                "of this document: give each main node its type (dprod:DataProduct, vm:Domain, prov:Agent, "
                "vm:DataSource, vm:Goal, vm:UseCase) and attach ports, agreements and SLOs to their product; a "
                "document may not describe records it does not hold",
                source=source,
            )
        records[str(record)].add((s, p, o))
    return records


def owned_by(graph: Graph, record: str) -> set[Node]:
    """The nodes of `graph` that are part of `record`: its root, what it owns, blank nodes, skolemised ones."""
    owned = set(_owners(graph, [URIRef(record)]))
    owned.update(s for s in graph.subjects() if isinstance(s, BNode) or str(s).startswith(record + GENID))
    return owned


def check_named_graph(graph: Graph, record: str, source: str | None = None) -> None:
    """Refuse a statement the record named `record` may not hold (see the module's docstring)."""
    owned = owned_by(graph, record)
    for triple in sorted(graph):
        if triple[0] not in owned and not (serves_a_product(triple) and triple[2] in owned):
            raise foreign_statement(triple, record, source)


def records_of(document: RdfDocument) -> Records:
    """Records a document contains: its named graphs as they are, its other triples split by main node."""
    records = split_records(document.default, document.source) if len(document.default) else {}
    for iri, graph in sorted(document.named.items()):
        if _is_the_shipped_ontology(iri, graph):
            continue  # an exported catalog holds the ontology's graph; the catalog installs its own (seeding.py)
        check_named_graph(graph, iri, document.source)
        if iri in records:
            records[iri] += graph
        else:
            records[iri] = graph
    return normalised(records)


def _is_the_shipped_ontology(iri: str, graph: Graph) -> bool:
    from server.catalog.seeding import ONTOLOGY_GRAPH, shipped_ontology  # late: seeding writes through this module

    return iri == ONTOLOGY_GRAPH and isomorphic(graph, shipped_ontology())


def name_key(name: str) -> str:
    """What names are compared by: NFKC, case-folded, whitespace runs (no-break spaces too) as one space, trimmed."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def _skolemised(record: str, graph: Graph) -> Graph:
    """The record with each blank node replaced by `<record>/.well-known/genid/<id>`.

    The ids come from the graph's canonical labelling, so the same document gives the same IRIs every time and
    registering it again changes nothing.
    """
    canonical = to_canonical_graph(graph)

    def skolem(term: Node) -> Node:
        return URIRef(f"{record}{GENID}{term}") if isinstance(term, BNode) else term

    skolemised = Graph(identifier=record)
    for s, p, o in canonical:
        skolemised.add((skolem(s), p, skolem(o)))
    return skolemised


def _with_name_keys(record: str, graph: Graph) -> Graph:
    """A copy of the record with `vm:nameKey` derived from each product's name (a key the document gave is
    replaced: the name is the one source, the key only how it is compared)."""
    keyed = Graph(identifier=record)
    keyed += graph
    keyed.remove((None, VM.nameKey, None))
    for product in set(keyed.subjects(RDF.type, DPROD.DataProduct)):
        for name in keyed.objects(product, RDFS.label):
            keyed.add((product, VM.nameKey, Literal(name_key(str(name)))))
    return keyed


def normalised(records: Records) -> Records:
    """Records as they are stored and judged: blank nodes skolemised, name keys derived."""
    result: Records = {}
    for iri, graph in records.items():
        has_blank = any(isinstance(term, BNode) for triple in graph for term in triple)
        result[iri] = _with_name_keys(iri, _skolemised(iri, graph) if has_blank else graph)
    return result


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
