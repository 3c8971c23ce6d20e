"""Putting the store back after a bulk write that failed and could not undo itself (the disk still full).

Both bulk paths take graphs out of the store before they write (bulk_load.py: the stored versions of the records a
batch replaces and the events counter; bulk_in_place.py: the store's own graphs), keeping a copy in an N-Quads file.
When the write fails and putting that copy back fails too, the copy is kept where it was written and `NotPutBack`
names it with the command that finishes the job once the store can write: `valuemesh load --put-back`.

A copy of replaced records says itself what else to drop: the graphs the failed write may have added, listed in the
service graph `PUT_BACK_GRAPH` of the same file (a service graph: no export and no catalog file holds one, and it is
never loaded into the store).

Before a bulk write takes anything out, it notes in the store itself (the service graph `PENDING_GRAPH`) that a
put-back may be needed and with which command, and takes the note away once the write, or its put-back, is done. A
note left behind (the put-back failed, or the process died mid-write) outlives the process: every later opening of
the store sees it (`pending_put_back`), so neither a restarted server nor another command writes onto a store that
may hold part of a load, and each names the command that puts it back.
"""

from __future__ import annotations

import shlex
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyoxigraph as ox

from server.errors import BadInput, StoreNotPutBack, StoreUnavailable
from server.sparql_text import iri_chunks
from server.store.oxigraph import OxigraphStore, marker_text, write_failure_reason

__all__ = [
    "PUT_BACK_GRAPH",
    "NotPutBack",
    "PendingPutBack",
    "clear_pending",
    "drop_stored_graphs",
    "failure_reasons",
    "graphs_to_drop",
    "holds_more_than_the_note",
    "kept_if_not_put_back",
    "mark_pending",
    "pending_put_back",
    "put_back_replaced",
    "to_drop_nquads",
]

PUT_BACK_GRAPH = "urn:valuemesh:put-back"
_DROPS = ox.NamedNode(f"{PUT_BACK_GRAPH}#drops")
_LIST = ox.NamedNode(PUT_BACK_GRAPH)
PENDING_GRAPH = "urn:valuemesh:put-back-pending"
_PENDING = ox.NamedNode(PENDING_GRAPH)
_COMMAND = ox.NamedNode(f"{PENDING_GRAPH}#command")
_SINCE = ox.NamedNode(f"{PENDING_GRAPH}#since")
_DATE_TIME = ox.NamedNode("http://www.w3.org/2001/XMLSchema#dateTime")

# What a store lacks when the records a batch replaces were taken out and not put back.
REPLACED_LACKING = "the stored versions of the records the batch replaces and the events counter"


def put_back_command(store: OxigraphStore, kept: Path) -> str:
    """The command that puts `store` back from the copy `kept` of what a load took out."""
    return f"valuemesh load --put-back --store {shlex.quote(str(store.path))} {shlex.quote(str(kept))}"


@dataclass(frozen=True)
class PendingPutBack:
    """A bulk write that did not finish: since when, and the command that puts the store back as it was before."""

    since: str
    command: str

    def for_operator(self, location: str) -> str:
        return (
            f"the store at {location} may hold part of a load that did not finish (started {self.since}) and was "
            f"not put back; no write is taken until it is put back as it was before that load with: {self.command}"
        )

    def for_clients(self) -> str:
        return (
            f"the store may hold part of a load that did not finish (started {self.since}) and was not put back; the "
            "catalog's operator must put it back (the server log names the command) before it takes writes again"
        )


def mark_pending(store: OxigraphStore, kept: Path) -> None:
    """Note in the store, before a bulk write takes anything out, that until `clear_pending` it may need putting back
    from `kept` (in one update, so the note is there whole or not at all)."""
    since = ox.Literal(datetime.now(UTC).isoformat(timespec="seconds"), datatype=_DATE_TIME)
    quads = [
        ox.Quad(_PENDING, _COMMAND, ox.Literal(put_back_command(store, kept)), _PENDING),
        ox.Quad(_PENDING, _SINCE, since, _PENDING),
    ]
    data = " ".join(f"{q.subject} {q.predicate} {q.object} ." for q in quads)
    store.update(f"DROP SILENT GRAPH <{PENDING_GRAPH}> ;\nINSERT DATA {{ GRAPH <{PENDING_GRAPH}> {{ {data} }} }}")


def clear_pending(store: OxigraphStore) -> None:
    """The bulk write, or its put-back, is done: the store holds no part of a load."""
    store.update(f"DROP SILENT GRAPH <{PENDING_GRAPH}>")


def holds_more_than_the_note(store: OxigraphStore) -> bool:
    """Whether the note's graph holds quads that `mark_pending` did not write (a batch naming that service graph)."""
    return sum(1 for _ in store._store.quads_for_pattern(None, None, None, _PENDING)) > 2


