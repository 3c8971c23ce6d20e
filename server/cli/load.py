"""`valuemesh load`: add RDF files to the catalog, validated, all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress

from server.catalog.writes import write_documents
from server.cli.app import app
from server.cli.common import NoSeedOption, StoreOption, catalog_store, stderr
from server.errors import BadInput
from server.rdf_io import FORMATS_BY_SUFFIX, RdfDocument, read_rdf_file


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files as given, and the RDF files found under any directory given."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in FORMATS_BY_SUFFIX))
        elif path.exists():
            files.append(path)
        else:
            raise BadInput("no such file or directory", source=str(path))
    return files


def read_all(files: list[Path]) -> list[RdfDocument]:
    """Parse every file first, so that one bad file stops the batch before anything is written."""
    documents: list[RdfDocument] = []
    with Progress(console=stderr, transient=True, disable=len(files) < 5) as progress:
        task = progress.add_task("reading", total=len(files))
        for path in files:
            documents.append(read_rdf_file(path))
            progress.advance(task)
    return documents


@app.command()
def load(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Turtle, N-Triples, N-Quads, TriG, JSON-LD or RDF/XML files, or directories to search for them."
        ),
    ],
    store: StoreOption = None,
    no_seed: NoSeedOption = False,
) -> None:
    """Add records from RDF files. Each record (product, domain, agent, source, goal, use case) replaces the
    stored one with the same IRI. The batch is checked and stored all or nothing."""
    documents = read_all(expand_paths(files))
    with catalog_store(store, no_seed=no_seed) as opened:
        outcome = write_documents(opened, documents)
    stderr.print(
        f"loaded {len(documents)} file(s): {len(outcome.added)} record(s) added, "
        f"{len(outcome.replaced)} replaced, {len(outcome.unchanged)} unchanged",
        highlight=False,
    )
    for warning in outcome.report.warnings:
        stderr.print(f"[yellow]warning:[/] {warning.message}", highlight=False)
