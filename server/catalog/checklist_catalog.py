"""Every product's checklist verdict at once, from the whole-catalog validation: how the filler of
server/catalog/checklists.py judges a catalog.

Judging products a hundred at a time (checklist_reads.py `judge`) reads each record into a Graph, fetches its
neighbourhood and validates both on a scratch store: 5-10 ms of CPU a product, minutes at 100k. The compiled
whole-catalog validation (`validate_store`, what `valuemesh validate` runs) takes seconds. So the filler runs that
once, and derives from its results and a few questions over the whole store what `judge` would give each product:
the verdict (the violations whose record is the product, by checklist item; the privacy item where its domain is
regulated) and what it read (the nodes its record describes and mentions, its name keys, and the records stating
about them, pointing at them or stating the keys, exactly as `judge` asks them product by product).

The two agree when a product's verdict sees the same facts both ways. `judge` validates a product's record with
its neighbourhood: the types, labels and regulated flag of what it mentions, what points at its nodes with
vm:servedBy or vm:consumes, the products sharing a name key, and the class hierarchy. With shapes that read no
more than that (`derivable`: no further than one step from a record, nothing left to a standard validator, no
SPARQL constraint but the packaged checklist's), the whole catalog shows a product's focus nodes the same facts
unless another record states something about them, or about a node it mentions while some product's record also
does (the neighbourhood then depends on which products are judged together), or another node or record states
one of its name keys (the neighbourhood fetches a namesake only when its record holds its name, key, domain and
type together). Those products, few or none in a catalog written through valuemesh, are judged by `judge`, and
so is every product when the shapes are not `derivable`.
"""

from __future__ import annotations

import re
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from sys import intern

from rdflib import XSD, Literal
from rdflib.term import Node

from server.catalog.checklist_reads import SUBCLASSES_IN, Judged, Judgement, Reads, judge
from server.catalog.nodes import select_texts
from server.governance.shapes import Shapes, catalog_shapes, read_shapes
from server.namespaces import sparql_prefixes
from server.store.base import Store
from server.validation import PRIVACY_ITEM, Checklist, shapes_in_force, validate_store

CHUNK = 100  # products `judge` validates at once, as the filler did for every product
STOP_POLL_S = 0.2  # how soon a worker sees that its fill was stopped
# The fill's time limit in a worker, at least. It runs niced behind everything else: on a busy machine it gets little
# CPU (100k products with the load average at 10 on 2 cores: 40 s of CPU in 15 minutes, and the validation time
# limit of 900 s stopped it), so its limit only stops a fill that is stuck.
FILL_TIMEOUT_S = 6 * 3600.0

# Every node each record says something about (what `judge` reads as a record's subjects, and STATED_IN).
SUBJECTS = "SELECT DISTINCT ?s ?g WHERE { GRAPH ?g { ?s ?p ?o } }"
# Every IRI or blank node each record mentions (a record's objects).
OBJECTS = "SELECT DISTINCT ?g ?o WHERE { GRAPH ?g { ?s ?p ?o } FILTER (!isLiteral(?o)) }"
# What POINTED_FROM asks, for every node.
POINTED_AT = (
    sparql_prefixes()
    + """
SELECT DISTINCT ?node ?g WHERE {
    { GRAPH ?g { ?x vm:servedBy ?node } } UNION { GRAPH ?g { ?x vm:consumes ?node } }
    FILTER (isIRI(?node))
}"""
)
# Every name key, with the node and the record stating it (KEYED_IN, and who shares a key).
NAME_KEYS = sparql_prefixes() + "SELECT DISTINCT ?key ?x ?g WHERE { GRAPH ?g { ?x vm:nameKey ?key } }"
# What REGULATED_PRODUCTS asks (server/validation.py), for every product.
REGULATED = sparql_prefixes() + "SELECT DISTINCT ?product WHERE { ?product dprod:domain/vm:regulated true }"


class _Stopped(Exception):
    """The fill was stopped: nothing it found is kept."""


