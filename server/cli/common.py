"""What every command shares: the store option, opening the catalog, and turning errors into exit codes."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from server.catalog.put_back import pending_put_back
from server.catalog.seeding import prepare
from server.errors import StoreNotPutBack, StoreUnavailable, ValidationRefused, ValuemeshError
from server.governance.report import human_lines
from server.governance.shapes import Shapes
from server.governance.sources import load_shapes
from server.settings import Settings, default_store_location
from server.store import Store, open_store
from server.store.oxigraph import OxigraphStore

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

ShapesOption = Annotated[
    list[str] | None,
    typer.Option(
        "--shapes",
        help="Shapes to validate with: a Turtle file or a directory of them, repeatable or comma-separated; 'builtin' "
        "stands for the packaged checklist. Default: VALUEMESH_SHAPES (comma-separated), else builtin.",
        show_default=False,
    ),
]

EXIT_VIOLATIONS = 1
EXIT_UNUSABLE = 2


def exit_code_for(error: ValuemeshError) -> int:
    return EXIT_VIOLATIONS if isinstance(error, ValidationRefused) else EXIT_UNUSABLE


def shape_entries(option: list[str] | None) -> tuple[str, ...] | None:
    """`--shapes` as given (repeated, or comma-separated as in VALUEMESH_SHAPES); None when not given."""
    entries = tuple(part.strip() for given in option or () for part in given.split(",") if part.strip())
    return entries or None


def configured_shapes(option: list[str] | None) -> Shapes:
    """The shapes in force for a command: `--shapes`, else VALUEMESH_SHAPES, else the packaged ones; bad shapes
    stop the command (ShapesRefused, exit 2) before it opens the store."""
    return load_shapes(Settings.from_env(shapes=shape_entries(option)).shapes)


@contextmanager
def catalog_store(
    store: str | None, *, no_seed: bool = False, reading: bool = False, shapes: Shapes | None = None
) -> Iterator[Store]:
    """Open the configured store, prepared (ontology current, seeded when empty, judged by `shapes`, by default
    those of VALUEMESH_SHAPES) unless it is only read while another process holds it."""
    settings = Settings.from_env(store=store, seed=False if no_seed else None)
    shapes = shapes or load_shapes(settings.shapes)
    try:
        opened = open_store(settings.store)
    except StoreUnavailable:
        if not reading or not Path(settings.store).is_dir():
            raise
        # A running `valuemesh serve` holds the store's lock; reading a snapshot is still possible.
        opened = open_store(settings.store, read_only=True)
    else:
        pending = unfinished_load(opened)
        if pending is None:
            prepare(opened, with_seed=settings.seed, shapes=shapes)
        elif reading:  # what it holds can still be read, as it is
            stderr.print(f"[yellow]warning:[/] {escape(pending)}", highlight=False)
        else:
            opened.close()
            raise StoreNotPutBack(pending)
    try:
        yield opened
    finally:
        opened.close()


def unfinished_load(store: Store) -> str | None:
    """What the operator must do first when `store` may hold part of a load that was not put back (put_back.py)."""
    if not isinstance(store, OxigraphStore):
        return None
    pending = pending_put_back(store)
    return None if pending is None else pending.for_operator(str(store.path))


def print_warnings(messages: Iterable[str]) -> None:
    """Checklist warnings on stderr, in one write (a migration gives thousands); their text (product names) is shown
    as it is, never read as markup."""
    lines = [f"[yellow]warning:[/] {escape(message)}" for message in messages]
    if lines:
        stderr.print("\n".join(lines), highlight=False)


def fail(error: ValuemeshError) -> None:
    """Print an error the way a person reads it and exit with the documented code."""
    stderr.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)
    if isinstance(error, ValidationRefused):
        # The writer gets every violation, by product, in words a product owner can act on.
        for line in human_lines(error.report):
            stderr.print(line, highlight=False)
    sys.exit(exit_code_for(error))
