"""Home `/`: the way into the catalog. Its products are listed as GraphQL's `dataProducts` lists them (the same
keyset pages, filters and visibility), each with its domain, owner and checklist verdict; the counts of products,
domains and use cases; a search that narrows the list as one types (htmx asks for the results alone, with the
`HX-Request` header) and works as a plain form without JavaScript."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from server.catalog import nodes
from server.catalog.checklists import STATUSES, Checklists, Status, page_by_status
from server.catalog.domains import all_domains, domains_by_iri
from server.catalog.products import count_products, decode_cursor, encode_cursor, page_of_products
from server.catalog.use_cases import count_use_cases
from server.errors import BadInput
from server.namespaces import VM
from server.store.base import Store
from server.validation import Checklist
from server.web.ui.context import catalog_of, visibility_of
from server.web.ui.listing import Named, ProductLine, checklists_of, product_lines
from server.web.ui.templating import render

router = APIRouter()
PAGE_SIZE = 50  # GraphQL's default page
STATUS_BUDGET = 300  # products judged at most for one page of a checklist status (about 1.5 s when none is known)

# The type filter's values in the URL, with their labels (GraphQL's DataProductType).
TYPES = {
    "source-oriented": (str(VM.SourceOriented), "Source-oriented"),
    "consumer-oriented": (str(VM.ConsumerOriented), "Consumer-oriented"),
}


@dataclass
class Query:
    """What the caller asked for, as given (kept in every link the page makes)."""

    q: str = ""
    domain: str = ""
    type: str = ""
    owner: str = ""
    checklist: str = ""
    after: str = ""

    def link(self, **changes: str) -> str:
        values = {**self.__dict__, **changes}
        kept = {k: v for k, v in values.items() if v}
        return "/?" + urlencode(kept) if kept else "/"

    @property
    def filtered(self) -> bool:
        return any((self.q, self.domain, self.type, self.owner, self.checklist))


@dataclass
class Results:
    lines: list[ProductLine] = field(default_factory=list)
    matching: int | None = None  # how many match in all, where known without judging every product
    next_link: str | None = None
    examined: int | None = None  # products judged for a page of one checklist status cut short
    owner: Named | None = None
    problems: list[str] = field(default_factory=list)


@dataclass
class Overview:
    products: int
    domains: list[Named]
    use_cases: int


def _checked(store: Store, query: Query) -> tuple[dict[str, Any], str | None, list[str], Named | None]:
    """The catalog filters of `query`, its cursor's IRI, what is wrong with it (said on the page) and the owner."""
    problems: list[str] = []
    filters: dict[str, Any] = {"search": query.q.strip() or None, "domain": None, "type_": None, "owner": None}
    asked = [iri for iri in (query.domain, query.owner) if iri]
    try:
        kinds = nodes.kinds(store, asked) if asked else {}
    except BadInput:
        kinds = {}
    if query.domain:
        if kinds.get(query.domain) == "Domain":
            filters["domain"] = query.domain
        else:
            problems.append(f"There is no domain {query.domain!r} in the catalog; choose one from the list.")
    owner = None
    if query.owner:
        if kinds.get(query.owner) == "Agent":
            filters["owner"] = query.owner
            owner = Named(query.owner, nodes.labels(store, [query.owner]).get(query.owner) or query.owner)
        else:
            problems.append(f"There is no owner {query.owner!r} in the catalog.")
    if query.type:
        if query.type in TYPES:
            filters["type_"] = TYPES[query.type][0]
        else:
            problems.append(f"{query.type!r} is no data product type; the types are {', '.join(TYPES)}.")
    if query.checklist and query.checklist not in STATUSES:
        problems.append(f"{query.checklist!r} is no checklist status; the statuses are {', '.join(STATUSES)}.")
    after = None
    if query.after:
        try:
            after = decode_cursor(query.after)
        except BadInput:
            problems.append("That page link is not one this catalog made; start again from the first page.")
    return filters, after, problems, owner


def results_of(
    store: Store,
    checklists: Checklists,
    query: Query,
    listing: Any,
    hidden: Any,
) -> Results:
    """One page of products for `query` (blocking: run it through `catalog.run`)."""
    filters, after, problems, owner = _checked(store, query)
    if problems:
        return Results(problems=problems, owner=owner)
    common: dict[str, Any] = {"listing": listing, "hidden": hidden, **filters}
    if query.checklist:
        status: Status = query.checklist  # type: ignore[assignment]
        found = page_by_status(store, checklists, status, first=PAGE_SIZE, after=after, budget=STATUS_BUDGET, **common)
        lines = product_lines(store, checklists, found.iris, found.verdicts)
        following = encode_cursor(found.resume_after) if found.has_next and found.resume_after else None
        return Results(
            lines=lines,
            next_link=query.link(after=following) if following else None,
            examined=found.examined if found.cut else None,
            owner=owner,
        )
    page = page_of_products(store, first=PAGE_SIZE, after=after, **common)
    lines = product_lines(store, checklists, page.iris)
    matching = page.total if page.total >= 0 else count_products(store, **common)
    following = encode_cursor(page.iris[-1]) if page.has_next and page.iris else None
    return Results(
        lines=lines, matching=matching, next_link=query.link(after=following) if following else None, owner=owner
    )


def overview_of(store: Store, listing: Any, hidden: Any) -> Overview:
    """The catalog's counts and its domains (for the filter), as the caller may see them."""
    domain_iris = all_domains(store)
    rows = domains_by_iri(store, domain_iris)
    domains = sorted((Named(r.iri, r.name) for r in rows.values() if r is not None), key=lambda d: d.name.lower())
    products = count_products(store, listing=listing, hidden=hidden)
    return Overview(products=products, domains=domains, use_cases=count_use_cases(store))


def badge(verdict: Checklist | None) -> tuple[str, str]:
    """The checklist badge of a product: its class and text."""
    if verdict is None:
        return "plain", "not judged"
    if verdict.passes:
        return "ok", "passes"
    return "bad", f"{len(verdict.missing)} missing"


@router.get("/", response_class=HTMLResponse)
async def home(
    request: Request,
    q: str = "",
    domain: str = "",
    type: str = "",
    owner: str = "",
    checklist: str = "",
    after: str = "",
) -> HTMLResponse:
    catalog = catalog_of(request)
    visibility = await visibility_of(request)
    hidden = visibility.hidden if visibility.hides_anything else None
    query = Query(q=q, domain=domain.strip(), type=type, owner=owner.strip(), checklist=checklist, after=after)
    store, listing, checklists = catalog.store, catalog.index, checklists_of(catalog)
    results = await catalog.run(partial(results_of, store, checklists, query, listing, hidden))
    status = 400 if results.problems else 200
    context: dict[str, Any] = {"query": query, "results": results, "badge": badge, "types": TYPES}
    # htmx asks for the results alone; a restored history entry (HX-History-Restore-Request) needs the whole page.
    if request.headers.get("HX-Request") and not request.headers.get("HX-History-Restore-Request"):
        response = render(request, "home_results.html", **context)  # 200: htmx swaps only successful answers
        response.headers["HX-Push-Url"] = query.link()  # the address bar shows the filters given, without blanks
    else:
        overview = await catalog.run(overview_of, store, listing, hidden)
        response = render(request, "home.html", status_code=status, overview=overview, **context)
    response.headers["Vary"] = "HX-Request"
    return response