def pending_put_back(store: OxigraphStore) -> PendingPutBack | None:
    """The note of a bulk write that did not finish, when the store holds one."""
    found: dict[ox.NamedNode, str] = {}
    for quad in store._store.quads_for_pattern(_PENDING, None, None, _PENDING):
        found[quad.predicate] = str(getattr(quad.object, "value", ""))
    if _COMMAND not in found:
        return None
    return PendingPutBack(since=found.get(_SINCE, "at an unknown time"), command=found[_COMMAND])


class NotPutBack(StoreNotPutBack):
    """A failed bulk write whose put-back failed too: the store may hold part of the batch and lack what was taken out.
    That stays in `kept` (N-Quads), which `valuemesh load --put-back` loads back once the store writes. The message
    names files on the store's machine: a server logs it and tells its client `for_clients()` instead."""

    def __init__(self, store: OxigraphStore, kept: Path, reasons: tuple[str, str], *, lacking: str) -> None:
        self.kept = kept
        self.lacking = lacking
        reason, self.client_reason = reasons
        command = put_back_command(store, kept)
        super().__init__(
            f"the store failed while loading the batch and could not be put back ({reason}); it may hold part of "
            f"the batch and lack {lacking}, kept in {kept}. Once the store can write again (space freed), put it "
            f"back as it was before this load with: {command}"
        )

    def for_clients(self) -> StoreNotPutBack:
        """The same news without the store's paths or the command, which only the server's operator can use."""
        return StoreNotPutBack(
            f"the store failed while loading the batch and could not be put back ({self.client_reason}); it may hold "
            f"part of the batch and lack {self.lacking}. The catalog's operator must put it back (the server log "
            "names the copy kept and the command) before it takes writes again"
        )


def failure_reasons(store: OxigraphStore, error: Exception) -> tuple[str, str]:
    """Why the store failed to write: for its operator, and for a client (no paths)."""
    if isinstance(error, StoreUnavailable):  # the store's own words for why it cannot write, without its verdict
        reason = store.write_problem() or "the store refused the write"
        return reason, reason
    if isinstance(error, OSError):
        reason = write_failure_reason(error)
        return reason, reason
    return str(error), "the store's engine failed to write (the server log has the details)"


def drop_stored_graphs(store: OxigraphStore, iris: Iterable[str]) -> None:
    """Drop the named graphs `iris` (absent ones are no error), a chunk of them per update."""
    for chunk in iri_chunks(iris):
        store.update(" ;\n".join(f"DROP SILENT GRAPH {iri}" for iri in chunk.split(" ")))


@contextmanager
def kept_if_not_put_back() -> Iterator[Path]:
    """A temporary directory for the copy of what a write takes out of the store, removed after the write unless
    NotPutBack names the copy: then it must outlive the write (copying it elsewhere needs the space a full disk
    lacks)."""
    workdir = Path(tempfile.mkdtemp(prefix="valuemesh-load-"))
    kept = False
    try:
        yield workdir
    except NotPutBack:
        kept = True
        raise
    finally:
        if not kept:
            shutil.rmtree(workdir, ignore_errors=True)


def to_drop_nquads(iris: Iterable[str]) -> bytes:
    """The list of graphs a put-back drops, as the lines a copy of replaced records ends with."""
    quads = [ox.Quad(_LIST, _DROPS, ox.NamedNode(iri), _LIST) for iri in sorted(set(iris))]
    return ox.serialize(quads, format=ox.RdfFormat.N_QUADS) or b""


def graphs_to_drop(kept: Path) -> list[str] | None:
    """The graphs a copy of replaced records says to drop; None when `kept` is no such copy (the whole file is read,
    so a damaged copy is refused before the store is touched)."""
    drops: list[str] = []
    listed = False
    try:
        for quad in ox.parse(path=kept, format=ox.RdfFormat.N_QUADS):
            if quad.graph_name == _LIST:
                listed = True
                if quad.predicate == _DROPS and isinstance(quad.object, ox.NamedNode):
                    drops.append(quad.object.value)
    except (SyntaxError, ValueError, OSError):
        raise BadInput("not an N-Quads file that a failed load kept", source=str(kept)) from None
    return drops if listed else None


def put_back_replaced(store: OxigraphStore, kept: Path, drops: list[str]) -> None:
    """Drop `drops` (what the failed write may have added) and load the copy of what it took out, kept in `kept`;
    NotPutBack, naming `kept`, when the store fails. Running it again after a failure is safe."""
    try:
        drop_stored_graphs(store, drops)
        quads = (q for q in ox.parse(path=kept, format=ox.RdfFormat.N_QUADS) if q.graph_name != _LIST)
        store._store.bulk_extend(quads)
        store.update(marker_text(uuid.uuid4().hex))  # what follows the store reads it again
        clear_pending(store)
    except (OSError, StoreUnavailable, RuntimeError) as error:
        raise NotPutBack(store, kept, failure_reasons(store, error), lacking=REPLACED_LACKING) from None