def derivable(shapes: Shapes) -> bool:
    """Whether the whole-catalog results say what `judge` says of a product whose facts are its own (see the
    module docstring): the shapes read no more than a product's neighbourhood holds."""
    if shapes.reach.beyond_one_step() or shapes.evaluated or shapes.querying_shapes:
        return False
    packaged = {q.text for q in catalog_shapes().queries if any(c.constraint for c in q.checks)}
    return all(q.text in packaged for q in shapes.queries if any(c.constraint for c in q.checks))


def judge_catalog(
    store: Store, iris: Iterable[str], shapes: Shapes | None = None, stopped: Callable[[], bool] = lambda: False
) -> Judgement | None:
    """`judge`'s answer for the stored products among `iris`, from one whole-catalog validation; None when
    `stopped` says so before the end (it is asked after each of the validation's queries)."""
    shapes = shapes or shapes_in_force(store)
    products = list(dict.fromkeys(iris))

    def go_on() -> None:
        if stopped():
            raise _Stopped

    try:
        if not derivable(shapes):
            return judge_in_chunks(store, products, shapes, go_on)
        judgement = _derived(store, products, shapes, go_on)
        go_on()
        return judgement
    except _Stopped:
        return None


def judge_in_chunks(
    store: Store, products: list[str], shapes: Shapes | None = None, go_on: Callable[[], None] = lambda: None
) -> Judgement:
    """`judge` of the products, CHUNK at a time: how the filler judged every product before, and how it judges
    those whose verdicts it cannot derive (`go_on` is called before each chunk)."""
    judged: dict[str, Judged] = {}
    subclass_records: frozenset[str] = frozenset()
    for start in range(0, len(products), CHUNK):
        go_on()
        found = judge(store, products[start : start + CHUNK], shapes)
        judged.update(found.judged)
        subclass_records |= found.subclass_records
    return Judgement(judged, subclass_records, len(judged))


def _pairs(store: Store, query: str) -> Iterator[tuple[str, str]]:
    """The rows of a two-column SELECT as texts: an IRI as itself, a blank node as `_:` and its label (the same in
    every answer of one store). From the store's CSV answer: making rdflib terms of a million values took most of
    the time."""
    for row in select_texts(store, query):
        if len(row) == 2 and row[0] and row[1]:
            yield row[0], row[1]


_UNUSABLE = re.compile(r'[<>"{}|^`\\\x00-\x20]')  # what `iri_ref` refuses: no stored statement is about such an IRI


def _iris(nodes: Iterable[str]) -> set[str]:
    """checklist_reads.py's `_iris` for nodes as texts: the IRIs, not blank nodes, that the store can hold."""
    return {node for node in nodes if not node.startswith("_:") and not _UNUSABLE.search(node)}


