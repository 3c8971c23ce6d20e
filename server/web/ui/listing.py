"""Rows of product lists (home, domain page): each product with its domain, owner and checklist verdict, read with the
catalog functions GraphQL's `DataProduct` fields are read with (products_by_iri, domains_by_iri, labels, checklist)."""

from __future__ import annotations

from dataclasses import dataclass

from server.catalog.checklists import Checklists
from server.catalog.domains import domains_by_iri
from server.catalog.nodes import labels
from server.catalog.products import products_by_iri
from server.catalog.service import Catalog
from server.store.base import Store
from server.validation import Checklist


def checklists_of(catalog: Catalog) -> Checklists:
    """The verdicts the catalog remembers between requests (server/catalog/checklists.py)."""
    return catalog.checklists


@dataclass(frozen=True)
class Named:
    iri: str
    name: str


@dataclass(frozen=True)
class ProductLine:
    iri: str
    name: str
    description: str
    domain: Named | None
    owner: Named | None
    checklist: Checklist | None

    @property
    def percent(self) -> int | None:
        return None if self.checklist is None else round(self.checklist.completeness * 100)


def product_lines(
    store: Store, checklists: Checklists, iris: list[str], known: dict[str, Checklist] | None = None
) -> list[ProductLine]:
    """The lines of `iris` in order (IRIs that are no product left out); `known` verdicts are not judged again."""
    rows = products_by_iri(store, iris)
    found = [row for row in (rows[iri] for iri in iris) if row is not None]
    domain_rows = domains_by_iri(store, sorted({r.domain for r in found if r.domain}))
    owner_names = labels(store, sorted({r.owner for r in found if r.owner}))
    verdicts = dict(known or {})
    verdicts.update(checklists.of(store, [r.iri for r in found if r.iri not in verdicts]))
    lines = []
    for row in found:
        domain_row = domain_rows.get(row.domain) if row.domain else None
        domain = Named(domain_row.iri, domain_row.name) if domain_row else None
        owner = Named(row.owner, owner_names.get(row.owner) or row.owner) if row.owner else None
        lines.append(ProductLine(row.iri, row.name, row.description, domain, owner, verdicts.get(row.iri)))
    return lines
