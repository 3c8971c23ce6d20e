"""On a remote SPARQL store: a copy of the records on this replica's disk, which `/sparql` answers from.

On the embedded store the SPARQL endpoint runs a caller's query over the public view (public_view.py), where no
service graph is: API token hashes and their holders, write claims, the change log, the history's versions and
activities. A remote SPARQL server has no such view. Its union default graph holds every graph, service graphs
included, so a query over it reaches them (`GRAPH ?g`, or plain patterns over the union); and naming the record
graphs as each query's dataset is no option (on Oxigraph a question over an explicit default graph of the 18k
records of a 10k catalog ran for over a minute, against 1.7 s over the union).

So each replica keeps the records in an embedded store of its own (a temporary directory, `TMPDIR` chooses where;
about the size of the server's store), made from the server page by page when the server starts, and kept current
from the lineage index's notifications (`LineageIndex.listen`): this replica's writes as they commit, so its next
question sees them, and other replicas' as the change follower reads them (within about half a second,
changes.py). A write of another kind (a SPARQL update, a bulk load) makes it again. Until it is made, SPARQL
questions wait for it (up to `READY_WAIT_S`, not counted in their time limit), then are answered 503 with how far
it got.

The remote store holds no restricted record (the Catalog service refuses them there), so every caller's query runs
on this copy, GOVERNANCE's and ADMIN's included, in the SPARQL worker processes over snapshots of it (with their
memory limit and without network access) as on the embedded store.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pyoxigraph as ox

from server.errors import StoreUnavailable
from server.store.base import Triple
from server.store.oxigraph import OxigraphStore, insert_data_text
from server.store.sparql import RemoteSparqlStore

log = logging.getLogger(__name__)

PAGE = 200  # records read from the server per question while the copy is made
RETRY_S = 5.0  # after a failed attempt to make the copy (the server away)
READY_WAIT_S = 30.0  # how long a question waits for a copy being made


class RecordsCopy:
    """The records of `remote` on this replica's disk (see the module docstring). A `RecordListener`."""

    def __init__(self, remote: RemoteSparqlStore, directory: Path | None = None) -> None:
        self.remote = remote
        self._own_directory = directory is None
        self.directory = directory or Path(tempfile.mkdtemp(prefix="valuemesh-sparql-records-"))
        self._changed = threading.Condition(threading.Lock())
        self._store: OxigraphStore | None = None
        self._retired: list[OxigraphStore] = []
        # Changes told while a copy is being made, applied to it once it is: its pages may predate them.
        self._replay: list[tuple[dict[str, list[Triple]], list[str]]] = []
        self._making = False
        self._wanted = 1  # copies asked for: a write of another kind asks for one more
        self._made = 0
        self._progress = (0, 0)  # records copied, records to copy
        self._failure: str | None = None
        self._closed = False
        self.version = 0  # bumped by every change of the copy
        self._thread = threading.Thread(target=self._make_copies, name="sparql-records-copy", daemon=True)

    def start(self) -> None:
        """Start making the copy (after the catalog's index tells this copy of writes: none may be missed)."""
        self._thread.start()

    # --- told by the lineage index, under its lock ------------------------------------------------------------

    def records_changed(self, records: Mapping[str, list[Triple]], dropped: list[str]) -> None:
        with self._changed:
            if self._making or self._store is None:
                self._replay.append((dict(records), list(dropped)))
                return
            self._apply(self._store, records, dropped)
            self.version += 1

    def everything_changed(self) -> None:
        with self._changed:
            self._wanted += 1
            self._replay.clear()
            self._changed.notify_all()

    @staticmethod
    def _apply(store: OxigraphStore, records: Mapping[str, list[Triple]], dropped: list[str]) -> None:
        text = insert_data_text(records, dropped)
        if text:
            store.update(text)

    # --- answering ---------------------------------------------------------------------------------------

    def current(self, wait_s: float) -> OxigraphStore:
        """The copy, once it reflects every write told so far; waits up to `wait_s` for one being made."""
        deadline = time.monotonic() + wait_s
        with self._changed:
            while self._store is None or self._made < self._wanted:
                if self._closed:
                    raise StoreUnavailable("the catalog is closing")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    done, total = self._progress
                    why = f" (the last attempt failed: {self._failure})" if self._failure else ""
                    raise StoreUnavailable(
                        "the SPARQL endpoint answers from a copy of the catalog's records on this server, which is "
                        f"still being made from the SPARQL store: {done:,} of {total:,} records{why}; "
                        "try again in a moment"
                    )
                self._changed.wait(remaining)
            return self._store

    @property
    def state(self) -> str:
        """For `/healthz`: whether SPARQL questions can be answered now."""
        done, total = self._progress
        if self._store is not None and self._made >= self._wanted:
            return "ready"
        failed = f" (the last attempt failed: {self._failure})" if self._failure else ""
        return f"being made: {done} of {total} records{failed}"

    # --- for the SPARQL worker processes (query_workers.py), which query snapshots of the copy ------------------

    @property
    def path(self) -> Path:
        return self.directory / "records"

    @property
    def generation(self) -> int:
        return self.version

    def snapshot(self, directory: Path) -> None:
        self.current(READY_WAIT_S).snapshot(directory)

    # --- making the copy ---------------------------------------------------------------------------------

    def _make_copies(self) -> None:
        while True:
            with self._changed:
                while not self._closed and self._made >= self._wanted:
                    self._changed.wait()
                if self._closed:
                    return
                wanted = self._wanted
                self._making = True
                self._replay = []
            try:
                fresh = self._copied(wanted)
            except Exception as error:  # the server away, or closing: say so to waiting questions, try again
                with self._changed:
                    self._making = False
                    self._failure = str(error)
                    if not self._closed:
                        log.warning("cannot copy the records of %s for SPARQL yet: %s", self.remote.location, error)
                        self._changed.wait(RETRY_S)
                continue
            with self._changed:
                for records, dropped in self._replay:
                    self._apply(fresh, records, dropped)
                self._replay = []
                for old in self._retired:  # a copy replaced before the last: no question still runs on it
                    _remove(old)
                self._retired = [self._store] if self._store is not None else []
                self._store = fresh
                self._making = False
                self._failure = None
                self._made = wanted
                self.version += 1
                self._changed.notify_all()
            log.info("copied the records of %s for SPARQL (%s records)", self.remote.location, self._progress[1])

    def _copied(self, number: int) -> OxigraphStore:
        directory = self.directory / f"copy-{number}"
        shutil.rmtree(directory, ignore_errors=True)
        store = OxigraphStore(directory)
        try:
            # One bulk load fed page by page: loads of each page apart left the copy twice the server's size on
            # disk and took a third of the time.
            store._store.bulk_extend(self._pages())
        except BaseException:
            _remove(store)
            raise
        return store

    def _pages(self) -> Iterator[ox.Quad]:
        """Every record's quads, a page of records per question; blank nodes named apart per page (each answer names
        its own)."""
        records = self.remote.record_iris()
        self._progress = (0, len(records))
        for start in range(0, len(records), PAGE):
            if self._closed:
                raise StoreUnavailable("the catalog is closing")
            page = records[start : start + PAGE]
            yield from self.remote.graph_quads(page, blank_prefix=f"p{start}x")
            self._progress = (start + len(page), len(records))

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        with self._changed:
            for store in [*self._retired, *([self._store] if self._store is not None else [])]:
                _remove(store)
            self._retired, self._store = [], None
        if self._own_directory:
            shutil.rmtree(self.directory, ignore_errors=True)


def _remove(store: OxigraphStore) -> None:
    store.close()
    store._store = ox.Store()  # the last handle on the directory goes: RocksDB lets go of it
    if store.path is not None:
        shutil.rmtree(store.path, ignore_errors=True)


__all__ = ["RecordsCopy"]
