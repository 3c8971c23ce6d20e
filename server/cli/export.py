"""`valuemesh export`: every record written out again as a dataset."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from server.cli.app import app
from server.cli.common import NoSeedOption, StoreOption, catalog_store, stderr
from server.errors import BadInput


class ExportFormat(str, Enum):
    trig = "trig"
    nquads = "nquads"


MEDIA_TYPES = {ExportFormat.trig: "application/trig", ExportFormat.nquads: "application/n-quads"}


@app.command()
def export(
    output_format: Annotated[ExportFormat, typer.Option("--format", "-f", help="Dataset format.")] = ExportFormat.trig,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write; standard output when omitted.")
    ] = None,
    store: StoreOption = None,
    no_seed: NoSeedOption = False,
) -> None:
    """Write the whole catalog (one named graph per record) as TriG or N-Quads."""
    with catalog_store(store, no_seed=no_seed, reading=True) as opened:
        if output is None:
            opened.dump(sys.stdout.buffer, MEDIA_TYPES[output_format])
            sys.stdout.buffer.flush()
            return
        try:
            with output.open("wb") as handle:
                opened.dump(handle, MEDIA_TYPES[output_format])
        except OSError as error:
            raise BadInput(f"cannot write: {error.strerror or error}", source=str(output)) from None
    stderr.print(f"exported {output}", highlight=False)
