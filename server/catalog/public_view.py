"""The public view: a second store holding exactly the records everyone may read, for the SPARQL endpoint.

A caller's SPARQL query must run over the union of the records they may read, so that no query (`GRAPH ?g`,
`FROM NAMED`, a property path from a public node) reaches a restricted record or a service graph (API token hashes).
Naming the readable graphs as the query's dataset is no option on the embedded engine (a property path over an
explicit default graph of 100k graphs took 357 s against 17 ms over the union), so the catalog keeps the public
records in a store of their own beside the main one (`<store>.public`, or in memory for `memory:`), where the union
default graph is exactly the public dataset.

It is kept current by the Catalog service: every write of records (`IndexedStore.replace_records`) mirrors the
records it wrote or dropped, and the access requests to the ports of the products it wrote (a request is hidden with a
restricted product), in one transaction of the view that also copies the main store's marker. At open the view is
rebuilt from the main store when its marker differs (a write the view missed: a crash between the two writes, the
CLI writing the store files, a bulk load). A raw SPARQL update through the Catalog (`IndexedStore.update`) rebuilds it.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

import pyoxigraph as ox

from server.catalog.nodes import with_values
from server.namespaces import sparql_prefixes
from server.store.base import SERVICE_GRAPHS, SERVICE_PREFIX, Store, Triple
from server.store.oxigraph import OxigraphStore, insert_data_text

log = logging.getLogger(__name__)

# Of some records, those hidden from everyone: restricted products, the access requests to their output ports, their
# SLO status summaries (server/observations/summaries.py) and their observed lineage (server/openlineage/summary.py).
HIDDEN_AMONG = (
    sparql_prefixes()
    + """
SELECT DISTINCT ?record WHERE {
  VALUES ?record { $nodes }
  { GRAPH ?record { ?record vm:restricted true } }
  UNION
  { GRAPH ?record { ?record odrl:target ?port } GRAPH ?product { ?product vm:restricted true ; dprod:outputPort ?port } }
  UNION
  { GRAPH ?record { ?summary dqv:computedOn ?product } GRAPH ?product { ?product vm:restricted true } }
  UNION
  { GRAPH ?record { ?record vm:observedLineageOf ?product } GRAPH ?product { ?product vm:restricted true } }
}
"""
)

# Every record hidden from everyone.
HIDDEN = (
    sparql_prefixes()
    + """
SELECT DISTINCT ?record WHERE {
  { GRAPH ?record { ?record vm:restricted true } }
  UNION
  { GRAPH ?record { ?record odrl:target ?port } GRAPH ?product { ?product vm:restricted true ; dprod:outputPort ?port } }
  UNION
  { GRAPH ?record { ?summary dqv:computedOn ?product } GRAPH ?product { ?product vm:restricted true } }
  UNION
  { GRAPH ?record { ?record vm:observedLineageOf ?product } GRAPH ?product { ?product vm:restricted true } }
}
"""
)

# The access requests to the output ports of some products, their SLO status summaries and their observed lineage
# (they change visibility with the product).
REQUESTS_TO = (
    sparql_prefixes()
    + """
