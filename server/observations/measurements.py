"""The measurements side of the Catalog service: ingest, SLO statuses, goals at risk (blocking work; faces call
it through `catalog.run`).

The points live in a SQLite table beside the store (`table.py`); the statuses of the products a batch touched are
computed again and written to the graph as DQV summaries (`summaries.py`) through the catalog's store, which tells
the index, the public view and other replicas as for any write: by a background summariser (`summariser.py`),
coalesced and at most every few seconds, so a batch returns once its points are in the table.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rdflib import RDF, URIRef

from server.catalog.lineage import Direction, EdgeSource, sparql_step
from server.identity.policy import authorize_records, require_writer
from server.identity.principal import Principal, Role
from server.namespaces import DPROD, ODRL, VM
from server.observations.budgets import BurnAlert, BurnAlerts, SloStatus, statuses_of
from server.observations.objectives import FACT_PREDICATES, Objective, objectives, objectives_of
from server.observations.points import checked_points
from server.observations.risk import GoalLinks, GoalRisk, LinkFacts, Reaches, goal_links, goals_at_risk
from server.observations.summaries import summary_graph, summary_triples
from server.observations.summariser import Summariser
from server.observations.table import Point, PointTable
from server.settings import Settings
from server.store.base import Store, Triple
from server.store.oxigraph import OxigraphStore

Clock = Callable[[], datetime]

# What the SLO definitions are read from (objectives.py) and what the goal links are (risk.py).
DEFINING_PREDICATES = frozenset({ODRL.hasPolicy, VM.serviceLevelObjective, *map(URIRef, FACT_PREDICATES)})
LINK_PREDICATES = frozenset({VM.servedBy, VM.helpsAchieve, VM.subGoalOf})
# Records written since the last goals-at-risk question beyond which, with the lineage index not ready, every
# product's reach is walked again rather than the written records' sources asked of SPARQL (a bulk write); the
# index answers for any number (the summariser's writes name thousands of summary graphs at 100k products).
FORGET_ALL_AFTER = 2000
KEEP_WRITTEN = 200_000  # written records noted between questions at most (then: everything may have changed)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Checked:
    """A batch's usable points and the products whose SLOs they measure."""

    points: list[Point]
    products: list[str]


@dataclass(frozen=True)
class Recorded:
    """What a batch did: points new to the table, and points sent before (counted once)."""

    accepted: int
    duplicates: int
    products: list[str]


def table_path(settings: Settings, backend: Store) -> Path | None:
    """The SQLite file: `VALUEMESH_MEASUREMENTS`, else beside the embedded store on disk (`<store>.measurements
    .sqlite`, as its public view is `<store>.public`); None (in memory) for `memory:` and a remote store, whose
    points then live as long as the process (docs/measurements.md: one process owns ingest)."""
    if settings.measurements:
        return Path(settings.measurements)
    if isinstance(backend, OxigraphStore) and backend.path is not None:
        return backend.path.with_name(backend.path.name + ".measurements.sqlite")
    return None


def burn_alerts(settings: Settings) -> BurnAlerts:
    return BurnAlerts(
        fast=BurnAlert(settings.slo_fast_burn, settings.slo_fast_window, settings.slo_fast_confirm),
        slow=BurnAlert(settings.slo_slow_burn, settings.slo_slow_window, settings.slo_slow_confirm),
    )


