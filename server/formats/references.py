"""Settling the domains, agents, use cases and upstream ports a descriptor names into IRIs.

A name is an absolute IRI, a path under the catalog base (`domain/commercial`), or a label. Labels are looked up
in the catalog first (case-insensitive), so "Commercial" finds the seed's `domain/commercial`; a domain or agent
the catalog does not hold gets a minimal record (its label), and records the catalog holds are never replaced.
Without a store (converting text alone) names are minted (catalog/iris.py) and no other record is made.

The product itself: with a store, a product of the same name in the same domain is the one the descriptor
describes (it keeps its IRI, however that was minted: docs/migration.md); else its IRI is minted from its name,
and a name that would take the IRI of a product with another name is a Conflict.
"""

from __future__ import annotations

from rdflib import Literal, URIRef

from server.catalog.iris import mint
from server.catalog.product_names import product_named, refuse_taken_iri
from server.catalog.records import Records
from server.formats.description import ProductDescription, Reference, agent_record, domain_record, product_graph
from server.namespaces import PROV, VM, sparql_prefixes
from server.store.base import Store

# Bound values only: the wanted label and type are engine substitutions (Oxigraph wants them projected).
FIND_BY_LABEL = (
    sparql_prefixes()
    + """
SELECT ?node ?type ?wanted WHERE {
  ?node a ?type ; rdfs:label ?label .
  FILTER(LCASE(STR(?label)) = LCASE(STR(?wanted)))
} ORDER BY ?node LIMIT 1
"""
)


def is_absolute(name: str) -> bool:
    return name.startswith(("http://", "https://", "urn:"))


def catalog_iri(name: str, base: str, kind: str) -> str:
    """The IRI for `name`: absolute IRIs as they are, `kind/...` paths under the base, else minted from it."""
    if is_absolute(name):
        return name
    if name.startswith(f"{kind}/") or "/" in name:
        return base + name.lstrip("/")
    return mint(base, kind, name)


def _by_label(store: Store | None, label: str, node_type: URIRef) -> str | None:
    if store is None:
        return None
    result = store.select(FIND_BY_LABEL, bindings={"type": node_type, "wanted": Literal(label)})
    found = result.column("node")
    return str(found[0]) if found and found[0] is not None else None


def _settle(reference: Reference, base: str, kind: str, node_type: URIRef, store: Store | None) -> bool:
    """Give `reference` its IRI; True when the catalog does not hold it yet (a minimal record is needed)."""
    name = reference.iri or reference.label
    named_by_path = is_absolute(name) or "/" in name
    reference.iri = (None if named_by_path else _by_label(store, name, node_type)) or catalog_iri(name, base, kind)
    return store is not None and not len(store.record(reference.iri))


def _settle_product(product: ProductDescription, base: str, store: Store) -> None:
    """Give the product the IRI it already has in the catalog, or a minted one no other product holds."""
    domain = product.domain.iri if product.domain is not None else None
    found = product_named(store, product.name, domain) if domain else None
    if found is not None:
        product.iri = found
    elif product.key is None:  # minted from the name; a key the descriptor gives is its own choice of IRI
        product.iri = mint(base, "data-product", product.name)
        refuse_taken_iri(store, product.iri, product.name)


def product_records(product: ProductDescription, base: str, store: Store | None = None) -> Records:
    """The product's record plus minimal records for the domain and agents it names that the catalog (`store`)
    lacks; without a store, the product's record alone."""
    records: Records = {}
    if product.domain is not None and _settle(product.domain, base, "domain", VM.Domain, store):
        records[product.domain.iri or ""] = domain_record(product.domain)
    for agent in [a for a in (product.owner, *product.producers, *product.consumers) if a is not None]:
        if _settle(agent, base, "agent", PROV.Agent, store):
            records.setdefault(agent.iri or "", agent_record(agent))
    product.use_cases = [catalog_iri(name, base, "use-case") for name in product.use_cases]
    for port in product.ports:
        port.consumes = [name if is_absolute(name) else base + name.lstrip("/") for name in port.consumes]
    if store is not None and product.iri is None:
        _settle_product(product, base, store)
    iri, graph = product_graph(product, base)
    records[iri] = graph
    return records
