"""A derived, in-memory copy of the lineage edges, for lineage walks without a SPARQL question per depth level.

Why: at 100k products the SPARQL walk (server/catalog/lineage.py) asks one question per depth level and takes
about 11 ms for a 12-level lineage; the same walk over dicts takes well under a millisecond (bench/bench_api.py).

What it holds, all derived from the store: which output ports each product owns, and what each product's input
ports consume. It is built with two plain SPARQL questions and kept current by every write made through the store
object it watches: a record replaced or dropped (`replace_records`) is re-read from the triples being written; any
other kind of write (`update`, `bulk_load`) marks the copy stale, and the next walk rebuilds it. Only a store this
process writes alone may be indexed (embedded Oxigraph holds a lock on its directory); a remote SPARQL store can
be written by other processes, so `for_store` gives no index for it and lineage asks SPARQL.
tests/test_catalog_lineage_index.py checks that walks over the index equal the SPARQL walks, before and after writes.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from server.catalog.lineage import Direction, Step
from server.namespaces import DPROD, VM, sparql_prefixes
from server.store.base import Store, Triple

OUTPUT_PORTS = (
    sparql_prefixes()
    + """
SELECT ?product ?port WHERE { ?product dprod:outputPort ?port }
"""
)

CONSUMED = (
    sparql_prefixes()
    + """
SELECT ?product ?fed WHERE { ?product dprod:inputPort/vm:consumes ?fed }
"""
)

# Stores whose writes may come from elsewhere: never indexed.
REMOTE_PREFIXES = ("sparql", "http")


class LineageIndex:
    """Output ports by product, and what each product consumes, as dicts; see the module docstring."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.RLock()
        self._stale = True
        self._replacing = False
        self.rebuilds = 0
        self._owner: dict[str, str] = {}  # output port -> product
        self._ports: dict[str, set[str]] = defaultdict(set)  # product -> output ports
        self._consumes: dict[str, set[str]] = defaultdict(set)  # product -> ports or sources its inputs consume
        self._fed: dict[str, set[str]] = defaultdict(set)  # port or source -> products consuming it
        self._watch(store)

    # --- keeping it current ------------------------------------------------------------------------------

    def _watch(self, store: Store) -> None:
        """Route every write through this store object past the index (see the module docstring)."""
        replace = store.replace_records

        def replace_records(records: Mapping[str, Iterable[Triple]], drop: Iterable[str] = ()) -> None:
            materialised = {iri: list(triples) for iri, triples in records.items()}
            dropped = list(drop)
            with self._lock:
                self._replacing = True  # the backend may implement it with `update`: that must not mark stale
                try:
                    replace(materialised, dropped)
                finally:
                    self._replacing = False
                self._apply(materialised, dropped)

        store.replace_records = replace_records  # type: ignore[method-assign]
        for name in ("update", "bulk_load"):
            original = getattr(store, name, None)
            if original is None:
                continue

            def marking(*args: Any, _original: Callable[..., Any] = original, **kwargs: Any) -> Any:
                with self._lock:
                    try:
                        return _original(*args, **kwargs)
                    finally:
                        self._stale = self._stale or not self._replacing

            setattr(store, name, marking)

    def _forget(self, product: str) -> None:
        for port in self._ports.pop(product, set()):
            self._owner.pop(port, None)
        for fed in self._consumes.pop(product, set()):
            self._fed[fed].discard(product)

    def _add(self, product: str, port: str | None = None, fed: str | None = None) -> None:
        if port is not None:
            self._ports[product].add(port)
            self._owner[port] = product
        if fed is not None:
            self._consumes[product].add(fed)
            self._fed[fed].add(product)

    def _apply(self, records: Mapping[str, list[Triple]], dropped: list[str]) -> None:
        """Re-read the written records: each record's ports and what its input ports consume."""
        if self._stale:
            return  # the next walk rebuilds from the store anyway
        for iri in (*records, *dropped):
            self._forget(iri)
        for triples in records.values():
            inputs: dict[str, str] = {}
            consumed: list[tuple[str, str]] = []
            for s, p, o in triples:
                if p == DPROD.outputPort:
                    self._add(str(s), port=str(o))
                elif p == DPROD.inputPort:
                    inputs[str(o)] = str(s)
                elif p == VM.consumes:
                    consumed.append((str(s), str(o)))
            for port, fed in consumed:
                if port in inputs:
                    self._add(inputs[port], fed=fed)

    def _rebuild(self) -> None:
        self._owner.clear()
        self._ports.clear()
        self._consumes.clear()
        self._fed.clear()
        for row in self.store.select(OUTPUT_PORTS).rows:
            self._add(str(row[0]), port=str(row[1]))
        for row in self.store.select(CONSUMED).rows:
            self._add(str(row[0]), fed=str(row[1]))
        self._stale = False
        self.rebuilds += 1

    def _current(self) -> None:
        if self._stale:
            with self._lock:
                if self._stale:
                    self._rebuild()

    # --- answering ---------------------------------------------------------------------------------------

    def step(self, direction: Direction) -> Step:
        """The walk's step over the dicts, with the same answers as lineage.sparql_step."""
        self._current()
        if direction is Direction.UPSTREAM:
            return self._upstream
        return self._downstream

    def _upstream(self, frontier: list[str]) -> list[tuple[str, str, bool]]:
        edges: dict[tuple[str, str], bool] = {}
        with self._lock:  # a write from another thread must not change the dicts under the walk
            for target in frontier:
                for fed in self._consumes.get(target, ()):
                    product = self._owner.get(fed)
                    edges.setdefault((product or fed, target), product is not None)
        return [(source, target, is_product) for (source, target), is_product in edges.items()]

    def _downstream(self, frontier: list[str]) -> list[tuple[str, str, bool]]:
        edges: dict[tuple[str, str], bool] = {}
        with self._lock:
            for source in frontier:
                for fed in (source, *self._ports.get(source, ())):
                    for target in self._fed.get(fed, ()):
                        edges.setdefault((source, target), True)
        return [(source, target, True) for source, target in edges]


def for_store(store: Store) -> LineageIndex | None:
    """An index watching `store`, or None where other processes may write to it (remote SPARQL servers)."""
    if store.location.startswith(REMOTE_PREFIXES):
        return None
    existing = getattr(store, "_valuemesh_lineage_index", None)
    if existing is None:
        existing = LineageIndex(store)
        store._valuemesh_lineage_index = existing  # type: ignore[attr-defined]
    return existing  # type: ignore[no-any-return]
