"""`valuemesh history` and `valuemesh restore`: the versions a record went through, what changed, and going back.

valuemesh history IRI                  the versions, newest first: number, time, author, action
valuemesh history IRI --diff 3         the triples version 3 added (+) and removed (-) against version 2
valuemesh history IRI --diff 1..3      ... against version 1
valuemesh history prune --before DATE  drop versions older than DATE (each stored record keeps its newest)
valuemesh restore IRI --version 2      write the record as version 2 left it: validated like any write
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

import pyoxigraph as ox
import typer
from rich.markup import escape

from server.catalog import history as record_history
from server.catalog.events import iso
from server.catalog.restore import restore_version
from server.cli.app import app
from server.cli.common import (
    NoSeedOption,
    StoreOption,
    catalog_store,
    configured_shapes,
    print_warnings,
    stderr,
    stdout,
)
from server.errors import BadInput
from server.identity.principal import local_operator

PRUNE = "prune"


def _iri(value: str) -> str:
    try:
        ox.NamedNode(value)
    except ValueError:
        raise BadInput(
            f"{value!r} is not an absolute IRI (a record's IRI, e.g. https://valuemesh.example/...)"
        ) from None
    return value


def parse_versions(text: str) -> tuple[int | None, int]:
    """`N` (against the version before) or `N..M` (M against N)."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:\.\.\s*(\d+)\s*)?", text)
    if not match:
        raise BadInput(f"--diff takes a version number N or a range N..M, not {text!r}")
    first, second = match.groups()
    return (None, int(first)) if second is None else (int(first), int(second))


def parse_moment(text: str) -> datetime:
    """An ISO 8601 date or time; without a zone, UTC."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(f"--before takes an ISO 8601 date or time such as 2026-01-31, not {text!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@app.command("history")
def history_command(
    iri: Annotated[str, typer.Argument(help="The record's IRI; or `prune` to drop old versions (with --before).")],
    diff: Annotated[
        str | None,
        typer.Option("--diff", help="N: the triples version N added and removed against N-1; N..M: M against N."),
    ] = None,
    before: Annotated[
        str | None,
        typer.Option("--before", help="With `prune`: drop versions written before this date (ISO 8601)."),
    ] = None,
    store: StoreOption = None,
    no_seed: NoSeedOption = False,
) -> None:
    """Show a record's versions (who wrote each, when, how), the triples one version changed, or prune old versions."""
    if iri == PRUNE:
        if before is None or diff is not None:
            raise BadInput("`valuemesh history prune` takes --before DATE (and no --diff)")
        moment = parse_moment(before)
        with catalog_store(store, no_seed=no_seed) as opened:
            dropped = record_history.prune(opened, moment)
        stderr.print(f"pruned {dropped} version(s) written before {iso(moment)}", highlight=False)
        return
    if before is not None:
        raise BadInput("--before is for `valuemesh history prune --before DATE`")
    record = _iri(iri)
    with catalog_store(store, no_seed=no_seed, reading=True) as opened:
        if diff is not None:
            older, newer = parse_versions(diff)
            change = record_history.diff(opened, record, newer, older)
            stderr.print(f"{record}: version {change.newer} against version {change.older}", highlight=False)
            for line in change.removed:
                stdout.print(f"- {line}", highlight=False, markup=False)
            for line in change.added:
                stdout.print(f"+ {line}", highlight=False, markup=False)
            return
        versions = record_history.history(opened, record)
    if not versions:
        stderr.print(f"no history is kept of {escape(record)}", highlight=False)
        return
    rows: list[tuple[str, ...]] = [("VERSION", "AT", "ACTION", "BY")]
    for version in versions:
        by = version.by_name or version.by or ""
        if version.by and version.by_name and version.by_name != version.by:
            by = f"{version.by_name} <{version.by}>"
        at = iso(version.at) if version.at else ""
        rows.append((str(version.version), at, version.action.value if version.action else "", by))
    print_columns(rows)


def print_columns(rows: list[tuple[str, ...]]) -> None:
    """Plain aligned columns, never cut (IRIs are long, and scripts read this too)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        stdout.print(line, highlight=False, markup=False)


@app.command()
def restore(
    iri: Annotated[str, typer.Argument(help="The record's IRI.")],
    version: Annotated[int, typer.Option("--version", help="The version to bring back (see `valuemesh history`).")],
    store: StoreOption = None,
    no_seed: NoSeedOption = False,
) -> None:
    """Write a record as one of its versions left it (a removed product comes back too). It is a new write, checked
    against the MVP checklist like any other: refused, nothing changes (exit 1)."""
    record = _iri(iri)
    shapes = configured_shapes(None)
    with catalog_store(store, no_seed=no_seed, shapes=shapes) as opened:
        outcome = restore_version(opened, record, version, actor=local_operator(), shapes=shapes)
        if not outcome.written:
            stderr.print(f"{record} is already as version {version} left it; nothing was written", highlight=False)
            return
        newest = record_history.history(opened, record)[0].version
    stdout.print(f"restored {record} to version {version} (now version {newest})", highlight=False)
    print_warnings(warning.message for warning in outcome.report.warnings)
