"""The embedded default: Oxigraph (RocksDB on disk, ACID, Rust SPARQL engine) through pyoxigraph."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO

import pyoxigraph as ox
from rdflib import Graph
from rdflib.term import Node

from server.errors import BadInput, LimitExceeded, StoreUnavailable
from server.namespaces import PREFIXES
from server.sparql_errors import explain_syntax_error
from server.store.base import MARKER_GRAPH, SERVICE_PREFIX, SelectResult, Triple, is_service_graph
from server.store.terms import to_oxigraph, to_rdflib, triples_to_rdflib

_log = logging.getLogger(__name__)

# While writes fail, how often a health check may try to reopen the store (a write always tries).
RECOVERY_INTERVAL_S = 1.0
# A write that finds the store failed tries to reopen it this often, this far apart, before it gives up.
REOPEN_ATTEMPTS = 3
REOPEN_PAUSE_S = 0.2

DATASET_FORMATS = {
    "application/trig": ox.RdfFormat.TRIG,
    "application/n-quads": ox.RdfFormat.N_QUADS,
}


def _substitutions(
    bindings: Mapping[str, Node] | None,
) -> dict[ox.Variable, ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple] | None:
    if not bindings:
        return None
    return {ox.Variable(name): to_oxigraph(value) for name, value in bindings.items()}


class _GuardedOutput:
    """Collects serialized solutions (TSV: one line per solution) and stops the engine at a limit.

    Raising inside `write` makes pyoxigraph abandon the serialization, so a huge or slow answer is cut off
    while it streams instead of being built whole first."""

    def __init__(self, max_rows: int | None, deadline: float | None) -> None:
        self.chunks: list[bytes] = []
        self.lines = 0
        self.max_rows = max_rows
        self.deadline = deadline

    def write(self, chunk: bytes) -> int:
        self.lines += chunk.count(b"\n")
        if self.max_rows is not None and self.lines - 1 > self.max_rows:  # the first line is the header
            raise _Stop(too_many_rows(self.max_rows))
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise _Stop(None)
        self.chunks.append(bytes(chunk))
        return len(chunk)

    def flush(self) -> None:
        pass


class _Stop(Exception):
    def __init__(self, error: LimitExceeded | None) -> None:
        self.error = error


def too_many_rows(max_rows: int) -> LimitExceeded:
    return LimitExceeded(
        f"the answer has more than {max_rows} rows, the limit of this catalog; add a LIMIT or narrow the query",
        limit="rows",
    )


def too_slow(timeout_s: float) -> LimitExceeded:
    return LimitExceeded(
        f"the query ran longer than the time limit of {timeout_s:g} s and was stopped; narrow it or add a LIMIT",
        limit="time",
    )


def insert_data_text(records: Mapping[str, Iterable[Triple]], drop: Iterable[str] = ()) -> str:
    """One SPARQL update that drops the given graphs and the records' graphs, then inserts the records."""
    parts = [f"DROP SILENT GRAPH {ox.NamedNode(iri)}" for iri in (*records.keys(), *drop)]
    blocks = []
    for iri, triples in records.items():
        lines = " .\n".join(f"{to_oxigraph(s)} {to_oxigraph(p)} {to_oxigraph(o)}" for s, p, o in triples)
        if lines:
            blocks.append(f"GRAPH {ox.NamedNode(iri)} {{\n{lines} .\n}}")
    if blocks:
        parts.append("INSERT DATA {\n" + "\n".join(blocks) + "\n}")
    return " ;\n".join(parts)


MARKED = f"<{MARKER_GRAPH}#marker>"


def marker_text(marker: str) -> str:
    """The update that sets the store's marker (see `OxigraphStore.marker`)."""
    return (
        f"DROP SILENT GRAPH <{MARKER_GRAPH}> ;\n"
        f'INSERT DATA {{ GRAPH <{MARKER_GRAPH}> {{ <{MARKER_GRAPH}> {MARKED} "{marker}" }} }}'
    )


def write_failure_reason(error: OSError) -> str:
    """What a client is told about a failed write: the cause, never the store's path or its file names."""
    text = str(error).lower()
    if "no space left" in text:
        return "no space left on the store's disk"
    if "file too large" in text:
        return "a store file reached the largest size this process may write"
    if "read-only file system" in text:
        return "the store's disk is mounted read-only"
    if "permission denied" in text:
        return "no permission to write the store's files"
    return "an I/O error (the server log has the details)"


