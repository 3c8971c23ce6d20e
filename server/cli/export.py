"""`valuemesh export`: the catalog written out again, as a dataset, as descriptors or as one graph."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from server.cli.app import app
from server.cli.common import NoSeedOption, StoreOption, catalog_store, stderr
from server.errors import BadInput
from server.formats import export as formats_export


class ExportFormat(str, Enum):
    trig = "trig"
    nquads = "nquads"
    odps = "odps"
    dpds = "dpds"
    turtle = "turtle"
    jsonld = "jsonld"


MEDIA_TYPES = {ExportFormat.trig: "application/trig", ExportFormat.nquads: "application/n-quads"}
# Formats written from records (server/formats/export.py) rather than dumped as a dataset by the store.
WRITERS = {
    ExportFormat.odps: formats_export.odps_yaml,
    ExportFormat.dpds: formats_export.dpds_json,
    ExportFormat.turtle: formats_export.turtle,
    ExportFormat.jsonld: formats_export.jsonld,
}


@app.command()
def export(
    output_format: Annotated[
        ExportFormat,
        typer.Option(
            "--format",
            "-f",
            help="trig or nquads: the whole dataset, one named graph per record; odps (YAML) or dpds (JSON): "
            "data product descriptors; turtle or jsonld (local context): the records as one graph.",
        ),
    ] = ExportFormat.trig,
    product: Annotated[
        str | None,
        typer.Option("--product", help="Only this data product (its IRI); for odps, dpds, turtle and jsonld."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write; standard output when omitted.")
    ] = None,
    store: StoreOption = None,
    no_seed: NoSeedOption = False,
) -> None:
    """Write the catalog out: the whole dataset (TriG, N-Quads), the products as ODPS or DPDS descriptors, or the
    records as Turtle or JSON-LD."""
    writer = WRITERS.get(output_format)
    if writer is None and product is not None:
        raise BadInput(f"--product works with odps, dpds, turtle and jsonld, not {output_format.value}")
    with catalog_store(store, no_seed=no_seed, reading=True) as opened:
        text = writer(opened, product) if writer is not None else None
        if output is None:
            if text is not None:
                sys.stdout.write(text)
                sys.stdout.flush()
            else:
                opened.dump(sys.stdout.buffer, MEDIA_TYPES[output_format])
                sys.stdout.buffer.flush()
            return
        try:
            if text is not None:
                output.write_text(text, encoding="utf-8")
            else:
                with output.open("wb") as handle:
                    opened.dump(handle, MEDIA_TYPES[output_format])
        except OSError as error:
            raise BadInput(f"cannot write: {error.strerror or error}", source=str(output)) from None
    stderr.print(f"exported {output}", highlight=False)