def _derived(store: Store, products: list[str], shapes: Shapes, go_on: Callable[[], None]) -> Judgement:
    wanted = set(products)
    report = validate_store(store, shapes, advance=go_on)
    failed: dict[str, set[str]] = {}
    for result in report.violations:
        if result.record in wanted and result.item in shapes.items:
            failed.setdefault(result.record, set()).add(result.item)  # type: ignore[arg-type]
    stated: dict[str, set[str]] = {}  # node -> the records stating something about it
    subjects: dict[str, list[str]] = {}  # product -> the nodes its record says something about
    for node, graph in _pairs(store, SUBJECTS):
        node, graph = intern(node), intern(graph)
        stated.setdefault(node, set()).add(graph)
        if graph in wanted:
            subjects.setdefault(graph, []).append(node)
    go_on()
    objects: dict[str, list[str]] = {}
    for graph, node in _pairs(store, OBJECTS):
        if graph in wanted:
            objects.setdefault(graph, []).append(intern(node))
    go_on()
    pointed: dict[str, set[str]] = {}
    for node, graph in _pairs(store, POINTED_AT):
        pointed.setdefault(node, set()).add(intern(graph))
    go_on()
    keyed: dict[str, set[str]] = {}  # a key as KEYED_IN asks it (a plain string) -> the records stating it
    stating: dict[Node, set[tuple[Node, str]]] = {}  # a key as stored -> the nodes and records stating it
    keys: dict[str, list[Node]] = {}  # product -> the keys its record states
    for key, namesake, stated_in in store.select(NAME_KEYS).rows:
        if key is None or namesake is None or stated_in is None:
            continue
        record = intern(str(stated_in))
        stating.setdefault(key, set()).add((namesake, record))
        if record in wanted:
            keys.setdefault(record, []).append(key)
        if isinstance(key, Literal) and key.language is None and key.datatype in (None, XSD.string):
            keyed.setdefault(str(key), set()).add(record)
    go_on()
    regulated = {str(row[0]) for row in store.select(REGULATED).rows if row[0] is not None}
    subclass_records = frozenset(str(row[0]) for row in store.select(SUBCLASSES_IN).rows if row[0] is not None)

    def own(iri: str) -> bool:
        """Whether `judge` sees this product's facts as the whole catalog does (see the module docstring)."""
        if any(stated[node] != {iri} for node in subjects[iri]):
            return False  # another record says something about one of its nodes
        if any(len(stating[key]) > 1 for key in keys.get(iri, ())):
            return False  # another node, or another record, states one of its name keys
        for node in objects.get(iri, ()):
            elsewhere = stated.get(node, set())
            if node.startswith("_:") and elsewhere != {iri}:
                return False  # a blank node another record describes: no neighbourhood query fetches it
            if len(elsewhere) > 1 and iri not in elsewhere and elsewhere & wanted:
                return False  # described by several records, a product's among them
        return True

    judged: dict[str, Judged] = {}
    apart: list[str] = []
    for iri in products:
        if iri not in subjects:
            continue  # not stored
        if not own(iri):
            apart.append(iri)
            continue
        described = _iris(subjects[iri])
        mentioned = _iris(objects.get(iri, ())) - described | {iri}
        names = {str(key) for key in keys.get(iri, ()) if isinstance(key, Literal)}
        read = {iri}
        for node in mentioned:
            read |= stated.get(node, set())
        for node in described:
            read |= pointed.get(node, set())
        for name in names:
            read |= keyed.get(name, set())
        items = tuple(i for i in shapes.items if i != PRIVACY_ITEM or iri in regulated)
        missing = failed.get(iri, set())
        verdict = Checklist(items, tuple(i for i in items if i in missing))
        judged[iri] = Judged(verdict, Reads(tuple(read), tuple(mentioned), tuple(described), tuple(names)))
    if apart:
        judged.update(judge_in_chunks(store, apart, shapes, go_on).judged)
    return Judgement(judged, subclass_records, len(apart))


@dataclass(frozen=True)
class CatalogChecklistJudging:
    """`judge_catalog` as a job for a worker process on a snapshot of the store (server/query_workers.py);
    `shape_files`: the files of the shapes in force, None for the packaged ones; `stop_file`: once it exists, the
    job stops and answers None (`stop_relayed`)."""

    iris: tuple[str, ...]
    timeout_s: float
    shape_files: tuple[Path, ...] | None = None
    stop_file: str | None = None

    def run_on(self, store: Store) -> Judgement | None:
        shapes = catalog_shapes() if self.shape_files is None else read_shapes(self.shape_files)
        marker = None if self.stop_file is None else Path(self.stop_file)
        return judge_catalog(store, self.iris, shapes, stopped=lambda: marker is not None and marker.exists())


@contextmanager
def stop_relayed(stop: threading.Event) -> Iterator[Path]:
    """A file that comes to exist once `stop` is set, while the block runs: how a fill stops a job in a worker
    process, which reads nothing but its job."""
    with tempfile.TemporaryDirectory(prefix="valuemesh-fill-") as directory:
        marker = Path(directory) / "stop"
        done = threading.Event()

        def relay() -> None:
            while not done.wait(STOP_POLL_S):
                if stop.is_set():
                    marker.touch()
                    return

        if stop.is_set():
            marker.touch()
        relaying = threading.Thread(target=relay, name="checklists-fill-stop", daemon=True)
        relaying.start()
        try:
            yield marker
        finally:
            done.set()
            relaying.join()
