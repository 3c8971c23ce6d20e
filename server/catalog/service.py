"""The Catalog service: the one object every face talks to.

It owns the store, the derived lineage index, the worker threads that store work runs on, and the settings. Faces
(GraphQL, SPARQL, linked data, the CLI) only translate between their protocol and it. Nothing is kept on the store
object or in module state: the service hands faces `catalog.store`, a store whose every write passes the service,
which tells the index exactly which records changed (`IndexedStore`); on a SPARQL server other replicas share, it
also notes them there, and follows what the others note (server/catalog/changes.py). An async face never runs store work on the
event loop: it awaits `catalog.run(...)`, which runs it on a bounded pool of threads, as datasette's
`Database.execute` does (pyoxigraph lets go of the GIL while the engine works, so queries on those threads run
while the loop serves other requests). Heavy questions await `catalog.run_heavy(...)` instead, a pool of its own, so
they never take the threads light ones need; and whole-catalog validation of the embedded store on disk runs in a
worker process on a snapshot (`validate_catalog`), as `/sparql` queries do, never in the server's own process.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO, Any, TypeVar

import anyio
from rdflib import Graph, Literal
from rdflib.term import Node

from server.catalog.bulk_load import bulk_applies, read_batch, write_batch
from server.catalog.changes import EVERYTHING, ChangeFollower, ChangeLog
from server.catalog.checklist_catalog import FILL_TIMEOUT_S, CatalogChecklistJudging, judge_catalog, stop_relayed
from server.catalog.checklist_reads import Judgement
from server.catalog.checklists import Checklists
from server.catalog.events import Event, events_after
from server.catalog.lineage_index import LineageIndex, shared_by_processes
from server.catalog.public_view import PublicView, open_public_view
from server.catalog.put_back import NotPutBack, pending_put_back
from server.catalog.records_copy import RecordsCopy
from server.catalog.restrictions import Restrictions, Visibility, read_restrictions
from server.catalog.seeding import prepare
from server.catalog.webhooks import WebhookDispatcher, checked_urls
from server.catalog.writes import WriteOutcome
from server.errors import BadInput, LimitExceeded, StoreUnavailable
from server.governance.shapes import Shapes, catalog_shapes
from server.governance.sources import BUILTIN, load_shapes, shape_paths
from server.identity.authentication import Authenticator, TokenVerifier
from server.identity.principal import Principal, Role
from server.namespaces import VM
from server.observations.budgets import SloStatus
from server.observations.measurements import Clock, Measurements, Recorded, table_path, utc_now
from server.observations.objectives import objectives_of
from server.observations.risk import GoalRisk
from server.observations.synthetic import seed_products, synthetic_points
from server.observations.table import PointTable
from server.openlineage.observed import ObservedLineage
from server.openlineage.runs import RunTable
from server.query_workers import QueryWorkers
from server.query_workers import available as workers_available
from server.settings import Settings, default_store_location
from server.store import OxigraphStore, Store, open_store
from server.store.base import SelectResult, Triple, is_service_graph
from server.store.sparql import RemoteSparqlStore
from server.validation import CatalogValidation, ValidationReport, validate_store

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredConformance:
    """How the stored catalog fares under the shapes in force, checked when the server started (`/healthz`)."""

    state: str  # "checking", "done", "failed" or "not checked" (the packaged shapes judged every stored write)
    products: int = 0  # stored products with at least one violation
    violations: int = 0
    examples: tuple[str, ...] = ()  # a few of those products' names

    def to_json(self) -> dict[str, object]:
        return {
            "state": self.state,
            "nonconforming_products": self.products,
            "violations": self.violations,
            "examples": list(self.examples),
        }


class IndexedStore:
    """The catalog's store as faces see it: reads go straight through; every write also updates the index.

    It implements the store protocol explicitly, method by method, so a write method added to the protocol cannot
    pass by the index unnoticed (mypy checks this class against `Store`)."""

    def __init__(
        self, backend: Store, index: LineageIndex, changes: ChangeLog | None = None, shapes: Shapes | None = None
    ) -> None:
        self.backend = backend
        self.index = index
        # The shapes in force: every write through this store, and every check of it, uses them (validation.py
        # `shapes_in_force`), so no face can judge by other rules than the catalog's.
        self.shapes = shapes or catalog_shapes()
        self.changes = changes  # on a store other replicas share: where this one notes what it wrote
        self.subscribers: list[Callable[[], None]] = []  # told (without waiting) when a write stored service data
        self.public_view: PublicView | None = None  # the records everyone may read, for SPARQL (public_view.py)
        # Set when a load failed and could not put the store back (put_back.py): the store may hold part of that
        # load, so every later write is refused until the operator has put it back and restarted the server.
        self.halted: str | None = None

    def refuse_when_halted(self) -> None:
        if self.halted is not None:
            raise StoreUnavailable(self.halted)

    # --- reads -------------------------------------------------------------------------------------------

    @property
    def location(self) -> str:
        return self.backend.location

    @location.setter
    def location(self, value: str) -> None:
        self.backend.location = value

    @property
    def queries_run(self) -> int:
        return self.backend.queries_run

    @queries_run.setter
    def queries_run(self, value: int) -> None:
        self.backend.queries_run = value

    def select(self, query: str, bindings: Mapping[str, Node] | None = None) -> SelectResult:
        return self.backend.select(query, bindings)

    def ask(self, query: str, bindings: Mapping[str, Node] | None = None) -> bool:
        return self.backend.ask(query, bindings)

    def construct(self, query: str, bindings: Mapping[str, Node] | None = None) -> Graph:
        return self.backend.construct(query, bindings)

    def query_serialized(
        self,
        query: str,
        media_type: str,
        *,
        bindings: Mapping[str, Node] | None = None,
        default_graphs: Sequence[str] | None = None,
        named_graphs: Sequence[str] | None = None,
        timeout_s: float | None = None,
        max_rows: int | None = None,
    ) -> bytes:
        return self.backend.query_serialized(
            query,
            media_type,
            bindings=bindings,
            default_graphs=default_graphs,
            named_graphs=named_graphs,
            timeout_s=timeout_s,
            max_rows=max_rows,
        )

    def exclusive(self, keys: Iterable[str]) -> AbstractContextManager[None]:
        return self.backend.exclusive(keys)

    def record(self, iri: str) -> Graph:
        return self.backend.record(iri)

    def record_iris(self) -> list[str]:
        return self.backend.record_iris()

    def is_empty(self) -> bool:
        return self.backend.is_empty()

    def quad_count(self) -> int:
        return self.backend.quad_count()

    def dump(self, out: IO[bytes], media_type: str) -> None:
        self.backend.dump(out, media_type)

    # --- writes: each one tells the index ----------------------------------------------------------------

    def replace_records(self, records: Mapping[str, Iterable[Triple]], drop: Iterable[str] = ()) -> None:
        self.refuse_when_halted()
        materialised = {iri: list(triples) for iri, triples in records.items()}
        dropped = list(drop)
        # Service graphs (a write's versions and events) commit with the records but are none: the index and the
        # other replicas' followers only hear of the records.
        written = {iri: triples for iri, triples in materialised.items() if not is_service_graph(iri)}
        gone = [iri for iri in dropped if not is_service_graph(iri)]

        if self.public_view is None:
            refuse_restricted(materialised)

        def write() -> None:
            self.backend.replace_records(materialised, dropped)
            if self.public_view is not None:
                self.public_view.mirror(written, gone)  # with nothing public written, it notes the store's marker
            if self.changes is not None and (written or gone):
                self.changes.written([*written, *gone])

        if written or gone:
            self.index.records_written(written, gone, write=write)
        else:
            write()  # service data alone (an event, a webhook's cursor): nothing the index holds changes
        if len(written) < len(materialised):
            for tell in self.subscribers:
                tell()

    def update(self, sparql: str) -> None:
        self.refuse_when_halted()
        self.index.store_changed(write=partial(self._whole, self.backend.update, sparql))

    def bulk_load(self, data: IO[bytes] | bytes, media_type: str = "application/n-quads") -> None:
        self.refuse_when_halted()
        load: Callable[..., None] = self.backend.bulk_load  # type: ignore[attr-defined]
        self.index.store_changed(write=partial(self._whole, load, data, media_type))

    def _whole(self, write: Callable[..., None], *args: Any) -> None:
        """A write whose records are not known one by one: other replicas read everything again."""
        write(*args)
        if self.public_view is not None:
            self.public_view.rebuild()
        if self.changes is not None:
            self.changes.written([EVERYTHING])

    def close(self) -> None:
        self.backend.close()


def refuse_restricted(records: Mapping[str, list[Triple]]) -> None:
    """Restricted products need the public view of the embedded store; a remote SPARQL store would serve them to
    anyone who can query it, so they are refused there before anything is written."""
    for iri, triples in records.items():
        if any(p == VM.restricted and o == Literal(True) for _, p, o in triples):
            raise BadInput(
                f"<{iri}> is marked vm:restricted, which this catalog cannot honour on a remote SPARQL store (its "
                "own endpoint would serve the record to anyone); store restricted products on the embedded store"
            )


class Catalog:
    """See the module docstring. Build it with `Catalog(settings)` (or around a store of your own), then `open()`.
    The shapes in force are read and checked here, so bad ones stop a catalog before anything starts."""

    def __init__(
        self, settings: Settings, store: Store | None = None, shapes: Shapes | None = None, *, clock: Clock = utc_now
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._measurements: Measurements | None = None
        self.shapes = shapes or load_shapes(settings.shapes)
        builtin = all(entry.strip().lower() == BUILTIN for entry in settings.shapes)
        self._shape_files = None if builtin else shape_paths(settings.shapes)
        self.stored_conformance = StoredConformance("not checked")
        self._given = store
        self._backend: Store | None = store
        self.index: LineageIndex | None = None
        self._store: Store | None = None
        self._threads = anyio.CapacityLimiter(settings.worker_threads)
        self._heavy_threads = anyio.CapacityLimiter(settings.heavy_threads)
        self._validation_workers: QueryWorkers | None = None
        self._long_lived = False
        self._follower: ChangeFollower | None = None
        self._identity: Authenticator | None = None
        self._webhooks: WebhookDispatcher | None = None
        self._restrictions: tuple[str | None, Restrictions] | None = None
        self._restrictions_lock = threading.Lock()
        self.public_view: PublicView | None = None
        self._records_copy: RecordsCopy | None = None
        self._records_copy_lock = threading.Lock()
        self._observed: ObservedLineage | None = None
        self.checklists = Checklists(self.shapes)  # products' checklist verdicts, following writes (checklists.py)

    def open(self) -> Catalog:
        """Open the store (seeding an empty one, unless a store was given), and start building the index."""
        seeding = False
        if self._backend is None:
            self._backend = open_store(self.settings.store)
            pending = pending_put_back(self._backend) if isinstance(self._backend, OxigraphStore) else None
            if pending is None:  # a store that may hold part of a load is neither put right nor seeded
                prepare(self._backend, with_seed=self.settings.seed, shapes=self.shapes)
                seeding = self.settings.seed
        self.index = LineageIndex(self._backend, background=True, after_build=self._settle)
        changes = None
        if shared_by_processes(self._backend):
            changes = ChangeLog(self._backend)
            self._follower = ChangeFollower(changes, self.index)
            self._follower.start()
        self._store = IndexedStore(self._backend, self.index, changes, self.shapes)
        if isinstance(self._backend, OxigraphStore) and (pending := pending_put_back(self._backend)) is not None:
            log.error("%s", pending.for_operator(str(self._backend.path)))
            self._store.halted = pending.for_clients()
        try:
            self.public_view = open_public_view(self._backend)
            if isinstance(self._backend, OxigraphStore):
                self.restrictions()  # read now, not in the first request
        except Exception:  # a store that cannot answer now: SPARQL refuses outsiders (sparql_datasets.py), fails closed
            log.exception(
                "cannot build the public view of %s; SPARQL answers only GOVERNANCE and ADMIN", self._backend.location
            )
        if self.public_view is not None:
            self._store.public_view = self.public_view
        # Tokens are service data, not records: read and written on the store itself, past the index.
        self._identity = Authenticator(self.settings, self._backend, oidc_verifier(self.settings, self._backend))
        path = table_path(self.settings, self._backend)
        new_table = path is None or not path.exists()
        marker = self._backend.marker if isinstance(self._backend, OxigraphStore) else None
        self._measurements = Measurements(PointTable(path), self.settings, self._clock, marker)
        self._measurements.summarise_in_background(self._store)
        self._measurements.definitions.follow_writes()
        self.index.listen(self._measurements.definitions)
        self.index.listen(self.checklists)
        if seeding and new_table:
            self.seed_measurements()
        self._observed = ObservedLineage(
            self._store,
            RunTable(run_table_path(self.settings, self._backend)),
            max_events=self.settings.lineage_max_events,
            drift_days=self.settings.lineage_drift_days,
            retention_days=self.settings.lineage_retention_days,
        )
        self.index.ready()  # start building now, in the background, rather than on the first lineage question
        return self

    @property
    def store(self) -> Store:
        """The store every face reads and writes through."""
        if self._store is None:
            raise RuntimeError("the catalog is not open")
        return self._store

    @property
    def backend(self) -> Store:
        """The store itself (its own kind: embedded, in memory, remote), for what depends on the kind."""
        if self._backend is None:
            raise RuntimeError("the catalog is not open")
        return self._backend

    @property
    def identity(self) -> Authenticator:
        if self._identity is None:
            raise RuntimeError("the catalog is not open")
        return self._identity

    @property
    def measurements(self) -> Measurements:
        """SLI measurements: their table, SLO statuses, goals at risk (server/observations/)."""
        if self._measurements is None:
            raise RuntimeError("the catalog is not open")
        return self._measurements

    def record_measurements(self, points: Any, principal: Principal) -> Recorded:
        """Store SLI points (the dicts of `POST /api/v1/measurements`: slo, time, good and total or value, id),
        all or nothing, as `principal`, who needs the right to write each product promising one of the SLOs;
        returns once they are in the table (blocking: call it through `run`). The graph's SLO status summaries of
        those products are written again in the background within `slo_summary_interval_s`
        (`flush_summaries` waits for them); sloStatus and goalsAtRisk count the points at once."""
        return self.measurements.record(self.store, points, principal)

    def flush_summaries(self) -> None:
        """Write the SLO status summaries still waiting for the background summariser, now (blocking)."""
        self.measurements.flush_summaries()

    def slo_statuses(self, store: Store, products: list[str]) -> dict[str, list[SloStatus]]:
        """Each product's SLO statuses over their current periods (blocking; a loader's batch)."""
        return self.measurements.statuses_of(store, products)

    def goals_at_risk(self, visibility: Visibility | None = None) -> list[GoalRisk]:
        """Goals put at risk by products whose SLO budgets are at risk or spent, as `visibility` may read them."""
        hidden = visibility.hidden if visibility is not None and visibility.hides_anything else None
        return self.measurements.goals_at_risk(self.store, self.index, hidden)

    def seed_measurements(self) -> int:
        """Four weeks of synthetic points for the seed's SLOs (server/observations/synthetic.py), with their
        summaries; the number of points written."""
        store = self.store
        found = objectives_of(store, seed_products(self.settings.base))
        points = synthetic_points(found.values(), self.measurements.clock(), self.settings.base)
        if points:
            self.measurements.table.add(points)
            self.measurements.write_summaries(store, sorted({found[p.slo].product for p in points}))
        return len(points)

    @property
    def observed_lineage(self) -> ObservedLineage:
        """OpenLineage runs taken in, and lineage drift (server/openlineage/observed.py; blocking: use `run`)."""
        if self._observed is None:
            raise RuntimeError("the catalog is not open")
        return self._observed

    def restrictions(self) -> Restrictions:
        """The restricted products as the store has them now: read again after a write of records (the store's
        marker, store/oxigraph.py), not after writes of tokens or claims.

        Only the embedded store can hold restricted products (IndexedStore refuses them on a remote SPARQL store)."""
        cached = self.cached_restrictions()
        if cached is not None:
            return cached
        with self._restrictions_lock:
            marker = self.backend.marker()  # type: ignore[attr-defined]
            if self._restrictions is None or self._restrictions[0] != marker:
                self._restrictions = (marker, read_restrictions(self.backend))
            return self._restrictions[1]

    def cached_restrictions(self) -> Restrictions | None:
        """The restrictions when they are known to be current without asking the store a question, else None."""
        if not isinstance(self.backend, OxigraphStore):
            return Restrictions()
        known = self._restrictions
        if known is not None and known[0] == self.backend.marker():
            return known[1]
        return None

    def visibility(self, principal: Principal) -> Visibility:
        """What `principal` may not read, as of now (store work: call it through `run`)."""
        return self.restrictions().visibility(principal)

    async def authenticate(self, authorization: str | None) -> Principal:
        """The caller an `Authorization` header stands for (Unauthenticated when it does not hold)."""
        if authorization is None or not authorization.strip():
            return self.identity.anonymous()  # nothing to look up: no thread needed
        return await self.run(self.identity.principal, authorization)

    def load_files(self, files: list[Path], actor: Principal) -> WriteOutcome:
        """Records from RDF files, validated, all or nothing (blocking). An ADMIN's batch on the embedded store takes
        the bulk path on the store itself, and the index is rebuilt after it; any other goes record by record. When
        the bulk path cannot put the store back after a failure, the log names the copy it kept and the command; the
        caller is told only that the operator must act, and every later write is refused until then."""
        if isinstance(self._store, IndexedStore):
            self._store.refuse_when_halted()  # the bulk path writes on the store itself, past IndexedStore
        batch = read_batch(files)
        try:
            backend = self.backend
            if bulk_applies(backend) and actor.has(Role.ADMIN) and self.index is not None:
                written: list[WriteOutcome] = []
                self.index.store_changed(
                    write=lambda: written.append(write_batch(backend, batch, actor=actor, shapes=self.shapes))
                )
                return written[0]
            return write_batch(self.store, batch, actor=actor, shapes=self.shapes)
        except NotPutBack as error:
            log.error("a load by %s: %s", actor.id, error)
            told = error.for_clients()
            if isinstance(self._store, IndexedStore):
                self._store.halted = str(told)
            raise told from None
        finally:
            batch.close()

    def events_after(self, cursor: str | None, limit: int) -> list[Event]:
        """The events feed: up to `limit` events after `cursor`, in order."""
        return events_after(self.backend, cursor, limit)

    def start_webhooks(self) -> None:
        """Start posting events to `VALUEMESH_WEBHOOKS` (the server's lifespan calls it; CLI commands do not)."""
        urls = self.settings.webhooks
        if not urls or self._webhooks is not None:
            return
        if not self.settings.webhook_secret:
            raise BadInput("VALUEMESH_WEBHOOKS needs VALUEMESH_WEBHOOK_SECRET: receivers check each event's signature")
        dispatcher = WebhookDispatcher(
            self.backend,
            checked_urls(urls),
            self.settings.webhook_secret,
            backoff_s=self.settings.webhook_backoff_s,
        )
        dispatcher.start()
        store = self.store
        if isinstance(store, IndexedStore):
            store.subscribers.append(dispatcher.wake)  # a write of this process wakes it at once
        self._webhooks = dispatcher

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """Run store work on one of the catalog's threads and wait for it without blocking the event loop."""
        return await anyio.to_thread.run_sync(partial(work, *args), limiter=self._threads)

    async def run_heavy(self, work: Callable[..., T], *args: Any) -> T:
        """As `run`, for work that takes seconds (whole-catalog validation): on threads of its own, at most
        `heavy_threads` at once, so however much of it is asked, light work still finds a thread."""
        return await anyio.to_thread.run_sync(partial(work, *args), limiter=self._heavy_threads)

    def start_workers(self) -> None:
        """Start the worker processes whole-catalog validation runs in, when the store is the embedded store on disk
        (the server's lifespan calls it; CLI commands validate in their own process); on a remote SPARQL store,
        start copying its records for the SPARQL endpoint, so the copy is ready by the first question."""
        backend = self.backend
        self.records_copy()
        if self._validation_workers is None and isinstance(backend, OxigraphStore) and workers_available(backend):
            workers = QueryWorkers(
                backend,
                # Two: filling the checklist verdicts after an index build is one whole-catalog job (minutes of a
                # niced core at 100k), and a validation asked meanwhile runs beside it rather than after it.
                workers=2,
                memory_limit_bytes=self.settings.validation_max_memory_mb * 2**20,
                name="validation",
            )
            workers.start()
            self._validation_workers = workers

    def keep_long_lived(self) -> None:
        """Take what the server holds for good (the index, the store's and the app's objects) out of Python's
        cyclic garbage collector, now and after each index build (`valuemesh serve` calls it: it is process-wide).

        A full collection walks every object the process holds: with the index of a large catalog that is a pause
        of a large fraction of a second, stalling whatever request is running when it comes."""
        self._long_lived = True
        gc.collect()  # once, at start: what is garbage now is not kept for good
        gc.freeze()

    def _settle(self) -> None:
        """After each build of the index (in its thread): read what goals at risk need, start filling the
        checklist verdicts ahead, then settle memory."""
        if self._measurements is not None and self._store is not None:
            try:
                self._measurements.warm(self._store, self.index)
            except Exception as error:  # the store may be closing; the first question reads them instead
                log.warning("SLO definitions not read ahead: %s", error)
        if self._store is not None and self.index is not None:
            self.checklists.fill(self.index.products, self._judge_checklists)
        if self._long_lived:
            gc.freeze()

    def _judge_checklists(self, iris: list[str], stop: threading.Event) -> Judgement | None:
        """Every product's checklist verdict with what each read (blocking; None once `stop` is set): in the
        validation worker process on a snapshot when there is one, so the filler takes neither this process's CPU
        nor its interpreter lock."""
        workers = self._validation_workers
        if workers is None:
            return judge_catalog(self.store, iris, stopped=stop.is_set)
        with stop_relayed(stop) as marker:
            timeout_s = max(self.settings.validation_timeout_s, FILL_TIMEOUT_S)
            job = CatalogChecklistJudging(tuple(iris), timeout_s, self._shape_files, str(marker))
            return workers.run(job)

    def validate_catalog(self) -> ValidationReport:
        """The checklist report of the whole stored catalog (blocking; call it through `run_heavy`): in a worker
        process on a snapshot showing every write made so far when they are started, else on this thread."""
        workers = self._validation_workers
        if workers is None:
            return validate_store(self.store, self.shapes)
        timeout_s = self.settings.validation_timeout_s
        try:
            return workers.run(CatalogValidation(timeout_s, self._shape_files))
        except LimitExceeded as error:
            if error.limit == "memory":
                raise LimitExceeded(
                    f"validating the whole catalog needed more than {self.settings.validation_max_memory_mb} MB of "
                    "memory, the limit of this catalog, and was stopped; validate chosen records with "
                    "`validation(ids:)`",
                    limit="memory",
                ) from None
            raise LimitExceeded(
                f"validating the whole catalog took longer than the time limit of {timeout_s:g} s (or waited that "
                "long for another validation to finish) and was stopped; validate chosen records with "
                "`validation(ids:)`",
                limit="time",
            ) from None
        except StoreUnavailable:
            raise StoreUnavailable("validating the whole catalog failed; the server log has the details") from None

    def start_conformance_check(self) -> None:
        """With shapes of its own in force, check the stored catalog against them in the background (the server's
        lifespan calls it): products that no longer conform are reported (log, `/healthz`), never removed."""
        if self._shape_files is None:
            return
        self.stored_conformance = StoredConformance("checking")
        threading.Thread(target=self._check_stored, name="valuemesh-conformance", daemon=True).start()

    def _check_stored(self) -> None:
        try:
            report = self.validate_catalog()
        except Exception:
            log.exception("could not check the stored catalog against the shapes in force")
            self.stored_conformance = StoredConformance("failed")
            return
        failing = sorted({r.record_name or r.record for r in report.violations if r.record})  # type: ignore[misc]
        self.stored_conformance = StoredConformance("done", len(failing), len(report.violations), tuple(failing[:5]))
        if failing:
            log.warning(
                "%d stored product(s) do not conform to the shapes in force (%d violation(s)), e.g. %s; they are kept: "
                "`valuemesh validate` lists every violation",
                len(failing),
                len(report.violations),
                ", ".join(failing[:5]),
            )
        else:
            log.info("the stored catalog conforms to the shapes in force")

    def records_copy(self) -> RecordsCopy | None:
        """On a remote SPARQL store, the copy of its records `/sparql` answers from (records_copy.py), started at the
        first call; None on the embedded store, whose public view serves that purpose."""
        if self.index is None or not isinstance(self.backend, RemoteSparqlStore):
            return None
        with self._records_copy_lock:
            if self._records_copy is None:
                copy = RecordsCopy(self.backend)
                self.index.listen(copy)  # before the copy reads a page: no write is missed
                copy.start()
                self._records_copy = copy
            return self._records_copy

    def close(self) -> None:
        """Stop delivering webhooks and following other replicas; close the store if the catalog opened it."""
        self.checklists.stop_filling(for_good=True)
        if self._observed is not None:
            self._observed.close()  # its pending summaries are written first, while the store and its view are open
            self._observed = None
        if self._measurements is not None:
            self._measurements.stop_summaries()  # the waiting summaries, while the store and its views are open
        if self._webhooks is not None:
            self._webhooks.stop()
            self._webhooks = None
        if self._follower is not None:
            self._follower.stop()
        if self._validation_workers is not None:
            self._validation_workers.close()
            self._validation_workers = None
        if self.public_view is not None:
            self.public_view.close()
            self.public_view = None
            if isinstance(self._store, IndexedStore):
                self._store.public_view = None
        with self._records_copy_lock:
            if self._records_copy is not None:
                self._records_copy.close()
                self._records_copy = None
        if self._measurements is not None:
            self._measurements.close()
            self._measurements = None
        if self._given is None and self._backend is not None:
            self._backend.close()


def run_table_path(settings: Settings, backend: Store) -> Path | None:
    """Where the OpenLineage run table lives: as configured; else beside the embedded store on disk
    (`<store>.lineage-runs.sqlite`), in memory with a store in memory, in the default data directory for a remote
    store (one process takes events in: docs/openlineage.md)."""
    if settings.lineage_runs:
        return Path(settings.lineage_runs).expanduser()
    if isinstance(backend, OxigraphStore):
        return None if backend.path is None else backend.path.with_name(backend.path.name + ".lineage-runs.sqlite")
    return Path(default_store_location()).with_name("lineage-runs.sqlite")


def oidc_verifier(settings: Settings, store: Store) -> TokenVerifier | None:
    """The OIDC token verifier when an issuer is configured (`store`: where `org:memberOf` names domains)."""
    if not settings.oidc_issuer:
        return None
    from server.identity.oidc import OidcVerifier  # only catalogs with an issuer need the JWT libraries

    return OidcVerifier.from_settings(settings, store)
