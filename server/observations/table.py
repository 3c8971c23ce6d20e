"""The SLI measurements themselves: an embedded SQLite table beside the store, not triples (docs/measurements.md).

One row per point, keyed for idempotency by the SLO and the point's id (or its time when it has none: then the
primary key alone, SLO and time, says it was sent before), so a period's sums are one range scan of that key. SQLite from the standard library in WAL mode:
readers never wait for the writer, and a batch is one transaction (all or nothing). The Catalog service owns the
table; every call is blocking store work, made on the catalog's threads.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

SCHEMA = """
CREATE TABLE IF NOT EXISTS objective (id INTEGER PRIMARY KEY, iri TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS point (
    objective INTEGER NOT NULL REFERENCES objective(id),
    time_ms INTEGER NOT NULL,
    key TEXT NOT NULL,
    good INTEGER NOT NULL,
    total INTEGER NOT NULL,
    PRIMARY KEY (objective, time_ms, key)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS point_id ON point (objective, key) WHERE key != '';
"""


class Point(NamedTuple):
    """One measurement as stored: `good` of `total` events at `time_ms` (milliseconds since the epoch, UTC). A
    tuple, not a dataclass: a batch makes ten thousand of them (bench/bench_measurements.py)."""

    slo: str
    time_ms: int
    key: str  # the point's id ("" without one: then its time is what makes a point sent twice count once)
    good: int
    total: int


@dataclass(frozen=True)
class Window:
    """Sums of one SLO's points from `start_ms` (inclusive) to `end_ms` (inclusive)."""

    start_ms: int
    end_ms: int


@dataclass(frozen=True)
class Sums:
    points: int = 0
    good: int = 0
    total: int = 0

    @property
    def bad(self) -> int:
        return self.total - self.good


def point_key(time_ms: int, point_id: str | None) -> str:
    """What keys a point beside its SLO and time: its id (unique per SLO, whatever the time), or nothing."""
    return f"id:{point_id}" if point_id is not None else ""


class PointTable:
    """See the module docstring. `path` None: an in-memory database (for the in-memory store)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()  # one connection, shared by the catalog's threads
        self._db = sqlite3.connect(
            ":memory:" if path is None else str(path), check_same_thread=False, isolation_level=None
        )
        if path is not None:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # WAL: a crash may lose the last batches, never corrupt
        self._db.execute("PRAGMA cache_size=-65536")  # 64 MB: a batch's inserts land all over the SLOs' ranges
        self._db.executescript(SCHEMA)
        self._ids: dict[str, int] = {}
        # The SLOs that have points, kept as points come and go (this process owns the table: docs/measurements.md);
        # asking SQLite took ~0.2 s at 100k products with 13k SLOs measured, on every goals-at-risk question.
        self._measured: set[str] | None = None
        self.version = 0  # counts the writes that changed the points, so what is computed from them can be reused

    def _objective_ids(self, iris: Iterable[str]) -> dict[str, int]:
        wanted = sorted(set(iris) - set(self._ids))
        for iri in wanted:
            self._db.execute("INSERT OR IGNORE INTO objective (iri) VALUES (?)", (iri,))
            (found,) = self._db.execute("SELECT id FROM objective WHERE iri = ?", (iri,)).fetchone()
            self._ids[iri] = int(found)
        return self._ids

    def add(self, points: Sequence[Point], prune_before_ms: int | None = None) -> int:
        """Store `points` in one transaction and return how many were new (the rest were sent before). Points of
        these SLOs older than `prune_before_ms` are deleted in the same transaction (the retention)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                ids = self._objective_ids(p.slo for p in points)
                cursor = self._db.executemany(
                    "INSERT OR IGNORE INTO point (objective, time_ms, key, good, total) VALUES (?, ?, ?, ?, ?)",
                    [(ids[p.slo], p.time_ms, p.key, p.good, p.total) for p in points],
                )
                added = cursor.rowcount
                pruned = 0
                if prune_before_ms is not None:
                    pruned = self._db.executemany(
                        "DELETE FROM point WHERE objective = ? AND time_ms < ?",
                        [(ids[slo], prune_before_ms) for slo in sorted({p.slo for p in points})],
                    ).rowcount
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            if added or pruned:
                self.version += 1
            if pruned:
                self._measured = None  # an SLO may have lost its last point: asked again
            elif self._measured is not None:
                self._measured.update(p.slo for p in points)
        return added

    def sums(self, slo: str, windows: Sequence[Window]) -> list[Sums]:
        """The sums of `slo`'s points over each window, in one scan of the longest."""
        return self.sums_of([slo], windows)[slo]

    def sums_of(self, slos: Sequence[str], windows: Sequence[Window]) -> dict[str, list[Sums]]:
        """The sums of each SLO's points over each window (the same windows for all), in one question."""
        answer = {slo: [Sums() for _ in windows] for slo in slos}
        if not windows or not slos:
            return answer
        start = min(w.start_ms for w in windows)
        end = max(w.end_ms for w in windows)
        columns = ", ".join(
            f"SUM(time_ms >= {w.start_ms} AND time_ms <= {w.end_ms}), "
            f"SUM(CASE WHEN time_ms >= {w.start_ms} AND time_ms <= {w.end_ms} THEN good END), "
            f"SUM(CASE WHEN time_ms >= {w.start_ms} AND time_ms <= {w.end_ms} THEN total END)"
            for w in windows
        )  # integers the service computed, never input: safe to write into the text
        with self._lock:
            for chunk in range(0, len(slos), 500):
                asked = list(slos[chunk : chunk + 500])
                marks = ", ".join("?" for _ in asked)
                rows = self._db.execute(
                    f"SELECT objective.iri, {columns} FROM objective JOIN point ON point.objective = objective.id "
                    f"WHERE objective.iri IN ({marks}) AND time_ms >= ? AND time_ms <= ? GROUP BY objective.iri",
                    (*asked, start, end),
                ).fetchall()
                for row in rows:
                    answer[str(row[0])] = [
                        Sums(row[i] or 0, row[i + 1] or 0, row[i + 2] or 0) for i in range(1, 3 * len(windows) + 1, 3)
                    ]
        return answer

    def measured(self) -> list[str]:
        """Every SLO that has points."""
        with self._lock:
            if self._measured is None:
                rows = self._db.execute(
                    "SELECT iri FROM objective WHERE EXISTS (SELECT 1 FROM point WHERE point.objective = objective.id)"
                ).fetchall()
                self._measured = {str(row[0]) for row in rows}
            return sorted(self._measured)

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM point").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
