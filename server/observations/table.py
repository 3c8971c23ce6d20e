"""The SLI measurements themselves: an embedded SQLite table beside the store, not triples (docs/measurements.md).

One row per point, keyed for idempotency by the SLO and the point's id (or its time when it has none), and
indexed by SLO and time, so a period's sums are one range scan. SQLite from the standard library in WAL mode:
readers never wait for the writer, and a batch is one transaction (all or nothing). The Catalog service owns the
table; every call is blocking store work, made on the catalog's threads.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

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
CREATE UNIQUE INDEX IF NOT EXISTS point_key ON point (objective, key);
"""


@dataclass(frozen=True)
class Point:
    """One measurement as stored: `good` of `total` events at `time_ms` (milliseconds since the epoch, UTC)."""

    slo: str
    time_ms: int
    key: str  # the point's id, or its time: what makes a point sent twice count once
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
    return f"id:{point_id}" if point_id is not None else f"t:{time_ms}"


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
        self._db.executescript(SCHEMA)
        self._ids: dict[str, int] = {}

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
                if prune_before_ms is not None:
                    self._db.executemany(
                        "DELETE FROM point WHERE objective = ? AND time_ms < ?",
                        [(ids[slo], prune_before_ms) for slo in sorted({p.slo for p in points})],
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return added

    def sums(self, slo: str, windows: Sequence[Window]) -> list[Sums]:
        """The sums of `slo`'s points over each window, in one scan of the longest."""
        if not windows:
            return []
        with self._lock:
            found = self._db.execute("SELECT id FROM objective WHERE iri = ?", (slo,)).fetchone()
            if found is None:
                return [Sums() for _ in windows]
            start = min(w.start_ms for w in windows)
            end = max(w.end_ms for w in windows)
            columns = ", ".join(
                f"SUM(time_ms >= {w.start_ms} AND time_ms <= {w.end_ms}), "
                f"SUM(CASE WHEN time_ms >= {w.start_ms} AND time_ms <= {w.end_ms} THEN good END), "
                f"SUM(CASE WHEN time_ms >= {w.start_ms} AND time_ms <= {w.end_ms} THEN total END)"
                for w in windows
            )  # integers the service computed, never input: safe to write into the text
            row = self._db.execute(
                f"SELECT {columns} FROM point WHERE objective = ? AND time_ms >= ? AND time_ms <= ?",
                (found[0], start, end),
            ).fetchone()
        return [Sums(row[i] or 0, row[i + 1] or 0, row[i + 2] or 0) for i in range(0, 3 * len(windows), 3)]

    def measured(self) -> list[str]:
        """Every SLO that has points."""
        with self._lock:
            rows = self._db.execute(
                "SELECT iri FROM objective WHERE EXISTS (SELECT 1 FROM point WHERE point.objective = objective.id)"
            ).fetchall()
        return [str(row[0]) for row in rows]

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM point").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
