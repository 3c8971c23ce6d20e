"""Products against the MVP checklist, for lists of products: remembered between requests, and pages by status.

Judging a product (server/validation.py `checklist`, what GraphQL's `completeness` is made of) takes about 5 ms:
50 products are 250 ms, too slow to do again for every page a person opens. The answers are kept until the next
write of records (the embedded store's marker changes with every one, `OxigraphStore.marker`): a product's verdict
depends on its neighbours (its domain's regulated flag, the ports it consumes), so any write forgets them all.
A store without a marker (a SPARQL server others write to) is judged afresh each time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Literal

from server.catalog.products import Page, ProductListing, page_of_products
from server.store.base import Store
from server.validation import Checklist, checklist

Status = Literal["conforming", "failing"]
STATUSES: tuple[Status, ...] = ("conforming", "failing")
CHUNK = 100  # products judged at once while looking for those of one status
REMEMBERED = 200_000  # verdicts kept at most (a few hundred bytes each)


def _marker(store: Store) -> str | None:
    backend = getattr(store, "backend", store)
    mark = getattr(backend, "marker", None)
    return mark() if callable(mark) else None


class Checklists:
    """Verdicts of one catalog's products, valid as of the store's marker (thread-safe: pages judge in threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._marker: str | None = None
        self._known: dict[str, Checklist] = {}

    def of(self, store: Store, iris: Iterable[str]) -> dict[str, Checklist]:
        """Each stored product's checklist (unknown IRIs left out), judging only those not judged since the last
        write."""
        asked = list(dict.fromkeys(iris))
        marker = _marker(store)
        with self._lock:
            if marker is None or marker != self._marker:
                self._known, self._marker = {}, marker
            known = {iri: self._known[iri] for iri in asked if iri in self._known}
        missing = [iri for iri in asked if iri not in known]
        if missing:
            judged = checklist(store, missing)
            known.update(judged)
            if marker is not None:
                with self._lock:
                    if self._marker == marker and len(self._known) + len(judged) <= REMEMBERED:
                        self._known.update(judged)
        return {iri: known[iri] for iri in asked if iri in known}


@dataclass(frozen=True)
class StatusPage:
    """Products of one checklist status: those found, where the search stopped, and whether more may follow."""

    iris: list[str]
    verdicts: dict[str, Checklist]
    resume_after: str | None  # the last product looked at, where the next page starts
    has_next: bool
    examined: int  # products judged for this page
    cut: bool  # the search stopped at `budget` products judged before the page was full


def page_by_status(
    store: Store,
    checklists: Checklists,
    status: Status,
    *,
    first: int,
    after: str | None = None,
    budget: int = 300,
    listing: ProductListing | None = None,
    hidden: Callable[[str], bool] | None = None,
    domain: str | None = None,
    type_: str | None = None,
    search: str | None = None,
    owner: str | None = None,
) -> StatusPage:
    """Up to `first` products of `status` after `after`, judging at most `budget` products (the rest are looked at
    by the next page, which starts where this one stopped): a status is no stored fact, so it cannot be a query."""
    wanted = status == "conforming"
    found: list[str] = []
    verdicts: dict[str, Checklist] = {}
    cursor, examined, more = after, 0, True
    page_of = partial(
        page_of_products,
        store,
        listing=listing,
        hidden=hidden,
        domain=domain,
        type_=type_,
        search=search,
        owner=owner,
    )
    while len(found) < first and examined < budget and more:
        chunk: Page = page_of(first=min(CHUNK, budget - examined), after=cursor)
        judged = checklists.of(store, chunk.iris)
        more = chunk.has_next
        for position, iri in enumerate(chunk.iris):
            examined += 1
            cursor = iri
            verdict = judged.get(iri)
            if verdict is not None and verdict.passes == wanted:
                found.append(iri)
                verdicts[iri] = verdict
                if len(found) == first:
                    more = more or position + 1 < len(chunk.iris)
                    break
    cut = more and len(found) < first
    return StatusPage(found, verdicts, cursor if more else None, more, examined, cut)
