"""Home `/`: the way into the catalog, its products listed as GraphQL's `dataProducts` lists them."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from server.catalog.products import page_of_products, products_by_iri
from server.web.ui.context import catalog_of, visibility_of
from server.web.ui.templating import render

router = APIRouter()
PAGE_SIZE = 50


@dataclass(frozen=True)
class ProductLine:
    iri: str
    name: str
    description: str


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> HTMLResponse:
    catalog = catalog_of(request)
    visibility = await visibility_of(request)
    hidden = visibility.hidden if visibility.hides_anything else None
    store = catalog.store
    page = await catalog.run(partial(page_of_products, store, first=PAGE_SIZE, listing=catalog.index, hidden=hidden))
    rows = await catalog.run(products_by_iri, store, page.iris)
    lines = [ProductLine(r.iri, r.name, r.description) for r in (rows[i] for i in page.iris) if r is not None]
    return render(request, "home.html", products=lines, more=page.has_next)
