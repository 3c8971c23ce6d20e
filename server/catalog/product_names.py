"""What a product's name already stands for in the catalog, asked before an IRI is minted from it.

Re-registering a product finds it by its name in its domain (`vm:nameKey`, records.name_key), so a product whose IRI
was minted by an older rule keeps it (docs/migration.md). A name that would mint an IRI another product already has,
under another name, is a Conflict that names that product.
"""

from __future__ import annotations

from rdflib import RDF, RDFS, Literal, URIRef

from server.catalog.records import name_key
from server.errors import Conflict
from server.namespaces import DPROD, VM, sparql_prefixes
from server.store.base import Store

__all__ = ["product_named", "refuse_taken_iri"]

# Bound values only: the key and domain are engine substitutions (projected, as Oxigraph wants).
PRODUCT_NAMED = (
    sparql_prefixes()
    + """
SELECT ?product ?key ?domain WHERE {
  GRAPH ?product { ?product a dprod:DataProduct ; vm:nameKey ?key ; dprod:domain ?domain }
} ORDER BY ?product LIMIT 1
"""
)


def product_named(store: Store, name: str, domain: str) -> str | None:
    """The IRI of the product called `name` (compared as name keys) in `domain`, if the catalog holds one."""
    result = store.select(PRODUCT_NAMED, bindings={"key": Literal(name_key(name)), "domain": URIRef(domain)})
    found = result.column("product")
    return str(found[0]) if found and found[0] is not None else None


def refuse_taken_iri(store: Store, iri: str, name: str) -> None:
    """Conflict when `iri`, minted from `name`, is already the IRI of a product with another name."""
    record = store.record(iri)
    node = URIRef(iri)
    if (node, RDF.type, DPROD.DataProduct) not in record:
        return
    other = record.value(node, RDFS.label)
    if other is None:
        return
    other_key = record.value(node, VM.nameKey) or name_key(str(other))
    if str(other_key) != name_key(name):
        raise Conflict(
            f"‘{name}’ would get the IRI {iri}, but another data product already names {iri} (‘{other}’); "
            "choose another name"
        )
