"""What a write must be judged with: its records, the stored facts the shapes look at, and stored records it affects.

The shapes look one step beyond a product's own record: the types of its domain and owner (and whether the domain
is regulated), the other products with the same name in the same domain, what its input ports consume, the use
cases that serve it and the ports that consume its outputs. Each is a query keyed on the IRIs (or, for the
uniqueness of names, the names) the candidate records mention, so the work depends on the size of the write and
how many products share a name, never on the size of the catalog.
Stored versions of the records being written are left out: the candidates replace them.

A write can also break a stored record: replacing a product so that a port others consume disappears, or making a
domain regulated while some of its products have no privacy classification. Those stored records are validated
with the write ("dependents"), so the store only ever holds records that meet the checklist.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyoxigraph as ox
from rdflib import RDF, Graph, Literal, URIRef
from rdflib.term import Node

from server.governance.reach import Reach
from server.namespaces import DPROD, VM, sparql_prefixes
from server.sparql_text import iri_ref
from server.store.base import Store
from server.store.memory import MemoryStore
from server.store.terms import to_oxigraph

Records = dict[str, Graph]

# Slots filled with IRI lists written by iri_ref: #NODES (the IRIs asked about), #BATCH (the records being judged,
# whose stored versions must be ignored).
_NOT_IN_BATCH = "FILTER NOT EXISTS { VALUES ?batchRecord { #BATCH } FILTER (?batchRecord = ?g) }"

DESCRIBE_NODES = (
    sparql_prefixes()
    + """
