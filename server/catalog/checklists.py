"""Products against the MVP checklist, for lists of products: an index of verdicts that follows writes, filled
ahead, and pages by status.

Judging a product (server/validation.py `checklist`, what GraphQL's `completeness` is made of) takes about 5 ms:
50 products are 250 ms, too slow to do again for every page a person opens. So the verdicts are an index derived
from the store, as the lineage index is: the Catalog service (server/catalog/service.py) has the lineage index
tell it of every write it follows (this process's and, on a shared SPARQL store, other replicas' as they are
noted there; `records_changed`, `everything_changed`), and a write forgets only the verdicts it can change. Each
verdict is kept with what it was judged from (server/catalog/checklist_reads.py says what that is and why the
rule is exact): a write forgets the verdicts of the products it rewrites or drops, of the products whose verdict
read a statement of a record it rewrites or drops, and of those whose verdict reads what its new statements are
about (a product whose domain's regulated flag changes, whose consumed port is gone, that shares its name with
a product written in its domain). With shapes that look further than one step from a record, and after a write
that is not record by record (a bulk load, a SPARQL update), every verdict is forgotten. On a shared SPARQL store
another replica's write is followed when this one's follower reads the change log (server/catalog/changes.py):
until then its verdicts lag behind it, as its lineage does.

After each build of the lineage index the catalog fills the verdicts ahead (`fill`), on a background thread at
the lowest CPU priority, judged in the validation worker process on a snapshot when there is one: the first
visitor finds them there. The fill judges every product at once (server/catalog/checklist_catalog.py): one
whole-catalog validation, each product's verdict and what it read derived from its results, seconds where judging
product by product took minutes. A judgement that overlapped a write (a page's or the filler's) keeps only the
verdicts the write cannot have changed: writes are counted, and those since the judgement began are applied to its
verdicts before they are kept.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from typing import Literal

from server.catalog.checklist_reads import Judged, Judgement, Reads, Touch, judge, touch_of
from server.catalog.products import Page, ProductListing, page_of_products
from server.governance.shapes import Shapes
from server.store.base import Store, Triple
from server.validation import Checklist

log = logging.getLogger(__name__)

Status = Literal["conforming", "failing"]
STATUSES: tuple[Status, ...] = ("conforming", "failing")
CHUNK = 100  # products judged at once while looking for those of one status
REMEMBERED = 200_000  # verdicts kept at most (with what each read: about 4 kB each, 1k generated catalog)
WRITES_KEPT = 10_000  # writes remembered for judgements in flight; one that began before them keeps nothing

# Judges every product listed, stopping (None) once the event is set: `judge_catalog`, in a worker or not.
JudgeAll = Callable[[list[str], threading.Event], Judgement | None]


class Checklists:
    """Verdicts of one catalog's products, following its writes (thread-safe: pages judge in threads). `shapes`:
    those in force; when they look further than one step from a record, any write forgets every verdict."""

    def __init__(self, shapes: Shapes | None = None) -> None:
        self._lock = threading.Lock()
        self._bounded = shapes is None or not shapes.reach.beyond_one_step()
        self._known: dict[str, Judged] = {}
        # Who read what: record, subject, target and key -> the products whose remembered verdict read it.
        self._by_record = _Readers()
        self._by_subject = _Readers()
        self._by_target = _Readers()
        self._by_key = _Readers()
        self._subclass_records: frozenset[str] = frozenset()
        self._generation = 0  # counts writes told
        self._writes: deque[tuple[int, Touch]] = deque(maxlen=WRITES_KEPT)
        self._filling: threading.Thread | None = None
        self._stop = threading.Event()
        self._fill_lock = threading.Lock()  # a fill starts, or is stopped, one at a time
        self._closed = False  # stopped for good (the catalog closed): no fill starts again
        self.judged = 0  # products judged, by pages and by the filler (tests, bench)

    # --- asking ------------------------------------------------------------------------------------------

    def of(self, store: Store, iris: Iterable[str]) -> dict[str, Checklist]:
        """Each stored product's checklist (unknown IRIs left out), judging only those no verdict is kept for."""
        asked = list(dict.fromkeys(iris))
        with self._lock:
            generation = self._generation
            known = {iri: self._known[iri].verdict for iri in asked if iri in self._known}
        missing = [iri for iri in asked if iri not in known]
        if missing:
            judgement = judge(store, missing)
            known.update({iri: found.verdict for iri, found in judgement.judged.items()})
            self.keep(judgement, generation)
        return {iri: known[iri] for iri in asked if iri in known}

    def known(self) -> dict[str, Checklist]:
        """The verdicts kept now (tests: each equals a fresh `checklist`)."""
        with self._lock:
            return {iri: found.verdict for iri, found in self._known.items()}

    @property
    def generation(self) -> int:
        """The count of writes told so far: a judgement begun now is kept with it (`keep`)."""
        with self._lock:
            return self._generation

    def keep(self, judgement: Judgement, generation: int) -> None:
        """Keep the verdicts of a judgement begun when `generation` writes were told, but those a write since may
        have changed."""
        with self._lock:
            self.judged += len(judgement.judged)
            since = [touch for counted, touch in self._writes if counted > generation]
            if generation < self._generation and (len(since) < self._generation - generation or not self._bounded):
                return  # a write it overlapped is no longer known (or any write may change any verdict)
            self._subclass_records = self._subclass_records | judgement.subclass_records
            for iri, found in judgement.judged.items():
                if len(self._known) >= REMEMBERED:
                    break
                if any(touch.changes(found.reads) for touch in since):
                    continue
                self._forget(iri)
                self._known[iri] = found
                for index, keys in self._indexes(found.reads):
                    for key in keys:
                        index.add(key, iri)

    # --- following writes (told by the lineage index: see `LineageIndex.listen`) --------------------------

    def records_changed(self, records: Mapping[str, list[Triple]], dropped: list[str]) -> None:
        """Records were written or dropped: forget the verdicts they may change."""
        touch = touch_of(records, dropped)
        with self._lock:
            touch.everything = touch.everything or not self._bounded or bool(touch.records & self._subclass_records)
            self._generation += 1
            self._writes.append((self._generation, touch))
            if touch.everything:
                self._forget_all()
                return
            affected: set[str] = set()
            for index, keys in self._indexes(touch):
                for key in keys:
                    affected.update(index.of(key))
            for iri in affected:
                self._forget(iri)

    def everything_changed(self) -> None:
        """A write the index cannot read record by record (a bulk load, a SPARQL update): forget every verdict."""
        with self._lock:
            self._generation += 1
            self._writes.append((self._generation, Touch(everything=True)))
            self._forget_all()

    def _indexes(self, read: Reads | Touch) -> list[tuple[_Readers, Iterable[str]]]:
        """Each index of who read what, with the keys `read` has in it."""
        return [
            (self._by_record, read.records),
            (self._by_subject, read.subjects),
            (self._by_target, read.targets),
            (self._by_key, read.keys),
        ]

    def _forget(self, iri: str) -> None:
        found = self._known.pop(iri, None)
        if found is None:
            return
        for index, keys in self._indexes(found.reads):
            for key in keys:
                index.discard(key, iri)

    def _forget_all(self) -> None:
        self._known.clear()
        self._by_record.clear()
        self._by_subject.clear()
        self._by_target.clear()
        self._by_key.clear()

    # --- filling ahead -----------------------------------------------------------------------------------

    def fill(self, products: Callable[[], list[str] | None], judge_all: JudgeAll) -> None:
        """Judge every product in the background (a thread of its own, at the lowest CPU priority; `judge_all`
        judges them all at once) and keep the verdicts; return at once. A fill under way starts over."""
        self.stop_filling()
        with self._fill_lock:
            if self._closed or self._filling is not None:  # closed meanwhile, or another fill began
                return
            stop = self._stop = threading.Event()
            filling = threading.Thread(
                target=self._fill, args=(products, judge_all, stop), name="checklists-fill", daemon=True
            )
            filling.start()  # before it is seen: a stop never joins a thread not yet started
            self._filling = filling

    def _fill(self, products: Callable[[], list[str] | None], judge_all: JudgeAll, stop: threading.Event) -> None:
        _lowest_priority()
        try:
            listed = products() or []
            generation = self.generation
            if listed and not stop.is_set():
                judgement = judge_all(listed, stop)
                if judgement is not None and not stop.is_set():
                    self.keep(judgement, generation)
        except Exception as error:  # the store may be closing; pages judge what they show meanwhile
            if not stop.is_set():
                log.warning("checklist verdicts not filled ahead (pages judge them as they are shown): %s", error)

    @property
    def state(self) -> str:
        """ "filling" while verdicts are judged ahead, else "ready" (for /healthz)."""
        filling = self._filling
        return "filling" if filling is not None and filling.is_alive() else "ready"

    def stop_filling(self, timeout_s: float = 30, *, for_good: bool = False) -> None:
        """Stop a fill under way (a new fill; `for_good`: the catalog's shutdown, after which no fill starts): it
        stops after the query it is running, keeping nothing."""
        with self._fill_lock:
            self._closed = self._closed or for_good
            self._stop.set()
            filling, self._filling = self._filling, None
        if filling is not None and filling is not threading.current_thread():
            filling.join(timeout_s)


class _Readers(dict[str, str | set[str]]):
    """Key -> the products whose verdict read it: most keys (a product's own nodes) have one, kept as the bare
    string (a set of one costs ten times as much)."""

    def add(self, key: str, product: str) -> None:
        known = self.get(key)
        if known is None:
            self[key] = product
        elif isinstance(known, str):
            if known != product:
                self[key] = {known, product}
        else:
            known.add(product)

    def of(self, key: str) -> Iterable[str]:
        known = self.get(key)
        return () if known is None else (known,) if isinstance(known, str) else known

    def discard(self, key: str, product: str) -> None:
        known = self.get(key)
        if known == product:
            del self[key]
        elif isinstance(known, set):
            known.discard(product)
            if len(known) == 1:
                self[key] = known.pop()


def _lowest_priority() -> None:
    """Give this thread the lowest CPU priority (Linux sets niceness per thread): requests come first."""
    with suppress(AttributeError, OSError):  # elsewhere the filler runs at the server's priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


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
