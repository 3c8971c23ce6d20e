"""`valuemesh validate`: the Data Product MVP checklist over files, files against the catalog, or the whole catalog."""

from __future__ import annotations

import json
import logging
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from server.catalog.records import Records, merge_records, records_of
from server.cli.app import app
from server.cli.common import EXIT_VIOLATIONS, NoSeedOption, StoreOption, catalog_store, stderr, stdout
from server.cli.load import expand_paths, read_all
from server.formats.conversion import records_from_yaml
from server.governance.report import human_lines, report_graph
from server.governance.shapes import catalog_shapes
from server.settings import Settings
from server.store import Store
from server.validation import ValidationReport, check_write, validate_records, validate_store

YAML_SUFFIXES = (".yaml", ".yml")
# Above this many quads a whole-store validation shows a progress bar (one step per compiled query).
PROGRESS_FROM_QUADS = 200_000


class ReportFormat(str, Enum):
    human = "human"
    turtle = "turtle"
    json = "json"


def _validate_whole_store(opened: Store) -> ValidationReport:
    queries = catalog_shapes().queries
    columns = (TextColumn("validating the catalog"), BarColumn(), TextColumn("{task.completed}/{task.total}"))
    quiet = opened.quad_count() < PROGRESS_FROM_QUADS
    with Progress(*columns, TimeElapsedColumn(), console=stderr, transient=True, disable=quiet) as progress:
        task = progress.add_task("validating", total=len(queries))
        return validate_store(opened, advance=lambda: progress.advance(task))


def _print(report: ValidationReport, output_format: ReportFormat) -> None:
    if output_format is ReportFormat.turtle:
        sys.stdout.write(report_graph(report).serialize(format="turtle"))
    elif output_format is ReportFormat.json:
        sys.stdout.write(json.dumps(report.to_json(), indent=2) + "\n")
    else:
        for line in human_lines(report):
            stdout.print(line, highlight=False)


def _records(files: list[Path], opened: Store | None) -> Records:
    """The records of RDF files and of descriptors (ODPS, DPDS, valuemesh YAML), as `load` and `register` read
    them; with the catalog at hand, descriptors find the domains and agents it holds."""
    paths = expand_paths(files, YAML_SUFFIXES)
    descriptors = [path for path in paths if path.suffix.lower() in YAML_SUFFIXES]
    rdf = [path for path in paths if path not in descriptors]
    base = Settings.from_env().base
    converted = [
        records_from_yaml(path.read_text(encoding="utf-8"), str(path), base=base, store=opened) for path in descriptors
    ]
    return merge_records([*(records_of(d) for d in read_all(rdf)), *converted])


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
    output_format: Annotated[
        ReportFormat,
        typer.Option("--format", "-f", help="human (grouped by product), turtle (sh:ValidationReport) or json."),
    ] = ReportFormat.human,
    strict: Annotated[bool, typer.Option("--strict", help="Fail (exit 1) on warnings too.")] = False,
    store: StoreOption = None,
    no_seed: NoSeedOption = False,
) -> None:
    """Check the Data Product MVP checklist (shapes/mvp-checklist.ttl) and recommended practice
    (shapes/recommended.ttl). Exit 0 when it conforms, 1 on violations (or warnings with --strict), 2 when the
    input cannot be used."""
    # rdflib logs a traceback for every ill-typed literal; the report already says what is wrong with it.
    logging.getLogger("rdflib.term").setLevel(logging.CRITICAL)
    if files:
        if with_store:
            with catalog_store(store, no_seed=no_seed, reading=True) as opened:
                report = check_write(opened, _records(files, opened))
        else:
            report = validate_records(_records(files, None))
    else:
        with catalog_store(store, no_seed=no_seed, reading=True) as opened:
            report = _validate_whole_store(opened)
    _print(report, output_format)
    if not report.conforms or (strict and report.warnings):
        raise typer.Exit(EXIT_VIOLATIONS)
