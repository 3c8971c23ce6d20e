"""Per-request DataLoaders: every relation a resolver follows is batched into one store question per level."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rdflib import URIRef
from strawberry.dataloader import DataLoader

from server.catalog import access_requests, domains, goals, nodes, products, use_cases
from server.catalog.restrictions import EVERYTHING_VISIBLE, Visibility
from server.catalog.service import Catalog
from server.store.base import Store

Batch = Callable[[Store, list[str]], dict[str, Any]]


def _loader(catalog: Catalog, batch: Batch, visibility: Visibility, empty: Any = None) -> DataLoader[str, Any]:
    """A loader that answers for a node the caller may not read (restricted.py) as for an absent one (`empty`),
    and leaves such nodes out of the lists of IRIs it answers."""

    async def load(keys: Sequence[str]) -> list[Any]:
        asked = [key for key in keys if not visibility.hidden(key)]
        found = await catalog.run(batch, catalog.store, asked) if asked else {}
        return [_visible(found.get(key), visibility) if key in found else empty for key in keys]

    return DataLoader(load_fn=load)


def _visible(value: Any, visibility: Visibility) -> Any:
    if isinstance(value, list) and value and isinstance(value[0], str):
        return visibility.visible(value)
    return value


class Loaders:
    """The loaders of one request (their caches must not outlive it: a later request may follow a write)."""

    def __init__(self, catalog: Catalog, visibility: Visibility = EVERYTHING_VISIBLE) -> None:
        self.catalog = catalog
        self.visibility = visibility
        v = visibility
        self.kind = _loader(catalog, nodes.kinds, v)
        self.label = _loader(catalog, nodes.labels, v)
        self.product = _loader(catalog, products.products_by_iri, v)
        self.ports = _loader(catalog, products.ports_of, v, [])
        self.port_sources = _loader(catalog, products.port_sources, v, [])
        self.port_datasets = _loader(catalog, products.port_datasets, v, [])
        self.agreement = _loader(catalog, products.agreements_by_iri, v)
        self.domain = _loader(catalog, domains.domains_by_iri, v)
        self.products_of_domain = _loader(catalog, products.products_of_domains, v, [])
        self.use_case = _loader(catalog, use_cases.use_cases_by_iri, v)
        self.goal = _loader(catalog, goals.goals_by_iri, v)
        self.completeness = _loader(catalog, self._completeness, v)
        self.slo_status = _loader(catalog, catalog.slo_statuses, v, [])
        self.access_requests = _loader(catalog, access_requests.requests_of_products, v, [])  # all: resolvers filter
        self._related: dict[tuple[str, bool], DataLoader[str, Any]] = {}
        self._literals: dict[str, DataLoader[str, Any]] = {}

    def _completeness(self, store: Store, iris: list[str]) -> dict[str, float]:
        """`validation.completeness`, from the verdicts the catalog keeps (server/catalog/checklists.py)."""
        return {iri: verdict.completeness for iri, verdict in self.catalog.checklists.of(store, iris).items()}

    def related(self, predicate: URIRef, *, inverse: bool = False) -> DataLoader[str, Any]:
        """Nodes one `predicate` hop away, batched per predicate and direction."""
        key = (str(predicate), inverse)
        if key not in self._related:

            def batch(store: Store, iris: list[str]) -> dict[str, Any]:
                return nodes.related(store, iris, predicate, inverse=inverse)

            self._related[key] = _loader(self.catalog, batch, self.visibility, [])
        return self._related[key]

    def literals(self, predicate: URIRef) -> DataLoader[str, Any]:
        if str(predicate) not in self._literals:

            def batch(store: Store, iris: list[str]) -> dict[str, Any]:
                return nodes.literals(store, iris, predicate)

            self._literals[str(predicate)] = _loader(self.catalog, batch, self.visibility, [])
        return self._literals[str(predicate)]
