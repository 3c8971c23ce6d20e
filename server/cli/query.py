"""`valuemesh query`: run SPARQL over the catalog (the union of all records) and print the answer."""

from __future__ import annotations

import sys
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rdflib import Literal, URIRef
from rdflib.term import Node
from rich.console import Console
from rich.table import Table

from server import network_sandbox
from server.cli.app import app
from server.cli.common import NoSeedOption, StoreOption, catalog_store, stdout
from server.errors import BadInput, NotFound
from server.namespaces import PREFIXES
from server.query_library import library, library_query
from server.settings import Settings
from server.sparql_errors import not_a_query
from server.sparql_text import query_form, refuse_service
from server.store import Store
from server.store.base import SelectResult
from server.store.oxigraph import OxigraphStore

T = TypeVar("T")


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


def short(term: Node | None, prefixes: dict[str, str]) -> str:
    """A term as a person reads it in a table: IRIs as prefixed names where a prefix fits, literals as their text."""
    if term is None:
        return ""
    if isinstance(term, URIRef):
        text = str(term)
        for prefix, namespace in prefixes.items():
            local = text[len(namespace) :]
            if text.startswith(namespace) and local and all(c.isalnum() or c in "-_./" for c in local):
                return f"{prefix}:{local}"
        return f"<{text}>"
    return str(term)


def print_table(result: SelectResult) -> None:
    """Rows with IRIs as prefixed names (the catalog's own under `cat:`), folded rather than cut at the
    terminal's width; the prefixes used are listed under the table."""
    prefixes = {"cat": Settings.from_env().base, **PREFIXES}
    table = Table(show_lines=False)
    for variable in result.variables:
        table.add_column(variable, overflow="fold")
    for row in result.rows:
        table.add_row(*(short(term, prefixes) for term in row))
    # Piped into a file or another program, the table takes the width it needs: nothing folded, nothing cut.
    (stdout if stdout.is_terminal else Console(width=100_000)).print(table, highlight=False)
    shown = {cell.split(":", 1)[0] for row in result.rows for cell in (short(t, prefixes) for t in row)}
    legend = ", ".join(f"{p}: <{ns}>" for p, ns in prefixes.items() if p in shown)
    stdout.print(f"{len(result)} row(s)" + (f"; {legend}" if legend else ""), style="dim", highlight=False)


def run_query(opened: Store, text: str, output: OutputFormat, bindings: dict[str, Node] | None = None) -> None:
    """Print the answer; a query that could call another server is refused, and the embedded engine runs it on a
    thread that cannot reach the network (a remote store's server runs it there)."""
    refuse_service(text)
    form = query_form(text)
    if form is None:
        raise not_a_query(text)
    walled = isinstance(opened, OxigraphStore) and network_sandbox.available()

    def run(work: Callable[[], T]) -> T:
        return network_sandbox.run_walled_off(work) if walled else work()

    if form in {"CONSTRUCT", "DESCRIBE"}:
        sys.stdout.buffer.write(run(lambda: opened.query_serialized(text, "text/turtle", bindings=bindings)))
    elif form == "ASK" and output in {OutputFormat.table, OutputFormat.turtle}:
        stdout.print("true" if run(lambda: opened.ask(text, bindings)) else "false")
    elif output in RESULT_MEDIA_TYPES:
        media_type = RESULT_MEDIA_TYPES[output]
        sys.stdout.buffer.write(run(lambda: opened.query_serialized(text, media_type, bindings=bindings)))
    else:
        print_table(run(lambda: opened.select(text, bindings)))


def parse_params(pairs: list[str]) -> dict[str, str]:
    """`--param name=value` options as a dict; a name given twice is refused."""
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip().lstrip("?$")
        if not sep or not name:
            raise BadInput(f"--param {pair!r}: write it as name=value")
        if name in values:
            raise BadInput(f"--param {name} is given twice")
        values[name] = value
    return values


def print_library() -> None:
    """The query library: name, title, parameters, example."""
    for entry in library().values():
        stdout.print(f"[bold]{entry.name}[/]  {entry.title}", highlight=False)
        stdout.print(f"  {entry.answers}", highlight=False)
        for parameter in entry.parameters:
            stdout.print(f"  --param {parameter.name}=<{parameter.type}>  {parameter.description}", highlight=False)
        stdout.print(f"  e.g. {entry.example}\n", style="dim", highlight=False)


@app.command()
def query(
    sparql: Annotated[
        str | None, typer.Argument(help="A SPARQL query, or the path of a .rq file holding one.", show_default=False)
    ] = None,
    name: Annotated[
        str | None,
        typer.Option("--name", "-n", help="Run a query of the library by name (see --list).", show_default=False),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            help="A parameter of the query as name=value, e.g. product=https://valuemesh.example/data-product/hcp-360; "
            "bound by the engine, never pasted into the text. Repeat for several.",
            show_default=False,
        ),
    ] = None,
    list_library: Annotated[
        bool, typer.Option("--list", help="List the query library: names, what each answers, parameters.")
    ] = False,
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
    """Answer a SPARQL query over the whole catalog (the default graph is the union of all records).

    Give the query itself, a .rq file, or --name NAME of the library (queries/ in the repository) with --param."""
    if list_library:
        print_library()
        return
    if (sparql is None) == (name is None):
        raise BadInput("give either a query (text or .rq file) or --name NAME from the library (see --list)")
    values = parse_params(param or [])
    bindings: dict[str, Node] | None = None
    if name is not None:
        entry = library_query(name)
        text, bindings = entry.text, entry.bindings(values)
    else:
        text = query_text(sparql)  # type: ignore[arg-type]
        bindings = {key: _plain_binding(key, value) for key, value in values.items()} or None
    with catalog_store(store, no_seed=no_seed, reading=True) as opened:
        if name is not None:
            _refuse_unknown_iris(opened, bindings or {})
        run_query(opened, text, output, bindings)


def _refuse_unknown_iris(opened: Store, bindings: dict[str, Node]) -> None:
    """A library question about an IRI the catalog never mentions is a mistyped IRI, not an empty answer."""
    for name, value in bindings.items():
        if isinstance(value, URIRef) and not opened.ask("ASK { { ?x ?p ?o } UNION { ?s ?p ?x } }", {"x": value}):
            raise NotFound(f"--param {name}: the catalog knows nothing of <{value}>; check the IRI")


def _plain_binding(name: str, value: str) -> Node:
    """A --param for a query of your own: an IRI when it looks like one, a plain string otherwise."""
    return URIRef(value) if value.startswith(("http://", "https://", "urn:")) else Literal(value)
