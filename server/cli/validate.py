"""`valuemesh validate`: the Data Product MVP checklist over files, files against the catalog, or the whole catalog."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rdflib import RDF, RDFS, XSD, Literal, URIRef

from server.catalog.records import Records, merge_records, records_of
from server.catalog.seeding import prepare
from server.cli.app import app
from server.cli.common import (
    EXIT_VIOLATIONS,
    NoSeedOption,
    ShapesOption,
    StoreOption,
    catalog_store,
    configured_shapes,
    stderr,
    stdout,
)
from server.errors import BadInput
from server.governance.ci_reports import Sources, github_annotations, junit_xml, sarif
from server.governance.report import human_lines, report_graph
from server.governance.shapes import Shapes
from server.heap import keep_freed_memory
from server.namespaces import DPROD, sparql_prefixes
from server.settings import Settings
from server.store import Store
from server.store.memory import MemoryStore
from server.validation import ValidationReport, check_write, validate_records, validate_store

YAML_SUFFIXES = (".yaml", ".yml")
# Above this many quads a whole-store validation shows a progress bar (one step per compiled query).
PROGRESS_FROM_QUADS = 200_000
# The compiled queries of a whole-store validation run this many at a time, each on a core of its own (Oxigraph
# evaluates them without Python's lock); the report is the same as one at a time.
QUERY_THREADS = min(4, os.cpu_count() or 1)


class ReportFormat(str, Enum):
    human = "human"
    turtle = "turtle"
    json = "json"
    junit = "junit"
    sarif = "sarif"
    github = "github"


# The stored products, for JUnit's test suites and for saying which products a change of rules would fail.
STORED_PRODUCTS = (
    sparql_prefixes()
    + """