class Definitions:
    """The SLOs stored products promise and the goal tree's links, remembered between questions: every batch needs
    the definitions, and reading a thousand SLOs by IRI takes the embedded store a good part of a second, the
    links a scan of the use cases (bench/bench_measurements.py).

    Kept current one of two ways. Inside a catalog, the lineage index tells it of every write of records, this
    process's own and, on a shared SPARQL store, those other replicas note (`records_changed`, `everything_changed`;
    server/catalog/lineage_index.py), and only what a write touched is read again: after a product is written, its
    own SLOs; after a use case or goal is written, its own links (risk.py `LinkFacts`). Alone (a store and a marker, no catalog), everything is forgotten when the store's marker changes; with
    neither, nothing is remembered.

    What a write touches, as the lineage index reads records: a record's IRI and every node its triples link by the
    predicates the definitions and links are made of. A record stating another record's SLO facts is seen when it is
    written, not when it is dropped (the catalog's records state their own)."""

    def __init__(self, marker: Callable[[], str | None] | None) -> None:
        self._marker = marker
        self._told = False  # whether writes are told (then the marker is not needed)
        self._lock = threading.Lock()
        self._as_of: str | None = None
        self._generation = 0  # counts writes told, so that a read that overlapped one is not kept
        self._content = 0  # counts changes to the definitions remembered (`version`)
        self._by_slo: dict[str, Objective | None] = {}
        self._by_product: dict[str, list[Objective]] = {}
        self._links: LinkFacts | None = None
        self._links_lock = threading.Lock()  # one thread reads the links at a time (LinkFacts is not thread-safe)
        self._links_epoch = 0  # counts writes that make every link fact unknown
        self._links_dirty: set[str] = set()  # nodes whose link facts a write may have changed
        self._links_reading = False  # a full read of the link facts is under way
        self._links_changed: set[str] | None = set()  # products whose use cases changed since `take_links_changed`
        self._written: set[str] | None = set()  # records written since `take_written` (None: everything may have)

    def follow_writes(self) -> None:
        """From now on every write of records is told (`records_changed`); the marker is no longer asked."""
        with self._lock:
            self._told = True
            self._forget_all()

    def _forget_all(self) -> None:
        self._written = None
        self._links_changed = None
        self._content += 1
        self._by_slo.clear()
        self._by_product.clear()
        self._links = None
        self._links_epoch += 1
        self._links_dirty.clear()
        self._generation += 1

    def _current(self) -> int | None:
        """The generation reads may be kept under, or None when nothing may be remembered (call under the lock)."""
        if self._told:
            return self._generation
        now = self._marker() if self._marker is not None else None
        if now is None or now != self._as_of:
            self._forget_all()
            self._as_of = now
        return None if now is None else self._generation

    def records_changed(self, records: Mapping[str, Iterable[Triple]], dropped: Iterable[str]) -> None:
        """Records were written or dropped: forget what they may have changed."""
        written = set(records) | set(dropped)
        touched = set(written)
        linking: set[str] = set()  # subjects of link facts in the new triples
        for triples in records.values():
            for s, p, o in triples:
                if p in LINK_PREDICATES:
                    linking.add(str(s))
                elif p in DEFINING_PREDICATES or (p == RDF.type and o == DPROD.DataProduct):
                    touched.add(str(s))
                    touched.add(str(o))
        with self._lock:
            self._generation += 1
            if self._written is not None:
                self._written |= written
                if len(self._written) > KEEP_WRITTEN:  # nobody asked for a long while: everything is walked again
                    self._written = None
            facts = self._links
            # A record states its own node's facts: those of a use case or goal known before, or stating links now.
            # With no facts read yet, the next full read sees the write, unless it is under way now.
            if facts is not None:
                self._links_dirty |= linking | {iri for iri in written if facts.knows(iri)}
            elif self._links_reading:
                self._links_dirty |= linking | written
            for slo, objective in list(self._by_slo.items()):
                if objective is None or slo in touched or objective.product in touched:
                    del self._by_slo[slo]
                    self._content += 1
            for product, promised in list(self._by_product.items()):
                if product in touched or any(o.iri in touched for o in promised):
                    del self._by_product[product]

    def everything_changed(self) -> None:
        """A write the index cannot read record by record (a bulk load, a SPARQL update): forget everything."""
        with self._lock:
            self._forget_all()

    def of_slos(self, store: Store, iris: Iterable[str]) -> dict[str, Objective]:
        wanted = list(dict.fromkeys(iris))
        with self._lock:
            generation = self._current()
            missing = [iri for iri in wanted if iri not in self._by_slo]
        found = objectives(store, missing) if missing else {}
        with self._lock:
            known = {iri: self._by_slo.get(iri) for iri in wanted}
            known.update({iri: found.get(iri) for iri in missing})
            if generation is not None and generation == self._generation:
                self._by_slo.update({iri: found.get(iri) for iri in missing})
        return {iri: objective for iri, objective in known.items() if objective is not None}

    def of_products(self, store: Store, products: Iterable[str]) -> dict[str, list[Objective]]:
        wanted = list(dict.fromkeys(products))
        with self._lock:
            generation = self._current()
            missing = [iri for iri in wanted if iri not in self._by_product]
        read: dict[str, list[Objective]] = {product: [] for product in missing}
        for objective in sorted(objectives_of(store, missing).values() if missing else (), key=_iri):
            if objective.product in read:  # an SLO two products claim counts for the first (objectives.py)
                read[objective.product].append(objective)
        with self._lock:
            known = {product: list(self._by_product.get(product, [])) for product in wanted}
            known.update(read)
            if generation is not None and generation == self._generation:
                self._by_product.update(read)
                self._by_slo.update({o.iri: o for promised in read.values() for o in promised})
        return known

    def links(self, store: Store) -> GoalLinks:
        """The products' use cases and the goal tree (risk.py): read once, then only what writes touched."""
        with self._links_lock:
            with self._lock:
                remembered = self._current() is not None
                facts, epoch = self._links, self._links_epoch
                dirty, self._links_dirty = self._links_dirty, set()
            if not remembered:
                return goal_links(store)
            fresh = facts is None
            if facts is None:
                with self._lock:
                    self._links_reading = True
                try:
                    facts = LinkFacts(store)  # writes told while it reads are read again by the next question
                finally:
                    with self._lock:
                        self._links_reading = False
            changed = facts.reread(store, dirty)
            with self._lock:
                if epoch == self._links_epoch:
                    self._links = facts
                if fresh or changed is None:
                    self._links_changed = None
                elif self._links_changed is not None:
                    self._links_changed |= changed
                    if len(self._links_changed) > KEEP_WRITTEN:
                        self._links_changed = None
            return facts.links

    def take_links_changed(self) -> set[str] | None:
        """The products whose use cases changed since the last call (None: any may have, or the goal tree)."""
        with self._lock:
            changed, self._links_changed = self._links_changed, set()
        return changed

    def version(self) -> int | None:
        """A number that changes whenever a definition remembered may have (None: nothing is remembered)."""
        with self._lock:
            return None if self._current() is None else self._content

    def take_written(self) -> set[str] | None:
        """The records written or dropped since the last call (None: anything may have changed; with no writes told,
        the marker's changes count as such)."""
        with self._lock:
            self._current()
            written, self._written = self._written, set()
        return written

    def own_write(self, before: str | None, after: str | None) -> None:
        """The summaries changed the marker from `before` to `after`: what was read under `before` still holds."""
        with self._lock:
            if before is not None and before == self._as_of:
                self._as_of = after


