"""The migration case of `valuemesh load`: a large batch loaded straight into a catalog that holds no records yet.

When the catalog holds no records (only the ontology and its own service data: a fresh `--no-seed` store), the batch
is the whole catalog and there is nothing stored to judge it against, so the scratch store of bulk_load.py buys
nothing and costs a second full write (the batch is written to the scratch store, dumped, and written again). Here
the store itself plays the scratch store: its own graphs, few and small, are copied to a file and to a store in
memory and dropped; the file is bulk-loaded into the emptied store; the checks and the compiled shapes of
bulk_load.py run there as they run on a scratch store on disk (same refusals in the same words); then the store's
own graphs come back, with a version of each record for its history and the events counter moved on.
A refusal or a failure drops everything the load added and loads the store's own graphs again: the catalog is as
it was.

It applies only where the scratch store would be on disk anyway (a batch over `IN_MEMORY_LIMIT_BYTES`: below it the
checks run faster in memory than on disk), to one file in a dataset format (several files, or triples to split
into records, take the scratch path, as does a file the checks here do not cover: it is put back and read again
there), and only for a caller that holds the store alone while it runs: meanwhile the store shows the unchecked
batch, so a serving catalog never takes this path; the CLI does (its process holds the store's lock).
"""

from __future__ import annotations

import io
from pathlib import Path

import pyoxigraph as ox

from server.catalog import bulk_load
from server.catalog.bulk_load import (
    NQUADS,
    TRIPLE_FORMATS,
    BulkProgress,
    CountingReader,
    ScratchStore,
    batch_size,
    check_batch_ownership,
    check_document,
    clear_default_graph,
    counting,
    derive_name_keys,
    drop_graphs,
    dump_everything,
    graph_names,
    has_default_graph_triples,
    load_raw,
    may_hold_blank_nodes,
    read_batch,
    record_kinds,
    validate_batch,
    write_batch,
)
from server.catalog.events import counter_graph, numbering
from server.catalog.history import Action, Change, refuse_service_names, version_quads
from server.catalog.put_back import (
    PENDING_GRAPH,
    NotPutBack,
    clear_pending,
    drop_stored_graphs,
    failure_reasons,
    graphs_to_drop,
    holds_more_than_the_note,
    kept_if_not_put_back,
    mark_pending,
    put_back_replaced,
)
from server.catalog.seeding import ONTOLOGY_GRAPH
from server.catalog.writes import WriteOutcome, write_lock
from server.errors import BadInput, StoreUnavailable, ValidationRefused
from server.governance.shapes import Shapes
from server.identity.principal import Principal, Role
from server.rdf_io import format_for
from server.store.base import Store
from server.store.oxigraph import OxigraphStore, write_failure_reason
from server.validation import shapes_in_force

__all__ = ["NotPutBack", "files_fit", "in_place_applies", "load_files_alone", "load_in_place", "put_back"]


class _ScratchPathNeeded(Exception):
    """The batch holds something only the scratch path judges (it gives the refusal in its own words)."""


def files_fit(files: list[Path]) -> bool:
    """Whether `files` are what `load_in_place` takes: one file in a dataset format, too large to check in memory."""
    if len(files) != 1 or format_for(files[0]) in TRIPLE_FORMATS:
        return False
    return batch_size(files) > bulk_load.IN_MEMORY_LIMIT_BYTES


def in_place_applies(store: Store, files: list[Path], actor: Principal) -> bool:
    """Whether `load_in_place` may take `files` into `store` (see the module docstring)."""
    if not isinstance(store, OxigraphStore) or not actor.has(Role.ADMIN) or not files_fit(files):
        return False
    return set(store.record_iris()) <= {ONTOLOGY_GRAPH}


def load_in_place(
    store: OxigraphStore, path: Path, *, actor: Principal, progress: BulkProgress, shapes: Shapes
) -> WriteOutcome | None:
    """The records of `path` in `store`, validated, all or nothing; None when the batch needs the scratch path
    (nothing of it is left in the store then)."""
    with kept_if_not_put_back() as workdir, write_lock:
        return _load_in_place(store, path, workdir / "catalog-before.nq", actor, progress, shapes)


def _load_in_place(
    store: OxigraphStore, path: Path, backup: Path, actor: Principal, progress: BulkProgress, shapes: Shapes
) -> WriteOutcome | None:
    dump_everything(store, str(backup))
    mark_pending(store, backup)  # after the copy: the store as it was holds no such note
    was = ScratchStore(on_disk=False)  # the catalog as it was, where the checks read what it held
    try:
        with backup.open("rb") as raw:
            was.load_nquads(raw)
        try:
            return _judge_and_store(store, was, path, backup, actor=actor, progress=progress, shapes=shapes)
        except _ScratchPathNeeded:
            _put_back(store, backup)
            return None
        except (OSError, RuntimeError) as error:  # the store failed to write: a full disk, a size limit
            _put_back(store, backup)
            reason = write_failure_reason(error) if isinstance(error, OSError) else str(error)
            raise StoreUnavailable(f"the store could not write the batch ({reason}); nothing was stored") from None
        except BaseException:
            _put_back(store, backup)
            raise
    finally:
        was.close()


