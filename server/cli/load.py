"""`valuemesh load`: add RDF files to the catalog, validated, all or nothing."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from server.catalog.bulk_in_place import files_fit, load_files_alone, put_back
from server.catalog.bulk_load import BulkProgress, read_batch, write_batch
from server.catalog.put_back import clear_pending, pending_put_back
from server.catalog.writes import WriteOutcome
from server.cli.app import app
from server.cli.common import (
    NoSeedOption,
    ProgressOption,
    ShapesOption,
    StoreOption,
    catalog_store,
    configured_shapes,
    print_warnings,
    stderr,
)
from server.cli.remote import ServerOption, TokenOption, load_remotely
from server.errors import BadInput
from server.identity.principal import local_operator
from server.rdf_io import FORMATS_BY_SUFFIX, RdfDocument, read_rdf_file
from server.settings import Settings
from server.store import open_store
from server.store.oxigraph import OxigraphStore


def expand_paths(paths: list[Path], also: Iterable[str] = ()) -> list[Path]:
    """Files as given, and the RDF files (and files with the `also` suffixes) found under any directory given."""
    wanted = {*FORMATS_BY_SUFFIX, *also}
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in wanted))
        elif path.exists():
            files.append(path)
        else:
            raise BadInput("no such file or directory", source=str(path))
    return files


def read_all(files: list[Path]) -> list[RdfDocument]:
    """Parse every file first, so that one bad file stops the batch before anything is written."""
    documents: list[RdfDocument] = []
    with Progress(console=stderr, transient=True, disable=len(files) < 5) as progress:
        task = progress.add_task("reading", total=len(files))
        for path in files:
            documents.append(read_rdf_file(path))
            progress.advance(task)
    return documents


class RateColumn(ProgressColumn):
    """How fast the phase goes: MB/s while it counts bytes, checks/s while validating, else its unit a second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if speed is None:
            return Text("", style="progress.data.speed")
        if task.description == "validating":
            return Text(f"{speed:.1f} checks/s", style="progress.data.speed")
        unit = task.fields.get("unit", "bytes")
        if unit != "bytes":
            return Text(f"{speed:,.0f} {unit}/s", style="progress.data.speed")
        return Text(f"{speed / 1e6:.1f} MB/s", style="progress.data.speed")


@contextmanager
def load_progress(shown: bool) -> Iterator[BulkProgress]:
    """A progress bar on stderr, one task per phase (reading, validating, writing), with rate and time left."""
    columns = (
        TextColumn("{task.description:<10}"),
        BarColumn(),
        TaskProgressColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=stderr, disable=not shown) as progress:
        current: list[TaskID] = []
        units: list[str] = []  # the unit the next phase counts, when not bytes

        def start(phase: str, total: float | None) -> None:
            if current:
                task = progress.tasks[-1]
                progress.update(current[-1], total=task.total or task.completed, completed=task.total or task.completed)
            current.append(progress.add_task(phase, total=total, unit=units.pop() if units else "bytes"))

        def advance(amount: float) -> None:
            if current:
                progress.advance(current[-1], amount)

        yield BulkProgress(start=start, advance=advance, counting=units.append)