class Measurements:
    """See the module docstring; `clock` says what "now" is (tests fix it); `marker` is the store's marker
    (server/store/oxigraph.py), when it has one."""

    def __init__(
        self,
        table: PointTable,
        settings: Settings,
        clock: Clock = utc_now,
        marker: Callable[[], str | None] | None = None,
    ) -> None:
        self.table = table
        self.settings = settings
        self.clock = clock
        self.alerts = burn_alerts(settings)
        self.marker = marker
        self.definitions = Definitions(marker)
        self.reaches = Reaches()  # what each product reaches downstream, kept current by `goals_at_risk`
        self._known: dict[str, SloStatus] = {}  # statuses computed lately, by SLO (dropped when a point arrives)
        self._measured_memo: tuple[tuple[int | None, int], datetime, list[SloStatus]] | None = None
        self._risks_memo: tuple[tuple[Any, GoalLinks, int], list[GoalRisk]] | None = None
        self._lock = threading.Lock()
        self.summariser: Summariser | None = None

    # --- ingest ---------------------------------------------------------------------------------------------

    def record(self, store: Store, batch: Any, principal: Principal) -> Recorded:
        """Check, authorise and store a batch of points (the dicts of `POST /api/v1/measurements`), all or
        nothing, and return once they are in the table. The touched products' summaries are then written by the
        background summariser when there is one (`summarise_in_background`: within its interval), else here.
        `store` is the catalog's store (writes notify)."""
        checked = self.check(store, batch, principal)
        recorded = self.keep([checked])
        if self.summariser is not None:
            self.summariser.note(recorded.products)
        else:
            self.write_summaries(store, recorded.products)
        return recorded

    def summarise_in_background(self, store: Store) -> None:
        """Write the summaries of products that batches touched from a background thread, coalesced, at most
        every `slo_summary_interval_s` (summariser.py), through `store`."""
        if self.summariser is None:
            self.summariser = Summariser(
                lambda products: self.write_summaries(store, products), self.settings.slo_summary_interval_s
            )

    def flush_summaries(self) -> None:
        """Write the summaries still waiting for the background summariser now (tests; the catalog's shutdown)."""
        if self.summariser is not None:
            self.summariser.flush()

    def stop_summaries(self) -> None:
        """Write what waits and stop the background summariser (before the store and its views close)."""
        if self.summariser is not None:
            self.summariser.close()

    def check(self, store: Store, batch: Any, principal: Principal) -> Checked:
        """The batch's points, if every one is usable (else BadItems) and `principal` may write each product
        promising one of their SLOs (else Unauthenticated or Forbidden); nothing is stored yet."""
        require_writer(principal)
        now = self.clock()
        points, known = checked_points(
            batch,
            lambda iris: self.definitions.of_slos(store, iris),
            now=now,
            oldest=now - self.retention,
            max_points=self.settings.max_measurements,
        )
        products = sorted({known[p.slo].product for p in points})
        if not principal.has(Role.ADMIN):
            for product in products:  # the right to write the product that promises the SLO (identity/policy.py)
                authorize_records(principal, store, {product: store.record(product)})
        return Checked(points, products)

    def keep(self, batches: Iterable[Checked]) -> Recorded:
        """Store checked batches in one transaction (points older than the retention go in the same one)."""
        chosen = list(batches)
        points = [point for batch in chosen for point in batch.points]
        prune = round((self.clock() - self.retention).timestamp() * 1000)
        added = self.table.add(points, prune_before_ms=prune)
        with self._lock:
            for slo in {p.slo for p in points}:
                self._known.pop(slo, None)
        products = sorted({product for batch in chosen for product in batch.products})
        return Recorded(added, len(points) - added, products)

    @property
    def retention(self) -> timedelta:
        return timedelta(days=self.settings.measurement_retention_days)

    def write_summaries(self, store: Store, products: Iterable[str]) -> None:
        """Compute the products' SLO statuses now and replace their summary graphs."""
        statuses = self.statuses_of(store, list(products))
        records: dict[str, list[Triple]] = {
            summary_graph(product): summary_triples(product, found) for product, found in statuses.items()
        }
        if records:
            before = self.marker() if self.marker is not None else None
            store.replace_records(records)
            self.definitions.own_write(before, self.marker() if self.marker is not None else None)

    # --- questions ------------------------------------------------------------------------------------------

    def status(self, objective: Objective, now: datetime | None = None) -> SloStatus:
        """One SLO's status now (reused when computed within `slo_status_max_age_s` and no point came since)."""
        return self.statuses([objective], now)[0]

    def statuses(self, chosen: list[Objective], now: datetime | None = None) -> list[SloStatus]:
        """Many SLOs' statuses now: those computed lately reused, the others in one question per period."""
        moment = now or self.clock()
        age = timedelta(seconds=self.settings.slo_status_max_age_s)
        with self._lock:
            known = {o.iri: self._known.get(o.iri) for o in chosen}
        fresh = {
            iri: found
            for iri, found in known.items()
            if found is not None and timedelta(0) <= moment - found.computed_at < age
        }
        stale = [o for o in chosen if o.iri not in fresh or fresh[o.iri].objective != o]
        computed = statuses_of(stale, self.table, moment, self.alerts)
        with self._lock:
            self._known.update({status.objective.iri: status for status in computed})
        by_iri = {**fresh, **{status.objective.iri: status for status in computed}}
        return [by_iri[o.iri] for o in chosen]

    def statuses_of(self, store: Store, products: list[str]) -> dict[str, list[SloStatus]]:
        """Each product's SLO statuses (every SLO it promises, UNKNOWN where unmeasured), in SLO order."""
        found = self.definitions.of_products(store, products)
        computed = iter(self.statuses([o for product in products for o in found[product]]))
        return {product: [next(computed) for _ in found[product]] for product in products}

    def measured_statuses(self, store: Store) -> list[SloStatus]:
        """The statuses of every SLO that has points and that a stored product still promises: the list computed
        last is reused while no point arrived, no definition changed and it is younger than `slo_status_max_age_s`
        (each status in it would be reused as such anyway; at 100k products the list of 13k took ~0.5 s)."""
        now = self.clock()
        version = self.definitions.version()
        key = (version, self.table.version)
        with self._lock:
            memo = self._measured_memo
        age = timedelta(seconds=self.settings.slo_status_max_age_s)
        if version is not None and memo is not None and memo[0] == key and timedelta(0) <= now - memo[1] < age:
            return memo[2]
        found = self.definitions.of_slos(store, self.table.measured())
        computed = self.statuses(sorted(found.values(), key=_iri), now)
        if version is not None and key == (self.definitions.version(), self.table.version):
            with self._lock:
                self._measured_memo = (key, now, computed)
        return computed

    def warm(self, store: Store, index: EdgeSource | None = None) -> None:
        """Work out ahead what `goals_at_risk` needs (the measured SLOs' definitions and statuses, the goal links,
        what the products at risk reach), if anything is measured: at 100k products that is seconds, better spent
        before the first question than in it."""
        if self.table.measured():
            self.goals_at_risk(store, index)

    def goals_at_risk(
        self, store: Store, index: EdgeSource | None = None, hidden: Callable[[str], bool] | None = None
    ) -> list[GoalRisk]:
        links = self.definitions.links(store)
        written = self.definitions.take_written()
        relinked = self.definitions.take_links_changed()
        upstream = index.step(Direction.UPSTREAM) if index is not None else None
        if written is None or relinked is None or (upstream is None and len(written) > FORGET_ALL_AFTER):
            self.reaches.forget_all()
        else:
            if written:
                step = upstream or sparql_step(store, Direction.UPSTREAM)
                written |= {source for source, _, _ in step(sorted(written))}
            self.reaches.forget(written | relinked)
        statuses = self.measured_statuses(store)
        if hidden is not None:
            return goals_at_risk(store, statuses, links=links, index=index, hidden=hidden)
        # The same causes over the same links and reaches give the same answer: the last one is reused.
        causes = tuple((s.objective.iri, s.objective.product, s.status) for s in statuses if s.status.at_risk)
        key = (causes, links, self.reaches.version)
        with self._lock:
            memo = self._risks_memo
        if memo is not None and memo[0][0] == causes and memo[0][1] is links and memo[0][2] == key[2]:
            return list(memo[1])
        risks = goals_at_risk(store, statuses, links=links, index=index, remembered=self.reaches)
        if self.reaches.version == key[2]:
            with self._lock:
                self._risks_memo = (key, risks)
        return list(risks)

    def close(self) -> None:
        self.stop_summaries()
        self.table.close()


def _iri(objective: Objective) -> str:
    return objective.iri