SELECT ?product (SAMPLE(?label) AS ?name) WHERE { GRAPH ?product { ?product a dprod:DataProduct OPTIONAL { ?product rdfs:label ?label } } }
GROUP BY ?product"""
)
# The reports that name the stored products (the others list results only).
NAMING_PRODUCTS = {ReportFormat.human, ReportFormat.junit}


def _validate_whole_store(opened: Store, shapes: Shapes) -> ValidationReport:
    keep_freed_memory()  # the queries' hash tables reuse what the ones before freed (server/heap.py)
    # Counting the quads takes a scan of the store (0.2 s at 10k products on disk): only when a bar could be shown.
    if not stderr.is_terminal or opened.quad_count() < PROGRESS_FROM_QUADS:
        return validate_store(opened, shapes, threads=QUERY_THREADS)
    # Imported here: the progress bar's module is a share of the start-up that a run without a bar skips.
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    queries = shapes.queries
    columns = (TextColumn("validating the catalog"), BarColumn(), TextColumn("{task.completed}/{task.total}"))
    with Progress(*columns, TimeElapsedColumn(), console=stderr, transient=True) as progress:
        task = progress.add_task("validating", total=len(queries))
        return validate_store(opened, shapes, advance=lambda: progress.advance(task), threads=QUERY_THREADS)


def _print(
    report: ValidationReport,
    output_format: ReportFormat,
    products: list[tuple[str, str]],
    shapes: Shapes,
    sources: Sources,
) -> None:
    if output_format is ReportFormat.turtle:
        sys.stdout.write(report_graph(report).serialize(format="turtle"))
    elif output_format is ReportFormat.json:
        sys.stdout.write(json.dumps(report.to_json(), indent=2) + "\n")
    elif output_format is ReportFormat.junit:
        sys.stdout.write(junit_xml(report, products, shapes.items))
    elif output_format is ReportFormat.sarif:
        sys.stdout.write(sarif(report, sources))
    elif output_format is ReportFormat.github:
        sys.stdout.write(github_annotations(report, sources))
    else:
        # One print: rich renders thousands of lines printed one by one three times slower.
        stdout.print("\n".join(human_lines(report)), highlight=False)


def _records(files: list[Path], opened: Store | None, sources: Sources) -> Records:
    """The records of RDF files and of descriptors (ODPS, DPDS, valuemesh YAML), as `load` and `register` read
    them; with the catalog at hand, descriptors find the domains and agents it holds. `sources` learns which file
    each record came from."""
    # Imported here: the descriptor formats and the loader take half a second, which checking the catalog skips.
    from server.cli.load import expand_paths, read_all
    from server.formats.conversion import records_from_yaml

    paths = expand_paths(files, YAML_SUFFIXES)
    descriptors = [path for path in paths if path.suffix.lower() in YAML_SUFFIXES]
    rdf = [path for path in paths if path not in descriptors]
    base = Settings.from_env().base
    read: list[Records] = []
    for path in descriptors:
        read.append(records_from_yaml(path.read_text(encoding="utf-8"), str(path), base=base, store=opened))
        sources.files.update(dict.fromkeys(read[-1], path))
    for path, document in zip(rdf, read_all(rdf), strict=True):
        read.append(records_of(document))
        sources.files.update(dict.fromkeys(read[-1], path))
    return merge_records(read)


@contextmanager
def _context_store(paths: list[Path]) -> Iterator[Store]:
    """The catalog as files describe it (an export: `valuemesh export --format trig`, or the records of the domains
    and teams), held in memory for judging other files against, as a write to it would be judged."""
    from server.cli.load import expand_paths, read_all

    context = MemoryStore()
    try:
        prepare(context, with_seed=False)
        records = merge_records(records_of(d) for d in read_all(expand_paths(paths)))
        context.replace_records({iri: list(graph) for iri, graph in records.items()})
        yield context
    finally:
        context.close()


def _products_of(records: Records) -> list[tuple[str, str]]:
    return [
        (iri, str(graph.value(product, RDFS.label) or iri))
        for iri, graph in records.items()
        for product in graph.subjects(RDF.type, DPROD.DataProduct)
        if str(product) == iri
    ]


def _stored_products(opened: Store) -> list[tuple[str, str]]:
    # Read as SPARQL JSON results, not rdflib terms: making 10,000 rdflib literals took most of this (1.2 of 1.8 s
    # at 10k products on a busy machine).
    answer = json.loads(opened.query_serialized(STORED_PRODUCTS, "application/sparql-results+json"))
    products = []
    for binding in answer["results"]["bindings"]:
        if "product" in binding:
            product = binding["product"]["value"]
            products.append((product, str(_name(binding.get("name")) or product)))
    # Sorted here: on disk, ORDER BY ?product made this query 1.8 s instead of 0.3 s at 10k products.
    return sorted(products)


def _name(term: dict[str, str] | None) -> Literal | None:
    """A label from SPARQL JSON results as rdflib reads it (a label rdflib takes for false or zero is no name)."""
    if term is None:
        return None
    datatype = term.get("datatype")
    if datatype is None or datatype == str(XSD.string):
        return Literal(term["value"], lang=term.get("xml:lang"))
    return Literal(term["value"], datatype=URIRef(datatype), normalize=False)


def _failing(report: ValidationReport, products: list[tuple[str, str]]) -> list[str]:
    failed = {r.record for r in report.violations}
    return [name for iri, name in products if iri in failed]


@app.command()
def validate(
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            help="RDF files, descriptors (ODPS, DPDS, valuemesh YAML) or directories to check; the whole stored "
            "catalog when none is given."
        ),
    ] = None,
    with_store: Annotated[
        bool,
        typer.Option("--with-store", help="Check the files as a write to the stored catalog would be checked."),
    ] = False,
    context: Annotated[
        list[Path] | None,
        typer.Option(
            "--context",
            help="RDF files or directories standing for the catalog (e.g. `valuemesh export --format trig`): the "
            "files are checked as a write to it would be, and it is not judged itself. Repeatable.",
        ),
    ] = None,
    output_format: Annotated[
        ReportFormat,
        typer.Option("--format", "-f", help="human (grouped by product), turtle (sh:ValidationReport) or json."),
    ] = ReportFormat.human,
    strict: Annotated[bool, typer.Option("--strict", help="Fail (exit 1) on warnings too.")] = False,
    shapes: ShapesOption = None,
    store: StoreOption = None,
    no_seed: NoSeedOption = False,
) -> None:
    """Check the Data Product MVP checklist (shapes/mvp-checklist.ttl) and recommended practice
    (shapes/recommended.ttl), or the shapes given with --shapes. Over the stored catalog with new shapes, it says
    which stored products they would fail (a dry run before putting them in force). Exit 0 when it conforms, 1 on
    violations (or warnings with --strict), 2 when the input or the shapes cannot be used."""
    # rdflib logs a traceback for every ill-typed literal; the report already says what is wrong with it.
    logging.getLogger("rdflib.term").setLevel(logging.CRITICAL)
    # The shapes judged by; an empty catalog is still seeded under the catalog's own (VALUEMESH_SHAPES), so that
    # `--shapes NEW` over the stored catalog is a dry run of NEW against what the catalog holds.
    in_force = configured_shapes(shapes)
    sources = Sources()
    if context and (with_store or not files):
        raise BadInput("--context stands for the catalog when checking files: give files, and not --with-store")
    if files:
        if context:
            with _context_store(context) as held:
                records = _records(files, held, sources)
                report = check_write(held, records, in_force)
        elif with_store:
            with catalog_store(store, no_seed=no_seed, reading=True) as opened:
                records = _records(files, opened, sources)
                report = check_write(opened, records, in_force)
        else:
            records = _records(files, None, sources)
            report = validate_records(records, in_force)
        products = _products_of(records)
    else:
        with catalog_store(store, no_seed=no_seed, reading=True) as opened:
            report = _validate_whole_store(opened, in_force)
            products = _stored_products(opened) if output_format in NAMING_PRODUCTS else []
    _print(report, output_format, products, in_force, sources)
    if not files and output_format is ReportFormat.human:
        failing = _failing(report, products)
        shown = ", ".join(failing[:10]) + (f" and {len(failing) - 10} more" if len(failing) > 10 else "")
        stdout.print(
            f"{len(failing)} of {len(products)} stored product(s) fail these shapes"
            + (f": {shown}" if failing else ""),
            highlight=False,
        )
    if not report.conforms or (strict and report.warnings):
        raise typer.Exit(EXIT_VIOLATIONS)
