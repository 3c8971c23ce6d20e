"""Users' SPARQL on the embedded store, run in worker processes that can be stopped and cannot reach the network.

A query the engine cannot stream (ORDER BY, GROUP BY, DISTINCT over a large join) is built whole in memory before
its first row, and a thread cannot be stopped while it does that. So the `/sparql` endpoint hands each query to a
worker process that reads a snapshot of the store (RocksDB checkpoints: hard links, taken again only after a write),
watches its resident memory while it runs, and kills it past the memory or the time limit. A killed worker is
replaced in the background. Each worker walls itself off from the network (`network_sandbox`) before it opens
anything, so whatever a query says, no connection leaves it.

The same workers run other long read-only jobs on a snapshot (whole-catalog validation, server/validation.py's
`CatalogValidation`): any picklable job with a `timeout_s` and a `run_on(store)` whose answer pickles. Workers run
at a lower CPU priority than the server (`NICENESS`), so on a busy machine the server's own requests (a product
lookup, `/healthz`) get a core before a long job does.
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol, TypeVar

from server.errors import BadInput, LimitExceeded, StoreUnavailable
from server.store.base import Store
from server.store.oxigraph import OxigraphStore, too_slow

log = logging.getLogger(__name__)

# How often the parent looks at a running worker's memory: a query that allocates fast overshoots by what it can
# allocate in this time.
POLL_S = 0.02
# A worker gets this long beyond the time limit to stop by itself (it checks the clock while rows stream).
GRACE_S = 0.5
OPEN_SNAPSHOTS = 4  # snapshots a worker keeps open (opening one costs a RocksDB open)
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
# Added to a worker's niceness: long jobs yield the CPU to the server's short requests (19 is the lowest priority).
NICENESS = 10

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Job(Protocol[T_co]):
    """What a worker can run: picklable, with a time limit, answering from a store (the answer pickles too)."""

    @property
    def timeout_s(self) -> float: ...

    def run_on(self, store: Store) -> T_co: ...


@dataclass(frozen=True)
class QueryJob:
    """One query as the endpoint asks it; what a worker needs to answer it."""

    text: str
    media_type: str
    default_graphs: Sequence[str] | None
    named_graphs: Sequence[str] | None
    timeout_s: float
    max_rows: int | None

    def run_on_store(self, store: Store) -> Callable[[QueryJob], bytes]:
        return lambda job: job.run_on(store)

    def run_on(self, store: Store) -> bytes:
        """The serialized answer of this query on `store`, within its limits."""
        return store.query_serialized(
            self.text,
            self.media_type,
            default_graphs=self.default_graphs,
            named_graphs=self.named_graphs,
            timeout_s=self.timeout_s,
            max_rows=self.max_rows,
        )


def too_much_memory(limit_bytes: int) -> LimitExceeded:
    return LimitExceeded(
        f"the query needed more than {limit_bytes // 2**20} MB of memory, the limit of this catalog (sorting, "
        "grouping or DISTINCT hold every solution at once); narrow the pattern or drop ORDER BY",
        limit="memory",
    )


def available(store: object) -> bool:
    """Whether queries on this store can run in worker processes: an embedded store on disk, on Linux."""
    return isinstance(store, OxigraphStore) and store.path is not None and sandbox_available()


def sandbox_available() -> bool:
    """Whether worker processes can run here: without network access, their memory measured (Linux)."""
    from server import network_sandbox

    return network_sandbox.available() and os.path.exists("/proc/self/statm")


def worker_main() -> None:
    """A worker (`python -m server.query_workers`): answers jobs read from stdin on stdout, until stdin closes."""
    from server import network_sandbox

    jobs, answers = Connection(os.dup(0), writable=False), Connection(os.dup(1), readable=False)
    os.dup2(2, 1)  # anything printed goes to the log, never into the answers
    _lower_priority()  # before the store starts threads: on Linux a thread's niceness is inherited, not shared
    network_sandbox.wall_off_this_thread()  # before the store starts threads of its own: they inherit the wall
    # A few snapshots stay open: the full store, the public view, some readers' views (restricted records).
    opened: dict[str, OxigraphStore] = {}
    while True:
        try:
            snapshot, job = jobs.recv()
        except (EOFError, OSError):
            return
        try:
            store = opened.pop(snapshot, None)
            if store is None:
                store = OxigraphStore(snapshot, read_only=True)
                while len(opened) >= OPEN_SNAPSHOTS:
                    opened.pop(next(iter(opened))).close()
            opened[snapshot] = store  # last: the most recently used
            answers.send(("ok", job.run_on(store)))
        except LimitExceeded as error:
            answers.send(("limit", error.limit, str(error)))
        except BadInput as error:
            answers.send(("bad", str(error)))
        except Exception as error:
            answers.send(("error", f"{type(error).__name__}: {error}"))


def _lower_priority() -> None:
    try:
        os.nice(NICENESS)
    except OSError as error:  # not allowed here: the worker runs at the server's priority
        log.warning("a worker cannot lower its CPU priority: %s", error)


class _Worker:
    def __init__(self) -> None:
        # A fresh interpreter, never a fork of a process that holds the store and its threads.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "server.query_workers"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.jobs = Connection(os.dup(self.process.stdin.fileno()), readable=False)
        self.answers = Connection(os.dup(self.process.stdout.fileno()), writable=False)
        self.process.stdin.close()
        self.process.stdout.close()
        self.snapshot: str | None = None

    def resident_bytes(self) -> int:
        try:
            with open(f"/proc/{self.process.pid}/statm", "rb") as statm:
                return int(statm.read().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            return 0

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=5)
        self.jobs.close()
        self.answers.close()


class Snapshotted(Protocol):
    """What the workers query: an embedded store on disk (OxigraphStore), or a remote store's records copied to disk
    (server/catalog/records_copy.py). `generation` changes with every write; `snapshot` copies the store as it is."""

    @property
    def path(self) -> Path | None: ...

    @property
    def generation(self) -> int: ...

    def snapshot(self, directory: Path) -> None: ...


class QueryWorkers:
    """A few worker processes over snapshots of one embedded store; `run` answers a job or raises.

    `name` says what they run ("sparql", "validation"): it names their snapshots' directory and their errors."""

    def __init__(self, store: Snapshotted, *, workers: int, memory_limit_bytes: int, name: str = "sparql") -> None:
        assert store.path is not None
        self.store = store
        self.memory_limit_bytes = memory_limit_bytes
        self.size = workers
        self.name = name
        self.snapshots = store.path.with_name(f"{store.path.name}.{name}-snapshots")
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._busy: set[_Worker] = set()
        self._lock = threading.Lock()
        self._snapshot: tuple[int, str] | None = None  # (store generation, directory)
        self._closed = False

    def start(self) -> None:
        """Start the workers in the background; `run` waits for the first one that is ready."""
        shutil.rmtree(self.snapshots, ignore_errors=True)
        for _ in range(self.size):
            self._replace_in_background()

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().stop()
            except queue.Empty:
                break
        for worker in list(self._busy):
            worker.stop()
        shutil.rmtree(self.snapshots, ignore_errors=True)

    def _replace_in_background(self) -> None:
        def add() -> None:
            worker = _Worker()
            if self._closed:
                worker.stop()
            else:
                self._idle.put(worker)

        threading.Thread(target=add, name=f"{self.name}-worker-start", daemon=True).start()

    def snapshots_in_use(self) -> set[str | None]:
        with self._lock:
            return {w.snapshot for w in self._busy} | {w.snapshot for w in list(self._idle.queue)}

    def _current_snapshot(self) -> str:
        """A snapshot that shows every write made so far, taken now if the last one is older."""
        with self._lock:
            generation = self.store.generation
            if self._snapshot is None or self._snapshot[0] != generation:
                directory = self.snapshots / f"{generation}-{uuid.uuid4().hex[:8]}"
                self.snapshots.mkdir(parents=True, exist_ok=True)
                try:
                    self.store.snapshot(directory)
                except OSError as error:
                    log.error("cannot take a snapshot of the store in %s: %s", directory, error)
                    raise StoreUnavailable("the store cannot be read for SPARQL queries right now") from None
                self._snapshot = (generation, str(directory))
                self._drop_unused_snapshots()
            return self._snapshot[1]

    def _drop_unused_snapshots(self) -> None:
        in_use = {w.snapshot for w in self._busy} | {w.snapshot for w in list(self._idle.queue)}
        in_use.add(self._snapshot[1] if self._snapshot else None)
        for directory in self.snapshots.iterdir():
            if str(directory) not in in_use:
                shutil.rmtree(directory, ignore_errors=True)

    def run(self, job: Job[T], snapshot: Callable[[], str] | None = None) -> T:
        """The serialized answer; LimitExceeded past the time, row or memory limit, BadInput for a bad query.

        `snapshot` gives the directory to query (the public view's, server/web/sparql_datasets.py); the store's own
        snapshot by default."""
        deadline = time.monotonic() + job.timeout_s
        try:
            worker = self._idle.get(timeout=job.timeout_s)
        except queue.Empty:
            raise LimitExceeded(
                f"every {self.name} worker was busy for the whole time limit; try again shortly", limit="time"
            ) from None
        with self._lock:
            self._busy.add(worker)
        healthy = False
        try:
            chosen = (snapshot or self._current_snapshot)()
            worker.snapshot = chosen
            worker.jobs.send((chosen, job))
            answer = self._wait(worker, job, deadline + GRACE_S)
            healthy = True
        finally:
            with self._lock:
                self._busy.discard(worker)
            if healthy:
                self._idle.put(worker)
            else:
                worker.stop()
                if not self._closed:
                    self._replace_in_background()
        return _result(answer)

    def _wait(self, worker: _Worker, job: Job[object], deadline: float) -> tuple[object, ...]:
        """The worker's answer; LimitExceeded (and the worker left to be killed) past a limit or when it dies."""
        while not worker.answers.poll(POLL_S):
            if worker.resident_bytes() > self.memory_limit_bytes:
                raise too_much_memory(self.memory_limit_bytes)
            if time.monotonic() > deadline:
                raise too_slow(job.timeout_s)
            if not worker.alive():
                break
        try:
            return worker.answers.recv()  # type: ignore[no-any-return]
        except (EOFError, OSError):
            # It died on its own: the allocator failing is the one way a query makes it do that.
            raise too_much_memory(self.memory_limit_bytes) from None


def _result(answer: tuple[object, ...]) -> Any:
    kind = answer[0]
    if kind == "ok":
        return answer[1]
    if kind == "limit":
        raise LimitExceeded(str(answer[2]), limit=str(answer[1]))
    if kind == "bad":
        raise BadInput(str(answer[1]))
    log.error("a query worker failed: %s", answer[1])
    raise StoreUnavailable("the query failed in the engine; the server log has the details")


if __name__ == "__main__":
    worker_main()