CONSTRUCT { ?node ?p ?o } WHERE {
    VALUES ?node { #NODES }
    # One branch per predicate: with the predicates in a second VALUES, Oxigraph's plan is 20x slower.
    GRAPH ?g {
        { ?node rdf:type ?o BIND (rdf:type AS ?p) } UNION { ?node rdfs:label ?o BIND (rdfs:label AS ?p) }
        UNION { ?node vm:regulated ?o BIND (vm:regulated AS ?p) }
    }
    #NOT_IN_BATCH
}"""
)

SUPERCLASSES = (
    sparql_prefixes()
    + """
CONSTRUCT { ?class rdfs:subClassOf ?super } WHERE {
    VALUES ?type { #NODES }
    ?type rdfs:subClassOf* ?class .
    ?class rdfs:subClassOf ?super .
}"""
)

# Products with a given name key (records.name_key: names compared regardless of case, spacing, Unicode form):
# looked up by the key alone, so the work follows how many products share the name. (Asking for name and domain
# together lets the engine start from the domain, whose size grows with the catalog.)
SAME_NAME = (
    sparql_prefixes()
    + """
SELECT DISTINCT ?other ?name WHERE {
    GRAPH ?g { ?other vm:nameKey ?name }
    #NOT_IN_BATCH
}"""
)

NAMED_PRODUCTS = (
    sparql_prefixes()
    + """
CONSTRUCT { ?other a dprod:DataProduct ; rdfs:label ?name ; vm:nameKey ?key ; dprod:domain ?domain } WHERE {
    VALUES ?other { #NODES }
    GRAPH ?g { ?other a dprod:DataProduct ; rdfs:label ?name ; vm:nameKey ?key ; dprod:domain ?domain }
    #NOT_IN_BATCH
}"""
)

SERVING_AND_CONSUMING = (
    sparql_prefixes()
    + """
CONSTRUCT { ?useCase vm:servedBy ?node . ?input vm:consumes ?node } WHERE {
    VALUES ?node { #NODES }
    { GRAPH ?g { ?useCase vm:servedBy ?node } } UNION { GRAPH ?g { ?input vm:consumes ?node } }
    #NOT_IN_BATCH
}"""
)

# Records that point at a node which a replaced record no longer describes with the same types.
REFERRERS = (
    sparql_prefixes()
    + """
SELECT DISTINCT ?g WHERE {
    VALUES ?node { #NODES }
    GRAPH ?g { ?s ?p ?node }
    FILTER (?p IN (vm:consumes, dprod:dataProductOwner, dprod:domain, odrl:hasPolicy, dprod:outputPort,
                   vm:serviceLevelObjective))
    #NOT_IN_BATCH
}"""
)

UNCLASSIFIED_IN_DOMAINS = (
    sparql_prefixes()
    + """
SELECT DISTINCT ?g WHERE {
    VALUES ?domain { #NODES }
    GRAPH ?g { ?product dprod:domain ?domain ; a dprod:DataProduct
               FILTER NOT EXISTS { ?product vm:privacyClassification ?classification } }
    #NOT_IN_BATCH
}"""
)


# Everything stored about the nodes at the end of one tail of a chain of path steps that an organisation's shapes
# take from the records (server/governance/reach.py). One query per tail: as one UNION, Oxigraph's plan is several
# times slower than all of them one by one.
REACHED = """
CONSTRUCT { ?node ?p ?o } WHERE {
    VALUES ?start { #NODES }
    ?start #PATH ?node .
    GRAPH ?g { ?node ?p ?o }
    #NOT_IN_BATCH
}"""
DESCRIBED = """
CONSTRUCT { ?node ?p ?o } WHERE {
    VALUES ?node { #NODES }
    GRAPH ?g { ?node ?p ?o }
    #NOT_IN_BATCH
}"""


def _iri_list(nodes: Iterable[Node | str]) -> str:
    listed = []
    for node in nodes:
        try:
            listed.append(iri_ref(str(node)))
        except ValueError:
            continue  # an IRI that cannot be stored cannot be found in the store either
    return " ".join(sorted(set(listed)))


def _without_batch(query: str, batch: Iterable[str]) -> str:
    return query.replace("#NOT_IN_BATCH", _NOT_IN_BATCH).replace("#BATCH", _iri_list(batch))


def _fill(query: str, nodes: Iterable[Node | str], batch: Iterable[str]) -> str | None:
    """The query asking about `nodes` (None when there is nothing to ask), ignoring the batch's stored records."""
    # Only IRIs: a blank node (a str to rdflib too) is local to its document, so no stored fact is about it.
    node_list = _iri_list(n for n in nodes if isinstance(n, URIRef) or not isinstance(n, Node))
    return _without_batch(query, batch).replace("#NODES", node_list) if node_list else None


def _construct(store: Store, query: str, nodes: Iterable[Node | str], batch: Iterable[str], into: Graph) -> None:
    text = _fill(query, nodes, batch)
    if text is not None:
        into += store.construct(text)


def _select_records(store: Store, query: str, nodes: Iterable[Node | str], batch: Iterable[str]) -> set[str]:
    text = _fill(query, nodes, batch)
    return {str(row[0]) for row in store.select(text).rows if row[0] is not None} if text else set()


def dependents(store: Store, records: Records) -> set[str]:
    """Stored records whose verdict this write can change (see the module's docstring)."""
    batch = set(records)
    lost: set[Node] = set()
    newly_regulated: set[Node] = set()
    for iri, graph in records.items():
        stored = store.record(iri)
        if not len(stored):
            newly_regulated.update(graph.subjects(VM.regulated, Literal(True)))
            continue
        for node in set(stored.subjects(RDF.type)):
            if not set(stored.objects(node, RDF.type)) <= set(graph.objects(node, RDF.type)):
                lost.add(node)
        for domain in graph.subjects(VM.regulated, Literal(True)):
            if (domain, VM.regulated, Literal(True)) not in stored:
                newly_regulated.add(domain)
    found = _select_records(store, REFERRERS, lost, batch) if lost else set()
    if newly_regulated:
        found |= _select_records(store, UNCLASSIFIED_IN_DOMAINS, newly_regulated, batch)
    return found - batch


def neighbourhood(store: Store, records: Records, reach: Reach | None = None) -> Graph:
    """The stored facts the shapes need to judge `records`, fetched by IRI (never the whole store); `reach`, how
    far the shapes in force look, when that is further than the packaged shapes do."""
    batch = set(records)
    described = {s for graph in records.values() for s in graph.subjects()}
    mentioned = {o for graph in records.values() for o in graph.objects() if isinstance(o, URIRef)}
    found = Graph()
    if reach is not None and reach.beyond_one_step():
        # From every IRI of the records: a node a record only mentions may be where the stored facts begin.
        _construct(store, DESCRIBED, described | mentioned, batch, found)
        for path in reach.sparql_paths():
            _construct(store, REACHED.replace("#PATH", path), described | mentioned, batch, found)
    _construct(store, DESCRIBE_NODES, mentioned - described, batch, found)
    _construct(store, SERVING_AND_CONSUMING, described, batch, found)
    same_name = _without_batch(SAME_NAME, batch)
    names = {
        name
        for graph in records.values()
        for p in graph.subjects(RDF.type, DPROD.DataProduct)
        for name in graph.objects(p, VM.nameKey)
    }
    others = {
        row[0] for name in names for row in store.select(same_name, bindings={"name": name}).rows if row[0] is not None
    }
    _construct(store, NAMED_PRODUCTS, others, batch, found)
    types = {o for graph in (*records.values(), found) for o in graph.objects(None, RDF.type)}
    _construct(store, SUPERCLASSES, types, (), found)
    return found


class ScratchStore(MemoryStore):
    """An in-memory store for judging records, which also keeps their triples as written: Oxigraph keeps a literal
    by its value ("300"^^xsd:byte comes back as 300, an xsd:integer), while SHACL judges the literal itself."""

    def __init__(self, as_written: Graph) -> None:
        super().__init__()
        self.as_written = as_written

    def add_quads(self, quads: list[ox.Quad]) -> None:
        """Add quads keeping their blank nodes' labels (a bulk load renames them), so that results found in the
        store and in the triples as written name the same blank nodes."""
        self._store.extend(quads)


def scratch_store(records: Records, context: Graph | None = None) -> ScratchStore:
    """An in-memory store holding each record as its named graph and the context in the default graph."""
    as_written = Graph()
    for graph in (*records.values(), *([] if context is None else [context])):
        as_written += graph
    quads = [
        ox.Quad(to_oxigraph(s), to_oxigraph(p), to_oxigraph(o), ox.NamedNode(iri))  # type: ignore[arg-type]
        for iri, graph in records.items()
        for s, p, o in graph
    ]
    if context is not None:
        quads.extend(ox.Quad(to_oxigraph(s), to_oxigraph(p), to_oxigraph(o)) for s, p, o in context)  # type: ignore[arg-type]
    store = ScratchStore(as_written)
    store.add_quads(quads)
    return store
