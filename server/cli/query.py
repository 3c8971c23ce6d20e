"""`valuemesh query`: run SPARQL over the catalog (the union of all records) and print the answer."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from server.cli.app import app
from server.cli.common import NoSeedOption, StoreOption, catalog_store, stdout
from server.errors import BadInput
from server.sparql_text import query_form
from server.store import Store


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    tsv = "tsv"
    turtle = "turtle"


RESULT_MEDIA_TYPES = {
    OutputFormat.json: "application/sparql-results+json",
    OutputFormat.csv: "text/csv",
    OutputFormat.tsv: "text/tab-separated-values",
}


def query_text(argument: str) -> str:
    """The argument itself, or the contents of the .rq file it names."""
    path = Path(argument)
    if argument.endswith((".rq", ".sparql")):
        try:
            return path.read_text(encoding="utf-8")
        except OSError as error:
            raise BadInput(f"cannot read query file: {error.strerror or error}", source=argument) from None
    return argument


def print_table(opened: Store, text: str) -> None:
    result = opened.select(text)
    table = Table(*result.variables, show_lines=False)
    for row in result.rows:
        table.add_row(*("" if term is None else str(term) for term in row))
    stdout.print(table)
    stdout.print(f"{len(result)} row(s)", style="dim")


def run_query(opened: Store, text: str, output: OutputFormat) -> None:
    form = query_form(text)
    if form is None:
        raise BadInput(
            "not a SPARQL query (SELECT, ASK, CONSTRUCT or DESCRIBE); the catalog is changed only "
            "through `valuemesh load`, which validates"
        )
    if form in {"CONSTRUCT", "DESCRIBE"}:
        sys.stdout.buffer.write(opened.query_serialized(text, "text/turtle"))
    elif form == "ASK" and output in {OutputFormat.table, OutputFormat.turtle}:
        stdout.print("true" if opened.ask(text) else "false")
    elif output in RESULT_MEDIA_TYPES:
        sys.stdout.buffer.write(opened.query_serialized(text, RESULT_MEDIA_TYPES[output]))
    else:
        print_table(opened, text)


@app.command()
def query(
    sparql: Annotated[str, typer.Argument(help="A SPARQL query, or the path of a .rq file holding one.")],
    output: Annotated[
        OutputFormat,
        typer.Option(
            "--format",
            "-f",
            help="How to print SELECT/ASK results; CONSTRUCT and DESCRIBE always print Turtle.",
        ),
    ] = OutputFormat.table,
    store: StoreOption = None,
    no_seed: NoSeedOption = False,
) -> None:
    """Answer a SPARQL query over the whole catalog (the default graph is the union of all records)."""
    text = query_text(sparql)
    with catalog_store(store, no_seed=no_seed, reading=True) as opened:
        run_query(opened, text, output)
