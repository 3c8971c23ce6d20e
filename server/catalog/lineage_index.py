"""A derived, in-memory copy of the lineage edges, the names of their nodes and the list of products.

Why: at 100k products the SPARQL walk (server/catalog/lineage.py) asks one question per depth level and took
about 11-58 ms for a 12-level lineage on the benchmark machine, and naming ~130 nodes took another 4-12 ms; the
same walk over dicts takes well under a millisecond (bench/bench_api.py).

What it holds, all derived from the store: which output ports each product owns, what each product's input ports
consume, the names (rdfs:label) of products and data sources, which records type what as a data product, and the
products' labels and descriptions. So the unfiltered product listing pages by bisection (at 100k, a page read
from SPARQL took 0.45 s: every product IRI crosses into Python to be sorted, and Oxigraph's own ORDER BY ... LIMIT
took 4.7 s), and a `search:` is a scan of strings in memory (150 ms at 100k for a page and its count, against
1.7 s each for the SPARQL filter, which lower-cases every literal). It is built with plain SPARQL questions, in a
background thread (about 12 s at 100k products on disk, on the benchmark machine); until it is ready, lineage
asks SPARQL, with the same answers. The Catalog service (server/catalog/service.py) owns it and tells it of every
write: a record replaced or dropped is re-read from the triples being written (`records_written`); any other kind
of write (`store_changed`: a SPARQL update, a bulk load) makes it stale and it is rebuilt. Records written while a
build runs are replayed onto it when it ends, so steady writes never starve a build; only a write of the other kind
makes a build start over. An embedded store is written by this process alone (Oxigraph holds a lock on its
directory); a remote SPARQL store can be written by other processes, so there the service also has the index follow
the changes other replicas note on the server (server/catalog/changes.py). tests/test_catalog_lineage_index.py checks that walks, pages, searches and overlaps over the index
equal the SPARQL answers, before, during and after writes.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from rdflib import RDF, RDFS

from server.catalog.lineage import Direction, Step
from server.namespaces import DCT, DPROD, VM, sparql_prefixes
from server.store.base import Store, Triple

logger = logging.getLogger(__name__)

OUTPUT_PORTS = (
    sparql_prefixes()
    + """
SELECT ?product ?port WHERE { ?product dprod:outputPort ?port }
"""
)

# Input ports and what they consume are read apart and joined here: at 100k products two plain scans took 3.8 s,
# the joined pattern 6.4 s; likewise the two kinds of names (2.9 s apart, 8.1 s as one UNION).
INPUT_PORTS = (
    sparql_prefixes()
    + """
SELECT ?product ?port WHERE { ?product dprod:inputPort ?port }
"""
)

CONSUMES = (
    sparql_prefixes()
    + """
SELECT ?port ?fed WHERE { ?port vm:consumes ?fed }
"""
)

PRODUCT_NAMES = (
    sparql_prefixes()
    + """
SELECT ?node ?name WHERE { ?node a dprod:DataProduct ; rdfs:label ?name }
"""
)

# What a `search:` filter reads: the products' labels and descriptions, with the record stating each.
PRODUCT_TEXTS = (
    sparql_prefixes()
    + """
SELECT ?record ?product ?text WHERE {
  ?product a dprod:DataProduct .
  GRAPH ?record { { ?product rdfs:label ?text } UNION { ?product dct:description ?text } }
}
"""
)

TYPED_PRODUCTS = (
    sparql_prefixes()
    + """
SELECT ?record ?product WHERE { GRAPH ?record { ?product a dprod:DataProduct } }
"""
)

SOURCE_NAMES = (
    sparql_prefixes()
    + """
