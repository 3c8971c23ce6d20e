"""The run table: OpenLineage run events in an embedded SQLite database beside the store, not as triples.

One row per event, keyed by (eventTime, runId, eventType), so an event sent twice is kept once; one row per dataset
an event read or wrote. The product a run belongs to is settled when it is known (an event naming it, or one writing
a dataset a product's output port publishes) and given to the run's earlier events too. A file on disk in WAL mode
(readers never wait for the writer; a CLI may read while the server writes); in memory for a catalog in memory.
The Catalog service owns one; every call is blocking store work (call it through `catalog.run`).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from server.formats.description import DatasetName
from server.openlineage.events import FAILED, FINAL, RunEvent

# Keys lead with the event time: producers send events about as they happen, so rows are appended, not scattered
# (a key leading with the random run id made each batch touch pages all over the file: bench_lineage_ingest.py).
SCHEMA = """
CREATE TABLE IF NOT EXISTS run_events (
    event_time TEXT NOT NULL,
    run_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    job_namespace TEXT NOT NULL,
    job_name TEXT NOT NULL,
    product TEXT,
    received_at TEXT NOT NULL,
    PRIMARY KEY (event_time, run_id, event_type)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS run_events_by_product ON run_events (product, event_time);
CREATE INDEX IF NOT EXISTS run_events_by_run ON run_events (run_id);
CREATE TABLE IF NOT EXISTS run_datasets (
    event_time TEXT NOT NULL,
    run_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('input', 'output')),
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (event_time, run_id, event_type, direction, namespace, name)
) WITHOUT ROWID;
"""

# The datasets of a product's events (their product is the event's).
_DATASETS_OF_PRODUCT = """
FROM run_events AS e JOIN run_datasets AS d
  ON d.event_time = e.event_time AND d.run_id = e.run_id AND d.event_type = e.event_type
WHERE e.product = ? AND d.direction = 'input'"""


@dataclass(frozen=True)
class Run:
    """A run as its events tell it so far."""

    run_id: str
    job: DatasetName
    state: str  # the type of its latest event
    started: datetime | None
    ended: datetime | None
    inputs: list[DatasetName] = field(default_factory=list)
    outputs: list[DatasetName] = field(default_factory=list)


@dataclass(frozen=True)
class RunSummary:
    """What the graph keeps of a product's runs (server/openlineage/summary.py writes it)."""

    product: str
    runs: int
    failed_runs: int
    last_run: Run | None
    reads: dict[DatasetName, datetime]  # each dataset read, with the last time a run read it