def _judge_and_store(
    store: OxigraphStore,
    was: ScratchStore,
    path: Path,
    backup: Path,
    *,
    actor: Principal,
    progress: BulkProgress,
    shapes: Shapes,
) -> WriteOutcome:
    drop_graphs(store, own_graphs(store))  # the store's own graphs, copied to `backup` and `was`
    clear_default_graph(store)
    progress.start("reading", path.stat().st_size)
    fmt = format_for(path)
    try:
        with path.open("rb") as raw:
            reader = CountingReader(raw, progress.advance)
            load_raw(store, counting(reader), fmt)
    except (SyntaxError, ValueError):
        raise _ScratchPathNeeded from None  # the scratch path names the line and column
    if has_default_graph_triples(store):
        raise _ScratchPathNeeded  # triples to split into records by their main nodes
    check_document(store, str(path), blank_nodes=may_hold_blank_nodes(fmt, reader))
    derive_name_keys(store)
    refuse_service_names(
        dict.fromkeys(own_graphs(store) + ([PENDING_GRAPH] if holds_more_than_the_note(store) else []))
    )
    batch, stored = set(store.record_iris()), set(was.record_iris())
    if batch & stored:
        raise _ScratchPathNeeded  # a stored graph (the ontology) in the batch: replaced as the scratch path does
    rest = sorted(stored)
    progress.start("validating", len(shapes.queries) + 2)  # ownership, what is new, then each compiled query
    check_batch_ownership(store, was, rest)
    progress.advance(1)
    outcome = WriteOutcome(added=sorted(batch))
    progress.advance(1)
    outcome.report = validate_batch(store, was, outcome, rest, shapes, progress)
    if not outcome.report.conforms:
        raise ValidationRefused(outcome.report)
    _store_with_history(store, was, outcome, backup, actor, progress)
    return outcome


def _store_with_history(
    store: OxigraphStore,
    was: ScratchStore,
    outcome: WriteOutcome,
    backup: Path,
    actor: Principal,
    progress: BulkProgress,
) -> None:
    """The store's own graphs back, a version of each record for its history, the events counter moved on."""
    kinds = record_kinds(store)
    changes = [Change(iri, None, Action.REGISTER, kind=kinds.get(iri, "record")) for iri in outcome.added]
    with numbering(was, held=True) as first:
        history = version_quads(was, changes, actor, first).text
        counter = counter_graph(first + len(changes) - 1)
    progress.start("writing", backup.stat().st_size + len(history))
    with backup.open("rb") as raw:
        load_raw(store, CountingReader(raw, progress.advance), ox.RdfFormat.N_QUADS)
    store.bulk_load(CountingReader(io.BytesIO(history), progress.advance), NQUADS)  # type: ignore[arg-type]
    store.replace_records(counter)  # the counter as it was replaced by the moved one, once its events are in
    clear_pending(store)


# What a store lacks when its own graphs were taken out and not put back.
OWN_DATA_LACKING = "its own data (the ontology, API tokens, the change log)"


def put_back(store: OxigraphStore, kept: Path) -> None:
    """The store as it was before a failed load, from the copy that the load kept (`NotPutBack` names it). A copy of
    the records a batch replaced (the scratch path, put_back.py) lists what to drop with it; a copy of the store's own
    graphs (in place) replaces everything the store holds. Anything but such a copy is refused before the store is
    touched: the list, or the store's marker, is in no export and no catalog file."""
    drops = graphs_to_drop(kept)
    if drops is not None:
        with write_lock:
            put_back_replaced(store, kept, drops)
        return
    copy = ScratchStore(on_disk=False)
    try:
        try:
            with kept.open("rb") as raw:
                copy.load_nquads(raw)
        except (SyntaxError, ValueError):
            raise BadInput("not an N-Quads file that a failed load kept", source=str(kept)) from None
        if copy.marker() is None or ONTOLOGY_GRAPH not in graph_names(copy):
            raise BadInput(
                "not the copy of a store's own data that a failed load kept (it lacks the store's marker or the "
                "ontology); `valuemesh load --put-back` takes only the file such a load's error names",
                source=str(kept),
            )
    finally:
        copy.close()
    with write_lock:
        _put_back(store, kept)


def _put_back(store: OxigraphStore, backup: Path) -> None:
    """Drop everything the load added and load the store's own graphs again, as they were (its marker too: nothing
    that follows the store has anything to read again); NotPutBack, naming `backup`, when the store fails."""
    try:
        clear_default_graph(store)
        drop_stored_graphs(store, own_graphs(store))
        with backup.open("rb") as raw:
            load_raw(store, raw, ox.RdfFormat.N_QUADS)
        clear_pending(store)
    except (OSError, StoreUnavailable, RuntimeError) as error:
        raise NotPutBack(store, backup, failure_reasons(store, error), lacking=OWN_DATA_LACKING) from None


def own_graphs(store: OxigraphStore) -> list[str]:
    """Every named graph but the note that a load is under way (put_back.py), which stays until it is done."""
    return [name for name in graph_names(store) if name != PENDING_GRAPH]


def load_files_alone(
    store: Store,
    files: list[Path],
    *,
    actor: Principal,
    progress: BulkProgress,
    shapes: Shapes | None = None,
) -> WriteOutcome:
    """Add the records of `files` to a store that no one else uses while this runs, validated, all or nothing: in
    place when the migration case applies (see the module docstring), else through a scratch store."""
    shapes = shapes or shapes_in_force(store)
    if in_place_applies(store, files, actor):
        assert isinstance(store, OxigraphStore)
        outcome = load_in_place(store, files[0], actor=actor, progress=progress, shapes=shapes)
        if outcome is not None:
            return outcome
    batch = read_batch(files, progress)
    try:
        return write_batch(store, batch, actor=actor, progress=progress, shapes=shapes)
    finally:
        batch.close()
