"""The catalog back out: products as ODPS or DPDS descriptors, records as Turtle or JSON-LD (local context)."""

from __future__ import annotations

import json

import yaml
from rdflib import Graph

from server.catalog.seeding import ONTOLOGY_GRAPH
from server.errors import NotFound
from server.formats.dpds import dpds_from_product
from server.formats.odps import odps_from_product
from server.formats.reading import describe_product
from server.namespaces import PREFIXES, sparql_prefixes
from server.store.base import Store

PRODUCTS = sparql_prefixes() + "SELECT DISTINCT ?product WHERE { ?product a dprod:DataProduct } ORDER BY ?product"


def product_iris(store: Store, product: str | None = None) -> list[str]:
    """Every product's IRI, or just `product` (NotFound when the catalog has no such product)."""
    iris = [str(p) for p in store.select(PRODUCTS).column("product") if p is not None]
    if product is None:
        return iris
    if product not in iris:
        raise NotFound(f"no data product {product} in the catalog")
    return [product]


def odps_yaml(store: Store, product: str | None = None) -> str:
    """ODPS v1.0 YAML: one document per product, separated by `---`."""
    documents = [odps_from_product(describe_product(store, iri)) for iri in product_iris(store, product)]
    return yaml.safe_dump_all(documents, sort_keys=False, allow_unicode=True, width=120)


def dpds_json(store: Store, product: str | None = None) -> str:
    """DPDS 1.0 JSON: the descriptor of `product`, or a JSON array of every product's descriptor."""
    documents = [dpds_from_product(describe_product(store, iri)) for iri in product_iris(store, product)]
    return json.dumps(documents[0] if product else documents, indent=2, ensure_ascii=False) + "\n"


def records_graph(store: Store, product: str | None = None) -> Graph:
    """The union of the catalog's records (not the ontology), or one product's record."""
    iris = product_iris(store, product) if product else [i for i in store.record_iris() if i != ONTOLOGY_GRAPH]
    graph = Graph()
    for name, iri in PREFIXES.items():
        graph.bind(name, iri, replace=True)
    for iri in iris:
        for triple in store.record(iri):
            graph.add(triple)
    return graph


def turtle(store: Store, product: str | None = None) -> str:
    return records_graph(store, product).serialize(format="turtle")


def jsonld(store: Store, product: str | None = None) -> str:
    """JSON-LD with its context written inline, so reading it back never needs the network."""
    context = {name: iri for name, iri in PREFIXES.items()}
    return records_graph(store, product).serialize(format="json-ld", context=context, indent=2)
