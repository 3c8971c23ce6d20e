"""`valuemesh measurements import FILE`: SLI points from JSON Lines or CSV into the local catalog, checked as
`POST /api/v1/measurements` checks them, all or nothing for the whole file."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from server.cli.app import app
from server.cli.common import NoSeedOption, ProgressOption, StoreOption, catalog_store, stderr
from server.errors import BadInput, BadItems
from server.identity.principal import local_operator
from server.observations.measurements import Checked, Measurements, table_path
from server.observations.table import PointTable
from server.settings import Settings
from server.store import OxigraphStore, Store

measurements_app = typer.Typer(help="SLI measurements: the history SLO statuses and error budgets are computed from.")
app.add_typer(measurements_app, name="measurements")

COUNTS = ("good", "total")


def _csv_value(column: str, text: str) -> Any:
    if column in COUNTS:
        try:
            return int(text)
        except ValueError:
            return text  # the check names it: "good" must be a whole number
    if column == "value":
        try:
            return float(text)
        except ValueError:
            return text
    return text


def read_points(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, point) for each point of a JSON Lines (.jsonl, .ndjson) or CSV (.csv, with a header) file."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".ndjson"):
        raise BadInput("give JSON Lines (.jsonl, .ndjson) or CSV (.csv) measurements", source=str(path))
    with path.open(encoding="utf-8", newline="") as lines:
        if suffix == ".csv":
            reader = csv.DictReader(lines)
            for row in reader:
                cells = {k.strip(): v.strip() for k, v in row.items() if k and isinstance(v, str) and v.strip()}
                yield reader.line_num, {k: _csv_value(k, v) for k, v in cells.items()}
            return
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as error:
                raise BadInput(f"not JSON: {error.msg}", source=str(path), line=number, column=error.colno) from None


@measurements_app.command("import")
def import_measurements(
    file: Annotated[Path, typer.Argument(help="JSON Lines (one point per line) or CSV with a header row.")],
    store: StoreOption = None,
    no_seed: NoSeedOption = False,
    progress: ProgressOption = None,
) -> None:
    """Import SLI points (slo, time, good and total or value, optional id) into the local catalog. Every point is
    checked first; one unusable point refuses the whole file, naming each bad line. A point sent before counts
    once."""
    if not file.is_file():
        raise BadInput("no such file", source=str(file))
    settings = Settings.from_env(store=store, seed=False if no_seed else None)
    rows = list(read_points(file))
    shown = stderr.is_terminal if progress is None else progress
    columns = (
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(show_speed=True),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with catalog_store(store, no_seed=no_seed) as opened:
        # As `valuemesh load`, on the store's files: the server's public view notices the write when it next opens.
        marker = opened.marker if isinstance(opened, OxigraphStore) else None
        measurements = Measurements(PointTable(table_path(settings, opened)), settings, marker=marker)
        try:
            with Progress(*columns, console=stderr, transient=True, disable=not shown) as bar:
                checked = _checked(file, rows, measurements, opened, bar)
                task = bar.add_task("writing", total=len(rows))
                recorded = measurements.keep(checked)
                measurements.write_summaries(opened, recorded.products)
                bar.advance(task, len(rows))
        finally:
            measurements.close()
    stderr.print(
        f"imported {file}: {recorded.accepted} point(s) added, {recorded.duplicates} sent before; the SLO status of "
        f"{len(recorded.products)} product(s) updated",
        highlight=False,
    )


def _checked(
    file: Path, rows: list[tuple[int, Any]], measurements: Measurements, store: Store, bar: Progress
) -> list[Checked]:
    """Every chunk checked before any is written; all bad lines named, then BadInput."""
    operator = local_operator()
    size = measurements.settings.max_measurements
    checked: list[Checked] = []
    problems: list[str] = []
    task = bar.add_task("checking", total=len(rows))
    for start in range(0, len(rows), size):
        chunk = rows[start : start + size]
        try:
            checked.append(measurements.check(store, [point for _, point in chunk], operator))
        except BadItems as error:
            problems += [f"{file}:{chunk[index][0]}: {reason}" for index, reason in error.problems]
        bar.advance(task, len(chunk))
    if problems:
        for line in problems[:50]:
            stderr.print(line, highlight=False)
        raise BadInput(f"{len(problems)} unusable measurement(s); nothing was imported", source=str(file))
    return checked
