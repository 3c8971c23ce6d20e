"""The domain page: what a browser gets at a domain's IRI (e.g. /domain/commercial). Its name, description and
regulated flag, its products (as GraphQL's `dataProducts(domain:)` pages them) with their owners and checklist
badges, the owners, and its checklist health. RDF clients keep getting the record (server/web/linked_data.py)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from starlette.responses import Response

from server.catalog import nodes
from server.catalog.checklists import Checklists
from server.catalog.domains import DomainRow, domains_by_iri
from server.catalog.products import decode_cursor, encode_cursor, page_of_products, products_of_domains
from server.errors import BadInput
from server.namespaces import DCT, DPROD
from server.store.base import Store
from server.web.ui.context import catalog_of, visibility_of
from server.web.ui.home import PAGE_SIZE, badge
from server.web.ui.listing import Named, ProductLine, checklists_of, product_lines
from server.web.ui.templating import render

HEALTH_LIMIT = 200  # products judged at most for a domain's checklist health (about 1 s when none is known yet)
RDF_FORMS = (
    ("text/turtle", "Turtle"),
    ("application/n-triples", "N-Triples"),
    ("application/ld+json", "JSON-LD"),
    ("application/rdf+xml", "RDF/XML"),
)


@dataclass(frozen=True)
class Health:
    judged: int  # products whose checklist was read
    passing: int
    total: int  # products of the domain the caller may read

    @property
    def failing(self) -> int:
        return self.judged - self.passing


@dataclass
class DomainPage:
    domain: DomainRow
    description: str
    lines: list[ProductLine]
    owners: list[tuple[Named, int]]  # each owner with how many of the domain's products they own
    health: Health
    next_after: str | None
    problem: str | None


def domain_page(
    store: Store, checklists: Checklists, iri: str, after: str, hidden: Any, listing: Any
) -> DomainPage | None:
    """The page of domain `iri`, None when it is no domain (blocking: run it through `catalog.run`)."""
    row = domains_by_iri(store, [iri])[iri]
    if row is None:
        return None
    description = next(iter(nodes.literals(store, [iri], DCT.description)[iri]), "")
    everything = [p for p in products_of_domains(store, [iri])[iri] if hidden is None or not hidden(p)]
    owned = nodes.related(store, everything, DPROD.dataProductOwner) if everything else {}
    counts: dict[str, int] = {}
    for product in everything:
        for owner in owned.get(product, []):
            counts[owner] = counts.get(owner, 0) + 1
    names = nodes.labels(store, sorted(counts))
    owners = sorted(((Named(o, names.get(o) or o), n) for o, n in counts.items()), key=lambda p: p[0].name.lower())
    verdicts = checklists.of(store, everything[:HEALTH_LIMIT])
    health = Health(len(verdicts), sum(v.passes for v in verdicts.values()), len(everything))
    problem, start = None, None
    if after:
        try:
            start = decode_cursor(after)
        except BadInput:
            problem = "That page link is not one this catalog made; here is the first page of products."
    page = page_of_products(store, first=PAGE_SIZE, after=start, domain=iri, hidden=hidden, listing=listing)
    lines = product_lines(store, checklists, page.iris, {i: verdicts[i] for i in page.iris if i in verdicts})
    following = encode_cursor(page.iris[-1]) if page.has_next and page.iris else None
    return DomainPage(row, description, lines, owners, health, following, problem)


async def domain_record_page(request: Request, iri: str) -> Response | None:
    """A browser's answer for a domain's IRI; None for an IRI that is no domain (the generic record page answers)."""
    catalog = catalog_of(request)
    visibility = await visibility_of(request)
    hidden = visibility.hidden if visibility.hides_anything else None
    after = request.query_params.get("after", "")
    found = await catalog.run(
        partial(domain_page, catalog.store, checklists_of(catalog), iri, after, hidden, catalog.index)
    )
    if found is None:
        return None
    next_link = f"{request.url.path}?{urlencode({'after': found.next_after})}" if found.next_after else None
    response = render(
        request,
        "domain.html",
        status_code=400 if found.problem else 200,
        page=found,
        badge=badge,
        next_link=next_link,
        rdf_forms=RDF_FORMS,
        products_link="/?" + urlencode({"domain": iri}),
    )
    response.headers["Vary"] = "Accept"
    return response