@dataclass(frozen=True)
class Recorded:
    """What one request's events did: stored anew, already known, older than the retention (not kept), and the
    products whose runs changed (new runs, or old ones let go)."""

    stored: int
    duplicates: int
    products: frozenset[str]
    expired: int = 0


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _time_text(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class RunTable:
    """See the module docstring. `RunTable(None)` keeps the runs in memory."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()  # one connection, used by the catalog's threads one at a time
        self._db = sqlite3.connect(":memory:" if path is None else path, check_same_thread=False, isolation_level=None)
        if path is not None:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # WAL: durable at each checkpoint, never corrupt
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(SCHEMA)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def products_of_runs(self, run_ids: Iterable[str]) -> dict[str, str]:
        """The product each of these runs is known to belong to (runs of no known product are left out)."""
        ids = sorted(set(run_ids))
        found: dict[str, str] = {}
        with self._lock:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT DISTINCT run_id, product FROM run_events WHERE product IS NOT NULL AND run_id IN ({marks})",
                    chunk,
                )
                found.update({run_id: product for run_id, product in rows})
        return found

    def record(self, events: list[tuple[RunEvent, str | None]], *, keep_after: datetime | None = None) -> Recorded:
        """Store the events (each with its product, or None) in one transaction; known ones are skipped. With
        `keep_after`, events from before it are not kept, and those stored are let go in the same transaction."""
        received = _time_text(datetime.now(UTC))
        oldest = _time_text(keep_after) if keep_after is not None else None
        kept = [(e, product) for e, product in events if oldest is None or e.time_text >= oldest]
        rows = [
            (e.time_text, e.run_id, e.event_type, e.job.namespace, e.job.name, product, received) for e, product in kept
        ]
        datasets = [
            (e.time_text, e.run_id, e.event_type, direction, d.namespace, d.name)
            for e, _ in kept
            for direction, named in (("input", e.inputs), ("output", e.outputs))
            for d in named
        ]
        # The runs' earlier events, sent before anything named their product, are their product's too.
        settled = sorted({(product, e.run_id) for e, product in kept if product is not None})
        with self._transaction() as db:
            let_go = self._let_go(db, oldest) if oldest is not None else set()
            before = db.total_changes
            db.executemany("INSERT OR IGNORE INTO run_events VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            stored = db.total_changes - before
            if stored:
                db.executemany("INSERT OR IGNORE INTO run_datasets VALUES (?, ?, ?, ?, ?, ?)", datasets)
                db.executemany("UPDATE run_events SET product = ? WHERE run_id = ? AND product IS NULL", settled)
        products = frozenset(product for product, _ in settled) if stored else frozenset()
        return Recorded(stored, len(kept) - stored, products | let_go, len(events) - len(kept))

    @staticmethod
    def _let_go(db: sqlite3.Connection, oldest: str) -> set[str]:
        """Delete the events (and their datasets) from before `oldest`; the products whose runs those were. Both
        tables lead their keys with the event time, so this is a range at the start of each."""
        products = {
            str(row[0])
            for row in db.execute(
                "SELECT DISTINCT product FROM run_events WHERE event_time < ? AND product IS NOT NULL", (oldest,)
            )
        }
        db.execute("DELETE FROM run_events WHERE event_time < ?", (oldest,))
        db.execute("DELETE FROM run_datasets WHERE event_time < ?", (oldest,))
        return products

    def summary(self, product: str) -> RunSummary:
        """The product's runs in numbers, its last run, and every dataset its runs read."""
        with self._lock:
            db = self._db
            runs, failed = db.execute(
                "SELECT COUNT(DISTINCT run_id), COUNT(DISTINCT CASE WHEN event_type IN ('FAIL', 'ABORT') THEN run_id END) "
                "FROM run_events WHERE product = ?",
                (product,),
            ).fetchone()
            last = db.execute(
                "SELECT run_id FROM run_events WHERE product = ? ORDER BY event_time DESC LIMIT 1", (product,)
            ).fetchone()
            reads = {
                DatasetName(namespace, name): _time(when)
                for namespace, name, when in db.execute(
                    "SELECT d.namespace, d.name, MAX(d.event_time)"
                    + _DATASETS_OF_PRODUCT
                    + " GROUP BY d.namespace, d.name",
                    (product,),
                )
            }
            last_run = self._run(last[0]) if last else None
        return RunSummary(product, runs, failed, last_run, reads)

    def _run(self, run_id: str) -> Run:
        events = self._db.execute(
            "SELECT event_type, event_time, job_namespace, job_name FROM run_events WHERE run_id = ? "
            "ORDER BY event_time",
            (run_id,),
        ).fetchall()
        datasets = self._db.execute(
            "SELECT DISTINCT d.direction, d.namespace, d.name FROM run_events AS e JOIN run_datasets AS d "
            "ON d.event_time = e.event_time AND d.run_id = e.run_id AND d.event_type = e.event_type "
            "WHERE e.run_id = ? ORDER BY d.namespace, d.name",
            (run_id,),
        ).fetchall()
        starts = [_time(t) for kind, t, _, _ in events if kind == "START"]
        ends = [_time(t) for kind, t, _, _ in events if kind in FINAL]
        final = [kind for kind, _, _, _ in events if kind in FINAL]
        return Run(
            run_id=run_id,
            job=DatasetName(events[-1][2], events[-1][3]),
            state=final[-1] if final else events[-1][0],
            started=min(starts) if starts else _time(events[0][1]),
            ended=max(ends) if ends else None,
            inputs=[DatasetName(ns, n) for d, ns, n in datasets if d == "input"],
            outputs=[DatasetName(ns, n) for d, ns, n in datasets if d == "output"],
        )

    def reads_since(self, product: str, since: datetime) -> tuple[int, set[DatasetName]]:
        """How many of the product's runs had an event since `since`, and the datasets those events read."""
        start = _time_text(since)
        with self._lock:
            (runs,) = self._db.execute(
                "SELECT COUNT(DISTINCT run_id) FROM run_events WHERE product = ? AND event_time >= ?", (product, start)
            ).fetchone()
            rows = self._db.execute(
                "SELECT DISTINCT d.namespace, d.name" + _DATASETS_OF_PRODUCT + " AND e.event_time >= ?",
                (product, start),
            ).fetchall()
        return runs, {DatasetName(ns, n) for ns, n in rows}

    def unattributed(self) -> int:
        """Events kept that belong to no product the catalog knows (yet)."""
        with self._lock:
            (count,) = self._db.execute("SELECT COUNT(*) FROM run_events WHERE product IS NULL").fetchone()
        return int(count)

    def close(self) -> None:
        with self._lock:
            self._db.close()


__all__ = ["FAILED", "Recorded", "Run", "RunSummary", "RunTable"]
