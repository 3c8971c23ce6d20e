"""`valuemesh lineage drift`: where observed lineage (OpenLineage runs) and declared lineage (input ports) disagree,
across the catalog or for one product: the query library's `lineage-drift` question over the products' observed-
lineage summaries, which `POST /api/v1/lineage` keeps current."""

from __future__ import annotations

import json
from enum import Enum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from server.catalog.nodes import with_values
from server.cli.app import app
from server.cli.common import NoSeedOption, StoreOption, catalog_store, stdout
from server.errors import NotFound
from server.openlineage.observed import IS_PRODUCT
from server.query_library import library_query

lineage_app = typer.Typer(help="Lineage observed from OpenLineage run events.", no_args_is_help=True)
app.add_typer(lineage_app, name="lineage")


class DriftFormat(str, Enum):
    table = "table"
    json = "json"


def _grouped(rows: list[dict[str, str | None]]) -> list[dict[str, Any]]:
    """One entry per product, shaped as GraphQL's lineageDrift answers."""
    products: dict[str, dict[str, Any]] = {}
    for row in rows:
        product = str(row["product"])
        entry = products.setdefault(
            product,
            {"dataProduct": product, "name": row["productLabel"], "undeclaredReads": [], "unobservedInputs": []},
        )
        if row["drift"] == "undeclared read":
            entry["undeclaredReads"].append({"dataset": row["dataset"], "lastRead": row["lastRead"]})
        else:
            entry["unobservedInputs"].append({"id": row["port"], "name": row["portLabel"]})
    return list(products.values())


@lineage_app.command()
def drift(
    product: Annotated[
        str | None, typer.Option("--product", help="One data product's IRI (default: every product).")
    ] = None,
    days: Annotated[int, typer.Option("--days", min=1, help="The window, in days back from now.")] = 30,
    output: Annotated[DriftFormat, typer.Option("--format", "-f", help="A table for people, JSON for tools.")] = (
        DriftFormat.table
    ),
    store: StoreOption = None,
    no_seed: NoSeedOption = False,
) -> None:
    """Datasets the products' runs read that no input port declares, and input ports no run read."""
    entry = library_query("lineage-drift")
    values = {"days": str(days), **({"product": product} if product else {})}
    with catalog_store(store, no_seed=no_seed, reading=True) as opened:
        if product and not opened.ask(with_values(IS_PRODUCT, [product])):
            raise NotFound(f"--product: the catalog holds no data product <{product}>; check the IRI")
        result = opened.select(entry.text, entry.bindings(values))
    rows = [{k: None if v is None else str(v) for k, v in row.items()} for row in result]
    if output is DriftFormat.json:
        print(json.dumps(_grouped(rows), indent=2, ensure_ascii=False))
        return
    table = Table()
    for column in ("product", "drift", "dataset or input port", "last read"):
        table.add_column(column, overflow="fold")
    for row in rows:
        what = row["dataset"] if row["drift"] == "undeclared read" else f"{row['portLabel'] or ''} <{row['port']}>"
        table.add_row(row["productLabel"] or row["product"], row["drift"], what, row["lastRead"] or "")
    # Piped into a file or another program, the table takes the width it needs (as `valuemesh query`'s).
    (stdout if stdout.is_terminal else Console(width=100_000)).print(table, highlight=False)
    products = len({row["product"] for row in rows})
    stdout.print(f"{len(rows)} drift(s) in {products} product(s) over the last {days} day(s)", style="dim")
