"""SHACL validation of writes and of the stored catalog (the article's Data Product MVP checklist).

The shapes are the standard SHACL files in shapes/ (mvp-checklist.ttl: violations; recommended.ttl: warnings).
valuemesh runs them by compiling each constraint to one SPARQL query for the store's own engine
(server/governance/shapes.py); tests check the verdict equals pyshacl's. Entry points:

- `check_write(store, records)`: before every write, the records with the neighbourhood the shapes need.
- `validate_records(records)`: files on their own.
- `judge_records(store)`: the records of a store that holds little else (a bulk load's batch), in the whole-catalog
  form.
- `validate_store(store)`: the whole catalog; `CatalogValidation` is the same as a job for a worker process
  (server/query_workers.py), which the server runs on a snapshot of the store.
- `checklist(store, product_iris)`: the checklist items each product misses; `completeness`: the share it meets.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node

from server.governance.engine import run_checks
from server.governance.fallback import evaluate
from server.governance.neighbourhood import dependents, neighbourhood, scratch_store
from server.governance.results import ValidationReport, ValidationResult
from server.governance.shapes import Shapes, catalog_shapes, read_shapes
from server.namespaces import sparql_prefixes
from server.sparql_text import iri_chunks, iri_ref
from server.store.base import Store, backend_of
from server.store.memory import MemoryStore

__all__ = [
    "PRIVACY_ITEM",
    "CatalogValidation",
    "Checklist",
    "ValidationReport",
    "ValidationResult",
    "check_write",
    "checklist",
    "completeness",
    "judge_records",
    "judged_checklists",
    "run_shapes",
    "shapes_in_force",
    "validate_records",
    "validate_store",
]

Records = dict[str, Graph]

# The one checklist item that applies only to some products ("mandatory only for regulated industries").
PRIVACY_ITEM = "Data Privacy, Classification and compliance"

REGULATED_PRODUCTS = (
    sparql_prefixes()
    + """
