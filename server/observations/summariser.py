"""The graph's SLO status summaries, written off the ingest path.

A summary write costs 20-40 ms per product whatever its points (two store updates, the public view's mirror, the
lineage index's re-read: bench/README.md), so a batch does not wait for it: it notes the products it touched and
returns once its points are in the table. One background thread (started by the first note) takes every product
noted since its last write and writes their summaries in one write, at most once per `interval_s`; a product
touched by many batches meanwhile is written once. `flush` writes what is waiting now (tests, and the Catalog at
shutdown). GraphQL's statuses come from the table, so they never wait for this (docs/measurements.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)
RETRY_S = 1.0


class Summariser:
    """See the module docstring. `write` writes the summaries of the products it is given (blocking)."""

    def __init__(self, write: Callable[[list[str]], None], interval_s: float) -> None:
        self._write = write
        self.interval_s = interval_s
        self._pending: set[str] = set()
        self._changed = threading.Condition()
        self._writing = threading.Lock()  # one write at a time: the thread's or a flush
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._last_write = 0.0  # time.monotonic() when the last write started
        self._failed = False  # the last write failed: wait at least RETRY_S before the next

    def note(self, products: Iterable[str]) -> None:
        """These products' summaries are out of date: write them within `interval_s` (plus the write itself)."""
        with self._changed:
            if self._stopping:
                return
            self._pending.update(products)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="slo-summaries", daemon=True)
                self._thread.start()
            self._changed.notify()

    @property
    def waiting(self) -> int:
        """How many products' summaries wait to be written."""
        with self._changed:
            return len(self._pending)

    def flush(self) -> None:
        """Write every product noted so far, and return once it is written (or its write failed: logged, and the
        products noted again for the next write)."""
        with self._writing:
            self._write_waiting()

    def close(self) -> None:
        """Write what waits, then stop the thread; later notes are ignored."""
        with self._changed:
            self._stopping = True
            self._changed.notify()
            thread = self._thread
        if thread is not None:
            thread.join()
        self.flush()

    def _write_waiting(self) -> None:
        with self._changed:
            products = sorted(self._pending)
            self._pending.clear()
            self._last_write = time.monotonic()
        if not products:
            return
        try:
            self._write(products)
            self._failed = False
        except Exception:
            self._failed = True
            # A store that cannot write now (full disk, a remote store away): the points are safe in the table,
            # so try these products again at the next write rather than lose their summaries.
            log.exception("cannot write the SLO status summaries of %d products; retrying later", len(products))
            with self._changed:
                self._pending.update(products)

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._pending and not self._stopping:
                    self._changed.wait()
                if self._stopping:
                    return
                interval = max(self.interval_s, RETRY_S) if self._failed else self.interval_s
                wait = self._last_write + interval - time.monotonic()
                if wait > 0:  # wrote lately: let more batches' products gather meanwhile
                    self._changed.wait_for(lambda: self._stopping, timeout=wait)
                    if self._stopping:
                        return
            with self._writing:
                self._write_waiting()
