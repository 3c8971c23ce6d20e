"""Which dataset a `/sparql` caller's query runs over: the union of the records that caller may read.

- a caller who may read no restricted record: the public view (server/catalog/public_view.py), which holds no restricted record and no service
  graph (API token hashes, claims, the change log), so `GRAPH ?g`, `FROM NAMED` and property paths find nothing else;
- a caller who may read some restricted records (their domain's, their own, through an approved access request, or
  all of them: GOVERNANCE and ADMIN, and the anonymous writer of a developer's loopback catalog): a copy of the
  public view with exactly those records added, made once per view generation and set of records (a
  RocksDB checkpoint of the view, hard links, written to) and kept for the next queries (the last few sets).

Should the view not have been built (the server log says why), outsiders are refused and GOVERNANCE and ADMIN are
answered on the whole store. On a remote SPARQL store, where restricted products are refused (catalog/service.py), every caller's query runs
on this replica's copy of the records (server/catalog/records_copy.py): the server's own union holds the service
graphs too.
"""

from __future__ import annotations

import shutil
import threading
import uuid
from collections import OrderedDict
from functools import partial
from pathlib import Path

from server.catalog.public_view import readable_records_store
from server.catalog.records_copy import READY_WAIT_S
from server.catalog.service import Catalog
from server.errors import StoreUnavailable
from server.identity.principal import Principal
from server.query_workers import QueryJob, QueryWorkers
from server.store.oxigraph import OxigraphStore

KEPT_READER_VIEWS = 8  # sets of readable restricted records whose copies are kept


class Datasets:
    def __init__(self, catalog: Catalog, workers: QueryWorkers | None) -> None:
        self.catalog = catalog
        self.workers = workers
        self.view = catalog.public_view
        self._lock = threading.Lock()
        main = catalog.backend
        self.root: Path | None = None
        if workers is not None and isinstance(main, OxigraphStore) and main.path is not None:
            self.root = main.path.with_name(main.path.name + ".sparql-views")
            shutil.rmtree(self.root, ignore_errors=True)
        self._public: tuple[int, str] | None = None
        self._readers: OrderedDict[tuple[int, tuple[str, ...]], tuple[str | None, OxigraphStore | None]] = OrderedDict()

    def run(self, job: QueryJob, principal: Principal) -> bytes:
        """The serialized answer of `job` over the dataset `principal` may read."""
        copy = self.catalog.records_copy()
        if copy is not None:  # the workers, when there are, query snapshots of the copy
            return self.workers.run(job) if self.workers is not None else job.run_on(copy.current(READY_WAIT_S))
        if self.view is None:
            # Not even GOVERNANCE or ADMIN query the whole store instead: it holds the service graphs (token hashes,
            # claims, the change log), which no caller's SPARQL reaches.
            raise StoreUnavailable("the catalog's public view for SPARQL could not be built; the server log says why")
        # GOVERNANCE and ADMIN may read every restricted record: theirs is the view with all of them added.
        records = tuple(self.catalog.visibility(principal).readable_records())
        if self.workers is not None:
            source = self._public_snapshot if not records else partial(self._reader_snapshot, records)
            return self.workers.run(job, source)
        if not records:
            return job.run_on(self.view.current())
        store = self._reader_store(records)
        return job.run_on(store)

    # --- on disk, for the worker processes -------------------------------------------------------------------

    def _public_snapshot(self) -> str:
        assert self.view is not None and self.root is not None
        with self._lock:
            self.view.current()
            generation = self.view.version
            if self._public is None or self._public[0] != generation:
                directory = self.root / f"public-{generation}-{uuid.uuid4().hex[:8]}"
                self.root.mkdir(parents=True, exist_ok=True)
                self.view.store.snapshot(directory)
                self._public = (generation, str(directory))
                self._drop_unused()
            return self._public[1]

    def _reader_snapshot(self, records: tuple[str, ...]) -> str:
        assert self.view is not None and self.root is not None
        with self._lock:
            self.view.current()
            key = (self.view.version, records)
            if key not in self._readers:
                directory = self.root / f"reader-{key[0]}-{uuid.uuid4().hex[:8]}"
                self.root.mkdir(parents=True, exist_ok=True)
                copy = readable_records_store(self.view.store, self.catalog.backend, list(records), directory)
                copy.close()
                del copy  # the workers open it read-only
                self._readers[key] = (str(directory), None)
                self._drop_unused()
            self._readers.move_to_end(key)
            chosen = self._readers[key][0]
            assert chosen is not None
            return chosen

    def _drop_unused(self) -> None:
        """Forget the oldest reader copies, and remove every directory no worker has open and nothing refers to."""
        generation = self.view.version if self.view is not None else -1
        for key in [k for k in self._readers if k[0] != generation]:
            del self._readers[key]
        while len(self._readers) > KEPT_READER_VIEWS:
            self._readers.popitem(last=False)
        assert self.root is not None and self.workers is not None
        keep = self.workers.snapshots_in_use() | {d for d, _ in self._readers.values()}
        keep.add(self._public[1] if self._public else None)
        for directory in self.root.iterdir():
            if str(directory) not in keep:
                shutil.rmtree(directory, ignore_errors=True)

    # --- in memory, answered on this thread ----------------------------------------------------------------

    def _reader_store(self, records: tuple[str, ...]) -> OxigraphStore:
        assert self.view is not None
        with self._lock:
            self.view.current()
            key = (self.view.version, records)
            if key not in self._readers:
                copy = readable_records_store(self.view.store, self.catalog.backend, list(records), None)
                self._readers[key] = (None, copy)
                for old in [k for k in self._readers if k[0] != key[0]]:
                    del self._readers[old]
                while len(self._readers) > KEPT_READER_VIEWS:
                    self._readers.popitem(last=False)
            self._readers.move_to_end(key)
            store = self._readers[key][1]
            assert store is not None
            return store

    def close(self) -> None:
        self._readers.clear()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
