"""What every command shares: the store option, opening the catalog, and turning errors into exit codes."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from server.catalog.seeding import prepare
from server.errors import StoreUnavailable, ValidationRefused, ValuemeshError
from server.governance.report import human_lines
from server.settings import Settings, default_store_location
from server.store import Store, open_store

stderr = Console(stderr=True, soft_wrap=True)
stdout = Console(soft_wrap=True)

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        envvar="VALUEMESH_STORE",
        help=f"Where the catalog lives: a directory (embedded Oxigraph, default {default_store_location()}), "
        "'memory:' or 'sparql+http://host/query' for a remote SPARQL server.",
        show_default=False,
    ),
]
NoSeedOption = Annotated[
    bool,
    typer.Option("--no-seed", help="Do not load the article's example landscape into an empty catalog."),
]
ProgressOption = Annotated[
    bool | None,
    typer.Option(
        "--progress/--no-progress",
        help="Show a progress bar with rate and time left on stderr (default: when stderr is a terminal).",
        show_default=False,
    ),
]

EXIT_VIOLATIONS = 1
EXIT_UNUSABLE = 2


def exit_code_for(error: ValuemeshError) -> int:
    return EXIT_VIOLATIONS if isinstance(error, ValidationRefused) else EXIT_UNUSABLE


@contextmanager
def catalog_store(store: str | None, *, no_seed: bool = False, reading: bool = False) -> Iterator[Store]:
    """Open the configured store, prepared (ontology current, seeded when empty) unless it is only read
    while another process holds it."""
    settings = Settings.from_env(store=store, seed=False if no_seed else None)
    try:
        opened = open_store(settings.store)
    except StoreUnavailable:
        if not reading or not Path(settings.store).is_dir():
            raise
        # A running `valuemesh serve` holds the store's lock; reading a snapshot is still possible.
        opened = open_store(settings.store, read_only=True)
    else:
        prepare(opened, with_seed=settings.seed)
    try:
        yield opened
    finally:
        opened.close()


def fail(error: ValuemeshError) -> None:
    """Print an error the way a person reads it and exit with the documented code."""
    stderr.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)
    if isinstance(error, ValidationRefused):
        # The writer gets every violation, by product, in words a product owner can act on.
        for line in human_lines(error.report):
            stderr.print(line, highlight=False)
    sys.exit(exit_code_for(error))
