"""`valuemesh register`: data product descriptors (ODPS, DPDS, valuemesh YAML) into the catalog, from CI.

Every file is converted and checked first; the batch is then validated against the MVP checklist and stored all
or nothing. Exit codes: 0 stored (or, with --dry-run, would be stored), 1 checklist violations, 2 unusable input.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rdflib import Dataset, URIRef

from server.catalog.records import Records
from server.catalog.writes import WriteOutcome, write_records
from server.cli.app import app
from server.cli.common import (
    EXIT_VIOLATIONS,
    NoSeedOption,
    ShapesOption,
    StoreOption,
    catalog_store,
    configured_shapes,
    print_warnings,
    stderr,
    stdout,
)
from server.cli.remote import ServerOption, TokenOption, register_remotely
from server.errors import BadInput, ValidationRefused
from server.formats.conversion import Batch, convert_files
from server.formats.odcs import parse_contract_argument
from server.identity.principal import local_operator
from server.settings import Settings
from server.validation import ValidationReport


def _record_of(records: Records, node: str) -> str:
    """The record a reported node lives in (a port's or SLO's product), for grouping the report."""
    subject = URIRef(node)
    for iri, graph in records.items():
        if iri == node or (subject, None, None) in graph:
            return iri
    return node


def print_report(report: ValidationReport, batch: Batch, records: Records) -> None:
    """The checklist violations, grouped by the product (and file) they concern."""
    sources = {iri: c.source for c in batch.conversions for iri in c.records}
    grouped: dict[str, list[str]] = {}
    for result in report.violations:
        where = f" ({result.path})" if result.path else ""
        grouped.setdefault(_record_of(records, result.focus_node), []).append(f"{result.message}{where}")
    for record, messages in sorted(grouped.items()):
        source = sources.get(record)
        stderr.print(f"[bold]{record}[/]" + (f" (from {source})" if source else ""), highlight=False)
        for message in messages:
            stderr.print(f"  - {message}", highlight=False)


def _print_changes(outcome: WriteOutcome, dry_run: bool) -> None:
    verb = "would be" if dry_run else "were"
    for label, iris in (("added", outcome.added), ("replaced", outcome.replaced), ("unchanged", outcome.unchanged)):
        for iri in iris:
            stdout.print(f"{label:9} {iri}", highlight=False)
    stderr.print(
        f"{len(outcome.added)} record(s) {verb} added, {len(outcome.replaced)} replaced, "
        f"{len(outcome.unchanged)} unchanged" + (" (dry run: nothing was written)" if dry_run else ""),
        highlight=False,
    )


def _show(records: Records) -> None:
    dataset = Dataset()
    for iri, graph in records.items():
        named = dataset.graph(URIRef(iri))
        for triple in graph:
            named.add(triple)
    sys.stdout.write(dataset.serialize(format="trig"))
    sys.stdout.flush()


@app.command()
def register(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Descriptor files (ODPS, DPDS, valuemesh YAML; .yaml/.yml/.json) or directories."),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Convert and check; show what would change, write nothing.")
    ] = False,
    contract: Annotated[
        list[str] | None,
        typer.Option(
            "--contract",
            help="An ODCS contract file for ODPS ports, matched by its id; or PORT=FILE to bind it to the output "
            "port of that name. Contracts next to a product are found without this.",
        ),
    ] = None,
    standard_schemas: Annotated[
        Path | None,
        typer.Option(
            "--standard-schemas",
            envvar="VALUEMESH_STANDARD_SCHEMAS",
            help="A directory holding the official ODPS/ODCS/DPDS JSON Schemas; documents are then also checked "
            "against them in full.",
        ),
    ] = None,
    show: Annotated[
        bool, typer.Option("--show", help="Print the converted records as TriG on standard output.")
    ] = False,
    shapes: ShapesOption = None,
    store: StoreOption = None,
    no_seed: NoSeedOption = False,
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """Register data products from the descriptors teams keep in git. Each product (with the domain and agents
    it names, when the catalog lacks them) replaces the stored record of the same IRI; all or nothing. With
    --server, through a running catalog's API as the API token's holder, one product at a time."""
    if server:
        if dry_run or contract or show or standard_schemas:
            raise BadInput("--dry-run, --contract, --show and --standard-schemas work on a local store, not --server")
        register_remotely(server, token, paths)
        return
    contracts = [parse_contract_argument(argument) for argument in contract or []]
    # A dry run writes nothing, so it may read a snapshot while `valuemesh serve` holds the store.
    in_force = configured_shapes(shapes)
    with catalog_store(store, no_seed=no_seed, reading=dry_run, shapes=in_force) as opened:
        base = Settings.from_env().base
        batch = convert_files(
            paths, base=base, store=opened, contract_arguments=contracts, official_dir=standard_schemas
        )
        for conversion in batch.conversions:
            for note in conversion.notes:
                stderr.print(f"[cyan]note:[/] {note}", highlight=False)
        if batch.skipped:
            stderr.print(f"skipped {len(batch.skipped)} file(s) that are no product descriptor", highlight=False)
        records = batch.records()
        if show:
            _show(records)
        try:
            outcome = write_records(opened, records, actor=local_operator(), dry_run=dry_run, shapes=in_force)
        except ValidationRefused as refused:
            stderr.print(
                f"[bold red]refused:[/] {len(refused.report.violations)} checklist violation(s); nothing was stored",
                highlight=False,
            )
            print_report(refused.report, batch, records)
            raise typer.Exit(EXIT_VIOLATIONS) from None
    stderr.print(f"converted {len(batch.conversions)} product descriptor(s)", highlight=False)
    _print_changes(outcome, dry_run)
    print_warnings(warning.message for warning in outcome.report.warnings)
