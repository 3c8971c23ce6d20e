"""Per-request DataLoaders: every relation a resolver follows is batched into one store question per level."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rdflib import URIRef
from strawberry.dataloader import DataLoader

from server.catalog import access_requests, domains, goals, nodes, products, use_cases
from server.catalog.service import Catalog
from server.store.base import Store
from server.validation import completeness

Batch = Callable[[Store, list[str]], dict[str, Any]]


def _loader(catalog: Catalog, batch: Batch) -> DataLoader[str, Any]:
    async def load(keys: Sequence[str]) -> list[Any]:
        found = await catalog.run(batch, catalog.store, list(keys))
        return [found.get(key) for key in keys]

    return DataLoader(load_fn=load)


class Loaders:
    """The loaders of one request (their caches must not outlive it: a later request may follow a write)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.kind = _loader(catalog, nodes.kinds)
        self.label = _loader(catalog, nodes.labels)
        self.product = _loader(catalog, products.products_by_iri)
        self.ports = _loader(catalog, products.ports_of)
        self.port_sources = _loader(catalog, products.port_sources)
        self.agreement = _loader(catalog, products.agreements_by_iri)
        self.domain = _loader(catalog, domains.domains_by_iri)
        self.products_of_domain = _loader(catalog, products.products_of_domains)
        self.use_case = _loader(catalog, use_cases.use_cases_by_iri)
        self.goal = _loader(catalog, goals.goals_by_iri)
        self.completeness = _loader(catalog, completeness)
        self.access_requests = _loader(catalog, access_requests.requests_of_products)  # all: resolvers filter
        self._related: dict[tuple[str, bool], DataLoader[str, Any]] = {}
        self._literals: dict[str, DataLoader[str, Any]] = {}

    def related(self, predicate: URIRef, *, inverse: bool = False) -> DataLoader[str, Any]:
        """Nodes one `predicate` hop away, batched per predicate and direction."""
        key = (str(predicate), inverse)
        if key not in self._related:

            def batch(store: Store, iris: list[str]) -> dict[str, Any]:
                return nodes.related(store, iris, predicate, inverse=inverse)

            self._related[key] = _loader(self.catalog, batch)
        return self._related[key]

    def literals(self, predicate: URIRef) -> DataLoader[str, Any]:
        if str(predicate) not in self._literals:

            def batch(store: Store, iris: list[str]) -> dict[str, Any]:
                return nodes.literals(store, iris, predicate)

            self._literals[str(predicate)] = _loader(self.catalog, batch)
        return self._literals[str(predicate)]