def _in_service_graph(quad: ox.Quad) -> bool:
    graph = quad.graph_name
    return isinstance(graph, ox.NamedNode) and graph.value.startswith(SERVICE_PREFIX)


class OxigraphStore:
    """A pyoxigraph store, on disk at `path` or in memory when `path` is None.

    After a failed write (a full disk) RocksDB refuses every later write until the database is reopened, even once
    space is back; reads still answer. So the store remembers the failure and reopens itself when the next write
    comes or a health check asks (`write_problem`), answering `StoreUnavailable` until reopening succeeds."""

    def __init__(self, path: str | Path | None = None, *, read_only: bool = False) -> None:
        self.location = f"oxigraph:{path}" if path is not None else "memory:"
        self.path = Path(path).expanduser() if path is not None else None
        self.queries_run = 0
        # Queries run on several threads at once: `+=` alone would lose a count now and then.
        self._tally = threading.Lock()
        # Bumped by every write, so that a snapshot can tell whether it still shows the catalog as it is.
        self.generation = 0
        self._writable = not read_only
        self._directory = None if path is None else str(Path(path).expanduser())  # reopened after a failed write
        self._write_failure: str | None = None  # the client-safe reason, while writes fail
        self._last_recovery = 0.0
        self._recovery_lock = threading.Lock()
        try:
            if path is None:
                self._store = ox.Store()
            else:
                directory = Path(path).expanduser()
                if directory.exists() and not directory.is_dir():
                    raise StoreUnavailable(f"store path {directory} exists and is not a directory")
                if read_only:
                    self._store = ox.Store.read_only(str(directory))
                else:
                    directory.mkdir(parents=True, exist_ok=True)
                    self._store = ox.Store(str(directory))
        except StoreUnavailable:
            raise
        except OSError as error:
            hint = ""
            text = str(error).lower()
            if "lock" in text:
                hint = " (another valuemesh process has it open; stop it or use a different --store)"
            elif "permission" in text or "read-only" in text:
                hint = " (no permission to write there; choose another --store)"
            raise StoreUnavailable(f"cannot open the store at {path}: {error}{hint}") from None

    # --- reading -------------------------------------------------------------------------------------

    def _query(
        self,
        query: str,
        bindings: Mapping[str, Node] | None,
        default_graphs: Sequence[str] | None = None,
        named_graphs: Sequence[str] | None = None,
    ) -> object:
        with self._tally:
            self.queries_run += 1
        try:
            return self._store.query(
                query,
                use_default_graph_as_union=default_graphs is None,
                default_graph=None if default_graphs is None else [ox.NamedNode(g) for g in default_graphs],
                named_graphs=None if named_graphs is None else [ox.NamedNode(g) for g in named_graphs],
                substitutions=_substitutions(bindings),
            )
        except SyntaxError as error:
            raise explain_syntax_error(query, str(error)) from None
        except ValueError as error:  # e.g. a graph IRI that is not an IRI
            raise BadInput(str(error)) from None

    def select(self, query: str, bindings: Mapping[str, Node] | None = None) -> SelectResult:
        solutions = self._query(query, bindings)
        if not isinstance(solutions, ox.QuerySolutions):
            raise BadInput("expected a SELECT query")
        variables = [v.value for v in solutions.variables]
        rows = [tuple(to_rdflib(solution[i]) for i in range(len(variables))) for solution in solutions]
        return SelectResult(variables, rows)

    def solutions(self, query: str) -> ox.QuerySolutions:
        """A SELECT's solutions as the engine gives them: a question about every record of a large batch reads them
        faster without converting each term to rdflib (`select`) for the caller to convert back."""
        solutions = self._query(query, None)
        if not isinstance(solutions, ox.QuerySolutions):
            raise BadInput("expected a SELECT query")
        return solutions

    def ask(self, query: str, bindings: Mapping[str, Node] | None = None) -> bool:
        answer = self._query(query, bindings)
        if not isinstance(answer, ox.QueryBoolean):
            raise BadInput("expected an ASK query")
        return bool(answer)

    def construct(self, query: str, bindings: Mapping[str, Node] | None = None) -> Graph:
        triples = self._query(query, bindings)
        if not isinstance(triples, ox.QueryTriples):
            raise BadInput("expected a CONSTRUCT or DESCRIBE query")
        graph = Graph()
        for triple in triples_to_rdflib(triples):
            graph.add(triple)
        return graph

    def query_serialized(
        self,
        query: str,
        media_type: str,
        *,
        bindings: Mapping[str, Node] | None = None,
        default_graphs: Sequence[str] | None = None,
        named_graphs: Sequence[str] | None = None,
        timeout_s: float | None = None,
        max_rows: int | None = None,
    ) -> bytes:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        result: object = self._query(query, bindings, default_graphs, named_graphs)
        parsed: object = None
        try:
            if isinstance(result, ox.QueryTriples):
                rdf_format = ox.RdfFormat.from_media_type(media_type)
                if rdf_format is None:
                    raise BadInput(f"cannot write a graph as {media_type}")
                triples = []
                for triple in result:
                    triples.append(triple)
                    if max_rows is not None and len(triples) > max_rows:
                        raise too_many_rows(max_rows)
                    if deadline is not None and time.monotonic() > deadline:
                        raise too_slow(timeout_s)  # type: ignore[arg-type]
                prefixes = PREFIXES if rdf_format in (ox.RdfFormat.TURTLE, ox.RdfFormat.RDF_XML) else None
                return ox.serialize(triples, format=rdf_format, prefixes=prefixes)  # type: ignore[return-value]
            results_format = ox.QueryResultsFormat.from_media_type(media_type)
            if results_format is None:
                raise BadInput(f"cannot write query results as {media_type}")
            if isinstance(result, ox.QueryBoolean):
                return result.serialize(format=results_format)  # type: ignore[return-value]
            assert isinstance(result, ox.QuerySolutions)
            if max_rows is None and deadline is None:
                return result.serialize(format=results_format)  # type: ignore[return-value]
            # Stream through TSV (one solution per line, terms written losslessly) to count rows and watch the
            # clock while the engine produces them, then write the requested format from the same solutions.
            output = _GuardedOutput(max_rows, deadline)
            stopped: LimitExceeded | None = None
            try:
                result.serialize(output, format=ox.QueryResultsFormat.TSV)  # type: ignore[arg-type]
            except _Stop as stop:
                stopped = stop.error or too_slow(timeout_s)  # type: ignore[arg-type]
            if stopped is not None:
                raise stopped
            if deadline is not None and time.monotonic() > deadline:
                raise too_slow(timeout_s)  # type: ignore[arg-type]
            tsv = b"".join(output.chunks)
            if results_format == ox.QueryResultsFormat.TSV:
                return tsv
            parsed = ox.parse_query_results(tsv, format=ox.QueryResultsFormat.TSV)
            return parsed.serialize(format=results_format)  # type: ignore[union-attr, return-value]
        finally:
            # pyoxigraph's results may only be dropped on the thread that made them; an exception carried to another
            # thread (the endpoint runs queries on worker threads) must not keep them alive in this frame.
            result = parsed = None
            triples = []

    def record(self, iri: str) -> Graph:
        graph = Graph(identifier=iri)
        quads = self._store.quads_for_pattern(None, None, None, ox.NamedNode(iri))
        for triple in triples_to_rdflib(quads):
            graph.add(triple)
        return graph

    def holds_graph(self, iri: str, quads: Iterable[ox.Quad]) -> bool:
        """Whether the named graph `iri` holds exactly the triples of `quads` (their graph ignored), blank nodes
        matched by structure: an isomorphism test, done by canonicalising both sides in Oxigraph."""
        stored = ox.Dataset(
            ox.Quad(q.subject, q.predicate, q.object)
            for q in self._store.quads_for_pattern(None, None, None, ox.NamedNode(iri))
        )
        given = ox.Dataset(ox.Quad(q.subject, q.predicate, q.object) for q in quads)
        if len(stored) != len(given):
            return False
        stored.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
        given.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
        return stored == given

    def record_iris(self) -> list[str]:
        graphs = (g.value for g in self._store.named_graphs() if isinstance(g, ox.NamedNode))
        return sorted(g for g in graphs if not is_service_graph(g))

    def is_empty(self) -> bool:
        marker = ox.NamedNode(MARKER_GRAPH)  # the marker alone is no content
        quads = self._store.quads_for_pattern(None, None, None, None)
        return next((q for q in quads if q.graph_name != marker), None) is None

    def quad_count(self) -> int:
        return len(self._store) - (1 if self.marker() is not None else 0)

    # --- writing -------------------------------------------------------------------------------------

    def update(self, sparql: str) -> None:
        if self._write_failure is not None:
            self._recover(wait=True)
        try:
            self._store.update(sparql)
        except SyntaxError as error:
            raise BadInput(f"malformed SPARQL update: {error}") from None
        except OSError as error:
            raise self._failed_write(error) from None
        finally:
            # After the write, never before: a snapshot taken while it runs must not pass for one that includes it.
            self.generation += 1

    def write_problem(self) -> str | None:
        """Why the store cannot write now, or None; while writes fail, it first tries reopening (once a second)."""
        if self._write_failure is not None:
            with contextlib.suppress(StoreUnavailable):
                self._recover(wait=False)
        return self._write_failure

    def _failed_write(self, error: OSError) -> StoreUnavailable:
        reason = write_failure_reason(error)
        _log.error("store %s: a write failed (%s); writes are refused until the store reopens", self.location, error)
        self._write_failure = reason
        return StoreUnavailable(f"the store cannot write: {reason}; nothing was stored")

    def _recover(self, *, wait: bool) -> None:
        """Reopen the store after a failed write; raises `StoreUnavailable` while it still cannot write."""
        with self._recovery_lock:
            reason = self._write_failure
            if reason is None:
                return
            unavailable = StoreUnavailable(f"the store cannot write: {reason}; nothing was stored")
            if not wait and time.monotonic() - self._last_recovery < RECOVERY_INTERVAL_S:
                raise unavailable
            self._last_recovery = time.monotonic()
            if self._directory is None:  # in memory: nothing to reopen; the next write tells
                self._write_failure = None
                return
            attempts = REOPEN_ATTEMPTS if wait else 1  # a write waits a little; a health check asks again later
            for attempt in range(attempts):
                try:
                    # Readers move to a read-only view first, so that dropping the failed handle releases RocksDB's
                    # lock (unless a query still holds it), then the store opens for writing again. Opening the view
                    # can race the failed handle's last file changes (RuntimeError "Corruption"): try again.
                    self._store = ox.Store.read_only(self._directory)
                    self._store = ox.Store(self._directory)
                    break
                except (OSError, RuntimeError) as error:
                    _log.warning("store %s: cannot reopen for writing yet (%s)", self.location, error)
                    if attempt + 1 == attempts:
                        raise unavailable from None
                    time.sleep(REOPEN_PAUSE_S)
            self._write_failure = None
            _log.warning("store %s: reopened after a failed write; writes are accepted again", self.location)

    def replace_records(self, records: Mapping[str, Iterable[Triple]], drop: Iterable[str] = ()) -> None:
        # One update request is one transaction in Oxigraph: readers see all of it or none of it. A new marker is
        # part of it, so a copy that saw the marker saw this write (catalog/public_view.py).
        text = insert_data_text(records, drop)
        if text:
            self.update(text + " ;\n" + marker_text(uuid.uuid4().hex))

    def bulk_load(self, data: IO[bytes] | bytes, media_type: str = "application/n-quads") -> None:
        """Fast non-transactional load of a large dataset (benchmarks, restoring a backup)."""
        try:
            self._store.bulk_load(data, ox.RdfFormat.from_media_type(media_type))
        finally:
            self.generation += 1
        self.update(marker_text(uuid.uuid4().hex))

    def bulk_extend(self, quads: Iterable[ox.Quad]) -> None:
        """`bulk_load` of quads already parsed (another store's): no text written and read back in between."""
        try:
            self._store.bulk_extend(quads)
        finally:
            self.generation += 1
        self.update(marker_text(uuid.uuid4().hex))

    def marker(self) -> str | None:
        """A token that changes with every write of records (`replace_records`, `bulk_load`; not a raw `update`)."""
        for quad in self._store.quads_for_pattern(None, None, None, ox.NamedNode(MARKER_GRAPH)):
            return str(getattr(quad.object, "value", ""))
        return None

    def dump(self, out: IO[bytes], media_type: str) -> None:
        fmt = DATASET_FORMATS.get(media_type)
        if fmt is None:
            raise BadInput(f"cannot export as {media_type}; use one of {', '.join(DATASET_FORMATS)}")
        # Streamed through a filter: the engine's own dump cannot leave the service graphs out.
        quads = self._store.quads_for_pattern(None, None, None, None)
        ox.serialize((q for q in quads if not _in_service_graph(q)), out, fmt)

    def exclusive(self, keys: Iterable[str]) -> AbstractContextManager[None]:
        # One process owns an embedded store (RocksDB locks its directory): its own write lock is all it needs.
        return contextlib.nullcontext()

    def snapshot(self, directory: Path) -> None:
        """A consistent read-only copy of the store in `directory` (hard links where it can), for `read_only`."""
        self._store.backup(str(directory))

    def close(self) -> None:
        if self._writable and self.location != "memory:" and self._write_failure is None:
            self._store.flush()
