"""Overlaps `/overlaps`: merge candidates, pairs of products fed by the same direct sources, most shared first and
then by Jaccard index (shared sources over all sources of the two), as GraphQL's `overlaps` answers them: a pair
with a product the caller may not read is absent, and so is a shared source they may not read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from server.catalog import nodes, overlaps, products
from server.catalog.lineage_index import LineageIndex
from server.store.base import Store
from server.web.ui.context import catalog_of, visibility_of
from server.web.ui.templating import render
from server.web.ui.value_tree import ProductRef

router = APIRouter()
SHOWN = 100  # pairs on the page; the page says how many more there are


@dataclass(frozen=True)
class SharedSource:
    iri: str
    name: str
    is_product: bool


@dataclass(frozen=True)
class Pair:
    left: ProductRef
    right: ProductRef
    shared: list[SharedSource]
    jaccard: float


@dataclass(frozen=True)
class Overlaps:
    pairs: list[Pair]
    total: int


def merge_candidates(
    store: Store, min_shared: int, hidden: Callable[[str], bool], index: LineageIndex | None = None
) -> Overlaps:
    answer = overlaps.overlaps(store, None, min_shared, index)
    readable = [p for p in answer.pairs if not hidden(p.left) and not hidden(p.right)]
    chosen = readable[:SHOWN]
    rows = products.products_by_iri(store, sorted({i for p in chosen for i in (p.left, p.right)}))
    sources = sorted({s for p in chosen for s in p.shared if not hidden(s)})
    known = index.names(sources) if index is not None else {}  # the index knows most names
    names = nodes.labels(store, [s for s in sources if s not in known])
    named = {
        s: SharedSource(s, known.get(s) or names.get(s) or s.rsplit("/", 1)[-1], answer.source_is_product.get(s, False))
        for s in sources
    }
    pairs = []
    for pair in chosen:
        left, right = rows.get(pair.left), rows.get(pair.right)
        if left is None or right is None:
            continue
        shared = [named[s] for s in pair.shared if s in named]
        pairs.append(Pair(ProductRef(left.iri, left.name), ProductRef(right.iri, right.name), shared, pair.jaccard))
    return Overlaps(pairs, len(readable))


def read_min_shared(value: str | None) -> int:
    if value is None or value == "":
        return 1
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"The minimum of shared sources must be a whole number of 1 or more, not {value!r}.")
    return int(value)


@router.get("/overlaps", response_class=HTMLResponse)
async def overlaps_page(request: Request, min_shared: str | None = None) -> HTMLResponse:
    try:
        minimum = read_min_shared(min_shared)
    except ValueError as error:
        return render(request, "overlaps.html", status_code=400, error=str(error), min_shared=1, found=None)
    catalog = catalog_of(request)
    visibility = await visibility_of(request)
    found = await catalog.run(merge_candidates, catalog.store, minimum, visibility.hidden, catalog.index)
    return render(request, "overlaps.html", error=None, min_shared=minimum, found=found)