SELECT ?node ?name WHERE { ?node a vm:DataSource ; rdfs:label ?name }
"""
)

# Stores whose writes may come from elsewhere: their index follows the changes graph (catalog/changes.py).
REMOTE_PREFIXES = ("sparql", "http")
NAMED_TYPES = frozenset({DPROD.DataProduct, VM.DataSource})
SEARCHED = frozenset({RDFS.label, DCT.description})


class RecordListener(Protocol):
    """Told of every change the index follows (see `LineageIndex.listen`)."""

    def records_changed(self, records: Mapping[str, list[Triple]], dropped: list[str]) -> None: ...

    def everything_changed(self) -> None: ...


@dataclass
class _Edges:
    owner: dict[str, str] = field(default_factory=dict)  # output port -> product
    ports: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # product -> output ports
    consumes: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # product -> ports, sources
    fed: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # port or source -> products
    names: dict[str, str] = field(default_factory=dict)  # product or data source -> rdfs:label
    typed: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # record -> products it types
    products: dict[str, int] = field(default_factory=dict)  # product -> how many records type it
    texts: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # record -> product -> labels, descriptions

    def add_text(self, record: str, product: str, text: str) -> None:
        self.texts.setdefault(record, {}).setdefault(product, []).append(text)

    def add_product(self, record: str, product: str) -> None:
        if product not in self.typed[record]:
            self.typed[record].add(product)
            self.products[product] = self.products.get(product, 0) + 1

    def add(self, product: str, port: str | None = None, fed: str | None = None) -> None:
        if port is not None:
            self.ports[product].add(port)
            self.owner[port] = product
        if fed is not None:
            self.consumes[product].add(fed)
            self.fed[fed].add(product)

    def forget(self, record: str) -> None:
        for port in self.ports.pop(record, set()):
            self.owner.pop(port, None)
        for fed in self.consumes.pop(record, set()):
            self.fed[fed].discard(record)
        self.names.pop(record, None)
        self.texts.pop(record, None)
        for product in self.typed.pop(record, set()):
            self.products[product] -= 1
            if not self.products[product]:
                del self.products[product]


class LineageIndex:
    """See the module docstring."""

    def __init__(
        self, store: Store, *, background: bool = False, after_build: Callable[[], None] | None = None
    ) -> None:
        """`background`: build in a thread and let SPARQL answer meanwhile (the API); else the first walk builds.
        `after_build` is called after each build is put in place."""
        self.store = store
        self._background = background
        self._after_build = after_build
        self._lock = threading.RLock()
        self._edges = _Edges()
        self._stale = True
        self._generation = 0  # counts writes the index cannot replay, so that a build that overlapped one is not used
        self._replay: list[tuple[Mapping[str, list[Triple]], list[str]]] | None = None  # records written mid-build
        self._building: threading.Thread | None = None
        self._one_build = threading.Lock()  # a background build and a refresh() never read at once
        self._listing: list[str] | None = None  # the products in code-point order, sorted when first asked
        self._searchable: dict[str, list[str]] | None = None  # product -> its texts in lower case, when first asked
        self._found: tuple[str, list[str]] | None = None  # the last search and its products (a page, then its count)
        self.rebuilds = 0
        self._listeners: list[RecordListener] = []

    # --- keeping it current ------------------------------------------------------------------------------

    def records_written(
        self, records: Mapping[str, Iterable[Triple]], dropped: Iterable[str] = (), *, write: Callable[[], None]
    ) -> None:
        """Run `write` (which stores `records` and drops `dropped`), then read the records into the index.

        Both happen under the index's lock, so the index follows writes in the order the store took them."""
        materialised = {iri: list(triples) for iri, triples in records.items()}
        gone = list(dropped)
        with self._lock:
            write()
            self._take(materialised, gone)

    def records_reread(self, iris: Iterable[str]) -> None:
        """Read these records afresh from the store into the index: another process wrote or dropped them."""
        with self._lock:  # read under the lock, so a write of this process cannot land between read and apply
            records: dict[str, list[Triple]] = {}
            dropped: list[str] = []
            for iri in iris:
                triples = list(self.store.record(iri))
                if triples:
                    records[iri] = triples  # type: ignore[assignment]
                else:
                    dropped.append(iri)
            self._take(records, dropped)

    def listen(self, listener: RecordListener) -> None:
        """Tell `listener` of every write the index follows, as it follows it (under the index's lock: the listener
        must be quick): records written or dropped, here or by another replica, and writes of other kinds. So
        what other parts of the catalog derive from records follows the same writes, in the same order."""
        with self._lock:
            self._listeners.append(listener)

    def _take(self, records: Mapping[str, list[Triple]], dropped: list[str]) -> None:
        for listener in self._listeners:
            listener.records_changed(records, dropped)
        if self._replay is not None:
            self._replay.append((records, dropped))
        if not self._stale:
            self._apply(self._edges, records, dropped)

    def store_changed(self, *, write: Callable[[], None]) -> None:
        """Run `write`, a change the index cannot read record by record: it is rebuilt."""
        with self._lock:
            try:
                write()
            finally:
                self._generation += 1
                self._stale = True
                for listener in self._listeners:
                    listener.everything_changed()

    def _apply(self, edges: _Edges, records: Mapping[str, list[Triple]], dropped: list[str]) -> None:
        """Re-read the written records: a product's ports, what its input ports consume, what they type as a product;
        names and the texts search reads."""
        self._forget_derived()
        for iri in (*records, *dropped):
            edges.forget(iri)
        for iri, triples in records.items():
            inputs: dict[str, str] = {}
            consumed: list[tuple[str, str]] = []
            labels: dict[str, str] = {}
            texts: list[tuple[str, str]] = []
            named = False
            for s, p, o in triples:
                if p in SEARCHED:
                    texts.append((str(s), str(o)))
                if p == DPROD.outputPort:
                    edges.add(str(s), port=str(o))
                elif p == DPROD.inputPort:
                    inputs[str(o)] = str(s)
                elif p == VM.consumes:
                    consumed.append((str(s), str(o)))
                elif p == RDFS.label:
                    labels[str(s)] = str(o)
                elif p == RDF.type and o in NAMED_TYPES:
                    named = named or str(s) == iri
                    if o == DPROD.DataProduct:
                        edges.add_product(iri, str(s))
            for port, fed in consumed:
                if port in inputs:
                    edges.add(inputs[port], fed=fed)
            if named and iri in labels:
                edges.names[iri] = labels[iri]
            for subject, text in texts:
                if subject in edges.products:  # typed here or elsewhere (then SPARQL's union counts it too)
                    edges.add_text(iri, subject, text)

    def _build(self) -> None:
        """Read everything afresh (outside the lock: it takes seconds), then replay the records written meanwhile.

        A write of another kind during the build (`store_changed`) makes it start over."""
        with self._one_build:
            if self._stale:  # another thread's build may have finished while this one waited for it
                self._build_once()

    def _build_once(self) -> None:
        with self._lock:
            generation = self._generation
            self._replay = []
        try:
            edges = self._read()
        except BaseException:
            with self._lock:
                self._replay = None
            raise
        with self._lock:
            replay, self._replay = self._replay or [], None
            if generation != self._generation:
                return
            for records, dropped in replay:
                self._apply(edges, records, dropped)
            self._edges = edges
            self._forget_derived()
            self._stale = False
            self.rebuilds += 1
        if self._after_build is not None:
            self._after_build()

    def _read(self) -> _Edges:
        edges = _Edges()
        for row in self.store.select(OUTPUT_PORTS).rows:
            edges.add(str(row[0]), port=str(row[1]))
        input_of = {str(row[1]): str(row[0]) for row in self.store.select(INPUT_PORTS).rows}
        for row in self.store.select(CONSUMES).rows:
            product = input_of.get(str(row[0]))
            if product is not None:
                edges.add(product, fed=str(row[1]))
        for query in (PRODUCT_NAMES, SOURCE_NAMES):
            for row in self.store.select(query).rows:
                edges.names.setdefault(str(row[0]), str(row[1]))
        for row in self.store.select(TYPED_PRODUCTS).rows:
            edges.add_product(str(row[0]), str(row[1]))
        for row in self.store.select(PRODUCT_TEXTS).rows:
            edges.add_text(str(row[0]), str(row[1]), str(row[2]))
        return edges

    def refresh(self) -> None:
        """Make the index current now, in this thread (tests; start-up when waiting is preferred)."""
        while self._stale:
            self._build()

    @property
    def state(self) -> str:
        """ "ready", or "building" while walks are answered by SPARQL (for /healthz; starts nothing)."""
        return "building" if self._stale else "ready"

    def _refresh_quietly(self) -> None:
        """A background build: if the store fails meanwhile, SPARQL keeps answering and a later walk tries again."""
        try:
            self.refresh()
        except Exception as error:
            logger.warning("lineage index not built (SPARQL answers meanwhile): %s", error)

    def ready(self) -> bool:
        """Whether walks can use the index now; if not, a background build is started and SPARQL answers."""
        if not self._stale:
            return True
        if not self._background:
            self.refresh()
            return True
        with self._lock:
            if self._building is None or not self._building.is_alive():
                self._building = threading.Thread(target=self._refresh_quietly, name="lineage-index", daemon=True)
                self._building.start()
        return False

    # --- answering ---------------------------------------------------------------------------------------

    def step(self, direction: Direction) -> Step | None:
        """The walk's step over the dicts (the same answers as lineage.sparql_step), or None until ready."""
        if not self.ready():
            return None
        edges = self._edges
        return self._upstream(edges) if direction is Direction.UPSTREAM else self._downstream(edges)

    def names(self, iris: list[str]) -> dict[str, str]:
        """The names of products and data sources the index knows (others are left out)."""
        if self._stale:
            return {}
        names = self._edges.names
        return {iri: names[iri] for iri in iris if iri in names}

    def _forget_derived(self) -> None:
        self._listing = None
        self._searchable = None
        self._found = None

    def products(self, search: str | None = None) -> list[str] | None:
        """The products in code-point order (page_of_products' order); with `search`, those a label or description of
        contains it, in any case; None until ready."""
        if not self.ready():
            return None
        with self._lock:
            if self._listing is None:
                self._listing = sorted(self._edges.products)
            if not search:
                return self._listing
            if self._found is not None and self._found[0] == search:
                return self._found[1]
            if self._searchable is None:
                searchable: dict[str, list[str]] = {}
                for by_product in self._edges.texts.values():
                    for product, texts in by_product.items():
                        searchable.setdefault(product, []).extend(text.lower() for text in texts)
                self._searchable = searchable
            needle = search.lower()  # SPARQL's LCASE and Python's lower() are both Unicode's full lower-casing
            found = [p for p in self._listing if any(needle in text for text in self._searchable.get(p, ()))]
            self._found = (search, found)
            return found

    def direct_sources(self, products: list[str] | None = None) -> list[tuple[str, str, bool]] | None:
        """(product, direct source, source is a product) for `products`, or for every typed product; None until ready.

        The rows sources.DIRECT_SOURCES and ALL_DIRECT_SOURCES answer: what each input port consumes, an output port
        standing for the product that owns it.
        """
        if not self.ready():
            return None
        rows = []
        with self._lock:
            edges = self._edges
            for product in edges.products if products is None else products:
                for fed in edges.consumes.get(product, ()):
                    owner = edges.owner.get(fed)
                    rows.append((product, owner or fed, owner is not None))
        return rows

    def _upstream(self, edges: _Edges) -> Step:
        def step(frontier: list[str]) -> list[tuple[str, str, bool]]:
            found: dict[tuple[str, str], bool] = {}
            with self._lock:  # a write from another thread must not change the dicts under the walk
                for target in frontier:
                    for fed in edges.consumes.get(target, ()):
                        product = edges.owner.get(fed)
                        found.setdefault((product or fed, target), product is not None)
            return [(source, target, is_product) for (source, target), is_product in found.items()]

        return step

    def _downstream(self, edges: _Edges) -> Step:
        def step(frontier: list[str]) -> list[tuple[str, str, bool]]:
            found: dict[tuple[str, str], bool] = {}
            with self._lock:
                for source in frontier:
                    for fed in (source, *edges.ports.get(source, ())):
                        for target in edges.fed.get(fed, ()):
                            found.setdefault((source, target), True)
            return [(source, target, True) for source, target in found]

        return step


def shared_by_processes(store: Store) -> bool:
    """Whether other processes may write `store` too (a remote SPARQL server), so the index must follow them."""
    return store.location.startswith(REMOTE_PREFIXES)