@app.command()
def load(
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Turtle, N-Triples, N-Quads, TriG, JSON-LD or RDF/XML files, or directories to search for them.",
            show_default=False,
        ),
    ] = None,
    store: StoreOption = None,
    no_seed: NoSeedOption = False,
    progress: ProgressOption = None,
    server: ServerOption = None,
    token: TokenOption = None,
    shapes: ShapesOption = None,
    put_back: Annotated[
        bool,
        typer.Option(
            "--put-back",
            help="Put the store back as it was before a load that failed and could not undo itself, from the file "
            "that load's error names (what the load took out: the records it replaces and the events counter, or, "
            "loading in place, the store's own data). What the failed load may have written is dropped.",
        ),
    ] = False,
    abandon_put_back: Annotated[
        bool,
        typer.Option(
            "--abandon-put-back",
            help="Give up putting the store back after a load that did not finish, when the copy it kept is lost: "
            "the store is taken as it is (it may hold part of that load and lack what the load took out) and takes "
            "writes again. Restoring a backup of the store is the better way out, where there is one.",
        ),
    ] = False,
) -> None:
    """Add records from RDF files. Each record (product, domain, agent, source, goal, use case) replaces the
    stored one with the same IRI. The batch is checked and stored all or nothing. With --server, the files are
    read and checked here and the batch is written by a running catalog, as the API token's holder."""
    if abandon_put_back:
        abandon_unfinished_load(store, files or [], server)
        return
    if not files:
        raise BadInput("name the files (or directories of files) to load")
    if put_back:
        put_back_store(store, files, server)
        return
    paths = expand_paths(files)
    shown = stderr.is_terminal if progress is None else progress
    with load_progress(shown) as phases:
        if not server and files_fit(paths):
            # Possibly a migration into a catalog without records: loaded into the store itself (bulk_in_place.py),
            # which this process holds alone; a refused file is taken out again.
            in_force = configured_shapes(shapes)
            with catalog_store(store, no_seed=no_seed, shapes=in_force) as opened:
                outcome = load_files_alone(opened, paths, actor=local_operator(), progress=phases, shapes=in_force)
            report_outcome(len(paths), outcome)
            return
        # Every file is read and checked first, so that an unusable one stops the load before the catalog opens.
        batch = read_batch(paths, phases)
        if server:
            try:
                with tempfile.TemporaryDirectory(prefix="valuemesh-load-") as workdir:
                    nquads = Path(workdir) / "batch.nq"
                    batch.dump_nquads(str(nquads))
                    answer = load_remotely(server, token, nquads)
            finally:
                batch.close()
            stderr.print(
                f"loaded {len(paths)} file(s) at {server}: {len(answer['added'])} record(s) added, "
                f"{len(answer['replaced'])} replaced, {answer['unchanged']} unchanged",
                highlight=False,
            )
            print_warnings(answer["warnings"])
            return
        try:
            in_force = configured_shapes(shapes)
            with catalog_store(store, no_seed=no_seed, shapes=in_force) as opened:
                outcome = write_batch(opened, batch, actor=local_operator(), progress=phases, shapes=in_force)
        finally:
            batch.close()
    report_outcome(len(paths), outcome)


def abandon_unfinished_load(store: str | None, files: list[Path], server: str | None) -> None:
    """`valuemesh load --abandon-put-back`: the note of an unfinished load taken out of the store (put_back.py), which
    is left as it is."""
    if server or files:
        raise BadInput("--abandon-put-back takes no file, and a local --store")
    location = Settings.from_env(store=store).store
    if not Path(location).is_dir():
        raise BadInput(f"there is no store on disk at {location}: --abandon-put-back is for a local --store")
    opened = open_store(location)
    try:
        if not isinstance(opened, OxigraphStore) or pending_put_back(opened) is None:
            raise BadInput(f"the store at {location} holds no unfinished load: there is nothing to abandon")
        clear_pending(opened)
    finally:
        opened.close()
    stderr.print(
        f"[yellow]warning:[/] the store at {escape(str(opened.path))} takes writes again as it is; it may hold part "
        "of the load that did not finish and lack what that load took out (check it, or restore a backup)",
        highlight=False,
    )


def put_back_store(store: str | None, files: list[Path], server: str | None) -> None:
    """`valuemesh load --put-back FILE`: the store, opened as it is (not prepared: it may lack its ontology), given
    back what a failed load took out of it and kept in FILE."""
    if server or len(files) != 1 or not files[0].is_file():
        raise BadInput("--put-back takes one file, the one a failed load's error names, and a local --store")
    opened = open_store(Settings.from_env(store=store).store)
    try:
        if not isinstance(opened, OxigraphStore):
            raise BadInput("--put-back is for a store on disk (a directory): only those are loaded in place")
        put_back(opened, files[0])
    finally:
        opened.close()
    stderr.print(
        f"the store at {opened.path} is back as it was before the failed load; {files[0]} is no longer needed",
        highlight=False,
    )


def report_outcome(files: int, outcome: WriteOutcome) -> None:
    stderr.print(
        f"loaded {files} file(s): {len(outcome.added)} record(s) added, "
        f"{len(outcome.replaced)} replaced, {len(outcome.unchanged)} unchanged",
        highlight=False,
    )
    print_warnings(warning.message for warning in outcome.report.warnings)