SELECT DISTINCT ?request WHERE {
  VALUES ?product { $nodes }
  {
    GRAPH ?product { ?product dprod:outputPort ?port }
    GRAPH ?request { ?request a vm:AccessRequest ; odrl:target ?port }
  }
  UNION
  { GRAPH ?request { ?summary dqv:computedOn ?product } }
  UNION
  { GRAPH ?request { ?request vm:observedLineageOf ?product } }
}
"""
)

BATCH = 500  # records per VALUES question


def view_path(main: OxigraphStore) -> Path | None:
    return None if main.path is None else main.path.with_name(main.path.name + ".public")


class PublicView:
    """The public records of `main` in a store of their own (see the module docstring)."""

    def __init__(self, main: OxigraphStore) -> None:
        self.main = main
        self.path = view_path(main)
        # The main store's marker the view reflects: a file beside it (never a graph a query of the view could name),
        # written after each change of the view, so a crash between the two makes the next open rebuild it.
        self.marker_file = None if self.path is None else self.path.with_name(self.path.name + ".marker")
        self._lock = threading.RLock()
        self.reflects: str | None = None  # the main store's marker the view shows
        self.version = 0  # bumped by every change of the view (copies of it are made per version)
        self.store = self._open()

    # --- opening and rebuilding ----------------------------------------------------------------------------

    def _open(self) -> OxigraphStore:
        marker = self.main.marker()
        known = self.marker_file is not None and self.marker_file.exists() and marker is not None
        if known and self.marker_file.read_text() == marker:  # type: ignore[union-attr]
            self.reflects = marker
            return OxigraphStore(self.path)
        return self._rebuilt()

    def _note_marker(self) -> None:
        self.version += 1
        self.reflects = self.main.marker()
        if self.marker_file is not None:
            self.marker_file.write_text(self.reflects or "")

    def current(self) -> OxigraphStore:
        """The view, rebuilt first if the main store was written behind its back (not through the Catalog)."""
        with self._lock:
            if self.main.marker() != self.reflects:
                log.warning(
                    "the store %s was written outside the catalog: rebuilding its public view", self.main.location
                )
                self.store.close()
                del self.store
                self.store = self._rebuilt()
            return self.store

    def _rebuilt(self) -> OxigraphStore:
        """A fresh view: the main store without hidden records and service graphs. On disk a checkpoint of the main
        store (hard links: no copy) with those graphs dropped; in memory a copy of the other quads."""
        excluded = [*service_graphs(self.main), *hidden_records(self.main)]
        if self.path is not None:
            if self.marker_file is not None:
                self.marker_file.unlink(missing_ok=True)
            shutil.rmtree(self.path, ignore_errors=True)
            self.main.snapshot(self.path)
            view = OxigraphStore(self.path)
            for start in range(0, len(excluded), BATCH):
                view.update(" ;\n".join(f"DROP SILENT GRAPH <{g}>" for g in excluded[start : start + BATCH]))
        else:
            view = OxigraphStore(None)
            dropped = {ox.NamedNode(g) for g in excluded}
            quads = (
                q
                for q in self.main._store.quads_for_pattern(None, None, None, None)
                if isinstance(q.graph_name, ox.NamedNode) and q.graph_name not in dropped
            )
            view._store.bulk_extend(quads)
            view.generation += 1
        self._note_marker()
        log.info("rebuilt the public view of %s for SPARQL", self.main.location)
        return view

    def rebuild(self) -> None:
        with self._lock:
            self.store.close()
            del self.store  # RocksDB lets go of the directory when the last handle goes
            self.store = self._rebuilt()

    # --- following writes ----------------------------------------------------------------------------------

    def mirror(self, written: Mapping[str, Iterable[Triple]], dropped: Iterable[str]) -> None:
        """After the main store wrote `written` and dropped `dropped`: the same in the view, for public records."""
        gone = set(dropped)
        affected = set(written) | gone
        for chunk in _chunks(sorted(written)):
            affected.update(str(r) for r in self.main.select(with_values(REQUESTS_TO, chunk)).column("request"))
        hidden: set[str] = set()
        for chunk in _chunks(sorted(affected - gone)):
            hidden.update(str(r) for r in self.main.select(with_values(HIDDEN_AMONG, chunk)).column("record"))
        public: dict[str, Iterable[Triple]] = {}
        for iri in sorted(affected - gone - hidden):
            public[iri] = written[iri] if iri in written else list(self.main.record(iri))  # type: ignore[arg-type]
        text = insert_data_text(public, [*gone, *hidden])
        with self._lock:
            if text:
                self.store.update(text)
            self._note_marker()

    def close(self) -> None:
        """Flush and let go of the view's directory (another catalog may open it next)."""
        with self._lock:
            self.store.close()
            self.store = OxigraphStore(None)  # the last handle on the directory goes: RocksDB releases its lock


SERVICE_DATA = f"""SELECT DISTINCT ?g WHERE {{
    GRAPH ?g {{ ?s ?p ?o }} FILTER (STRSTARTS(STR(?g), "{SERVICE_PREFIX}"))
}}"""


def service_graphs(store: Store) -> list[str]:
    """Every graph of the catalog's own data (tokens, versions, events, claims...): never in the view."""
    return sorted({*SERVICE_GRAPHS, *(str(g) for g in store.select(SERVICE_DATA).column("g"))})


def hidden_records(store: Store) -> list[str]:
    return sorted(str(r) for r in store.select(HIDDEN).column("record"))


def _chunks(iris: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(iris), BATCH):
        yield iris[start : start + BATCH]


def open_public_view(main: Store) -> PublicView | None:
    """The public view of an embedded store (on disk or in memory); None for a remote SPARQL store."""
    if not isinstance(main, OxigraphStore) or getattr(main, "_writable", True) is False:
        return None
    return PublicView(main)


def readable_records_store(
    view: OxigraphStore, main: Store, records: list[str], directory: Path | None
) -> OxigraphStore:
    """A copy of the view with some restricted `records` added (a caller who may read them): a checkpoint of the
    view on disk (hard links) written to, or a copy in memory."""
    if directory is not None:
        view.snapshot(directory)
        copy = OxigraphStore(directory)
    else:
        copy = OxigraphStore(None)
        copy._store.bulk_extend(view._store.quads_for_pattern(None, None, None, None))
    copy.update(insert_data_text({iri: list(main.record(iri)) for iri in records}))  # type: ignore[misc]
    return copy


__all__ = ["PublicView", "hidden_records", "open_public_view", "readable_records_store"]