SELECT DISTINCT ?product WHERE { VALUES ?product { #NODES } ?product dprod:domain/vm:regulated true }"""
)


def run_shapes(
    store: Store,
    shapes: Shapes,
    *,
    focus_in_records: bool = False,
    advance: Callable[[], None] | None = None,
    threads: int = 1,
) -> ValidationReport:
    """Every shape over a store: the compiled queries (`threads` at a time), then the shapes left to a standard
    validator (if any)."""
    results = run_checks(store, shapes.queries, focus_in_records=focus_in_records, advance=advance, threads=threads)
    return ValidationReport(results + evaluate(store, shapes, focus_in_records=focus_in_records))


# Which of the listed nodes some record (named graph) says something about: FOCUS_IN_RECORDS of shapes.py, asked
# once of the nodes the results are about instead of once per target node of every query.
IN_RECORDS = "SELECT ?this WHERE { VALUES ?this { #NODES } FILTER EXISTS { GRAPH ?record { ?this ?p ?o } } }"
ONE_IN_RECORDS = "ASK { GRAPH ?record { ?this ?p ?o } }"


def judge_records(
    store: Store, shapes: Shapes, *, advance: Callable[[], None] | None = None, threads: int = 1
) -> ValidationReport:
    """`run_shapes(store, shapes, focus_in_records=True)` for a store whose records are most of what it holds (a bulk
    load's batch, beside at most as much context): every compiled query in its whole-catalog form, as
    `validate_store` runs it, then the results about nodes that no record describes left out. The results are the
    same: SHACL judges each focus node on its own, so a node's results do not depend on which other nodes are in
    focus. It is the cheaper plan on disk, where the focus form tests each target node of every query for a record
    with a lookup of its own (twice the time of the queries themselves at 30k products, bench/README.md)."""
    results = run_checks(store, shapes.queries, advance=advance, threads=threads)
    described = described_in_records(store, {result.focus_term for result in results})
    kept = [result for result in results if result.focus_term in described]
    return ValidationReport(kept + evaluate(store, shapes, focus_in_records=True))


def described_in_records(store: Store, nodes: set[Node | None]) -> set[Node]:
    """The nodes of `nodes` that some record (named graph) of `store` says something about."""
    iris = {str(node) for node in nodes if isinstance(node, URIRef)}
    found: set[Node] = set()
    for chunk in iri_chunks(iris):
        found.update(row[0] for row in store.select(IN_RECORDS.replace("#NODES", chunk)).rows if row[0] is not None)
    # A blank node, or an IRI that SPARQL text cannot carry, is asked about alone with the engine's binding; a
    # literal is the subject of nothing.
    for node in nodes:
        if node is None or isinstance(node, Literal) or node in found:
            continue
        if (isinstance(node, BNode) or not iri_chunks([str(node)])) and store.ask(ONE_IN_RECORDS, {"this": node}):
            found.add(node)
    return found


@runtime_checkable
class Governed(Protocol):
    """A catalog's store as its faces see it (server/catalog/service.py `IndexedStore`): it knows the shapes in force."""

    shapes: Shapes


def shapes_in_force(store: object) -> Shapes:
    """The shapes a store's catalog validates with: those configured for its Catalog, else the packaged ones (a
    store opened on its own, as CLI commands do, is given its shapes explicitly)."""
    return store.shapes if isinstance(store, Governed) else catalog_shapes()


def _judge(records: Records, context: Graph | None, shapes: Shapes) -> ValidationReport:
    scratch = scratch_store(records, context)
    try:
        return run_shapes(scratch, shapes, focus_in_records=True)
    finally:
        scratch.close()


def check_write(store: Store, records: Records, shapes: Shapes | None = None) -> ValidationReport:
    """Validate candidate records with the neighbourhood the shapes need, and the stored records they affect."""
    shapes = shapes or shapes_in_force(store)
    affected = dependents(store, records)
    judged = {**records, **{iri: store.record(iri) for iri in sorted(affected)}}
    return _judge(judged, neighbourhood(store, judged, shapes.reach), shapes)


def validate_records(records: Records, shapes: Shapes | None = None) -> ValidationReport:
    """Validate records on their own, as if they were the whole catalog (`valuemesh validate FILE...`)."""
    return _judge(records, None, shapes or catalog_shapes())


def validate_store(
    store: Store, shapes: Shapes | None = None, *, advance: Callable[[], None] | None = None, threads: int = 1
) -> ValidationReport:
    """Validate the whole catalog: about twenty queries over the store, `threads` at a time; `advance` is called
    after each."""
    shapes = shapes or shapes_in_force(store)
    if getattr(backend_of(store), "dialect", None) == "virtuoso":
        # Virtuoso 7's SPARQL compiler fails on the compiled checks (an internal error on a VALUES beside a path),
        # so its catalog is checked on a local copy: one download, then the same queries as everywhere else.
        return _validate_copy(store, shapes, advance, threads)
    return run_shapes(store, shapes, advance=advance, threads=threads)


@dataclass(frozen=True)
class CatalogValidation:
    """Whole-catalog validation as a job for a worker process: `run_on` a snapshot gives `validate_store`'s report.
    `shape_files`: the files of the shapes in force (checked when the catalog started), None for the packaged ones."""

    timeout_s: float
    shape_files: tuple[Path, ...] | None = None

    def run_on(self, store: Store) -> ValidationReport:
        shapes = catalog_shapes() if self.shape_files is None else read_shapes(self.shape_files)
        return validate_store(store, shapes)


def _validate_copy(store: Store, shapes: Shapes, advance: Callable[[], None] | None, threads: int) -> ValidationReport:
    dataset = io.BytesIO()
    store.dump(dataset, "application/n-quads")
    copy = MemoryStore()
    try:
        copy.bulk_load(dataset.getvalue(), "application/n-quads")
        return run_shapes(copy, shapes, advance=advance, threads=threads)
    finally:
        copy.close()


@dataclass(frozen=True)
class Checklist:
    """One product against the MVP checklist: the mandatory items that apply to it and those it misses."""

    items: tuple[str, ...]
    missing: tuple[str, ...]

    @property
    def completeness(self) -> float:
        return (len(self.items) - len(self.missing)) / len(self.items) if self.items else 1.0

    @property
    def passes(self) -> bool:
        return not self.missing


def checklist(store: Store, product_iris: Iterable[str], shapes: Shapes | None = None) -> dict[str, Checklist]:
    """Each stored product's checklist: which mandatory items apply and which it misses; unknown IRIs are left out.

    The items are the article's (owner, name, description, data sharing agreement, port, type, business domain,
    and privacy classification only where the product's domain is regulated); an item is met when no violation
    of its shapes is about the product or its ports, agreement and SLOs.
    """
    return judged_checklists(store, product_iris, shapes)[0]


def judged_checklists(
    store: Store, product_iris: Iterable[str], shapes: Shapes | None = None
) -> tuple[dict[str, Checklist], Records, Graph]:
    """`checklist`, with what it was judged from: the products' records as stored, and the stored facts of their
    neighbourhood (server/catalog/checklist_reads.py derives from both what a verdict depends on)."""
    shapes = shapes or shapes_in_force(store)
    records = {iri: store.record(iri) for iri in dict.fromkeys(product_iris)}
    records = {iri: graph for iri, graph in records.items() if len(graph)}
    if not records:
        return {}, {}, Graph()
    # Judged as stored: the neighbourhood leaves out the records themselves, which are given whole.
    context = neighbourhood(store, records, shapes.reach)
    report = _judge(records, context, shapes)
    listed = " ".join(iri_ref(iri) for iri in records)
    regulated = {str(row[0]) for row in store.select(REGULATED_PRODUCTS.replace("#NODES", listed)).rows}
    failed: dict[str, set[str]] = {iri: set() for iri in records}
    for result in report.violations:
        if result.record in failed and result.item in shapes.items:
            failed[result.record].add(result.item)  # type: ignore[arg-type]
    answer = {}
    for iri in records:
        items = tuple(i for i in shapes.items if i != PRIVACY_ITEM or iri in regulated)
        answer[iri] = Checklist(items, tuple(i for i in items if i in failed[iri]))
    return answer, records, context


def completeness(store: Store, product_iris: Iterable[str], shapes: Shapes | None = None) -> dict[str, float]:
    """Share (0..1) of the checklist's mandatory items each stored product meets (`checklist`); unknown IRIs are
    left out."""
    return {iri: result.completeness for iri, result in checklist(store, product_iris, shapes).items()}
