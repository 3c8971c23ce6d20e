"""The embedded default: Oxigraph (RocksDB on disk, ACID, Rust SPARQL engine) through pyoxigraph."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO

import pyoxigraph as ox
from rdflib import Graph
from rdflib.term import Node

from server.errors import BadInput, StoreUnavailable
from server.store.base import SelectResult, Triple
from server.store.terms import to_oxigraph, to_rdflib, triples_to_rdflib

DATASET_FORMATS = {
    "application/trig": ox.RdfFormat.TRIG,
    "application/n-quads": ox.RdfFormat.N_QUADS,
}


def _substitutions(bindings: Mapping[str, Node] | None) -> dict[ox.Variable, object] | None:
    if not bindings:
        return None
    return {ox.Variable(name): to_oxigraph(value) for name, value in bindings.items()}


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


class OxigraphStore:
    """A pyoxigraph store, on disk at `path` or in memory when `path` is None."""

    def __init__(self, path: str | Path | None = None, *, read_only: bool = False) -> None:
        self.location = f"oxigraph:{path}" if path is not None else "memory:"
        self.queries_run = 0
        self._writable = not read_only
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

    def _query(self, query: str, bindings: Mapping[str, Node] | None) -> object:
        self.queries_run += 1
        try:
            return self._store.query(query, use_default_graph_as_union=True, substitutions=_substitutions(bindings))
        except SyntaxError as error:
            raise BadInput(f"malformed SPARQL: {error}") from None

    def select(self, query: str, bindings: Mapping[str, Node] | None = None) -> SelectResult:
        solutions = self._query(query, bindings)
        if not isinstance(solutions, ox.QuerySolutions):
            raise BadInput("expected a SELECT query")
        variables = [v.value for v in solutions.variables]
        rows = [tuple(to_rdflib(solution[i]) for i in range(len(variables))) for solution in solutions]
        return SelectResult(variables, rows)

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

    def query_serialized(self, query: str, media_type: str) -> bytes:
        result = self._query(query, None)
        if isinstance(result, ox.QueryTriples):
            return result.serialize(format=ox.RdfFormat.from_media_type(media_type))
        return result.serialize(format=ox.QueryResultsFormat.from_media_type(media_type))  # type: ignore[union-attr]

    def record(self, iri: str) -> Graph:
        graph = Graph(identifier=iri)
        quads = self._store.quads_for_pattern(None, None, None, ox.NamedNode(iri))
        for triple in triples_to_rdflib(quads):
            graph.add(triple)
        return graph

    def record_iris(self) -> list[str]:
        return sorted(g.value for g in self._store.named_graphs() if isinstance(g, ox.NamedNode))

    def is_empty(self) -> bool:
        return next(iter(self._store.quads_for_pattern(None, None, None, None)), None) is None

    def quad_count(self) -> int:
        return len(self._store)

    # --- writing -------------------------------------------------------------------------------------

    def update(self, sparql: str) -> None:
        try:
            self._store.update(sparql)
        except SyntaxError as error:
            raise BadInput(f"malformed SPARQL update: {error}") from None
        except OSError as error:
            raise StoreUnavailable(f"the store refused the write: {error}") from None

    def replace_records(self, records: Mapping[str, Iterable[Triple]], drop: Iterable[str] = ()) -> None:
        # One update request is one transaction in Oxigraph: readers see all of it or none of it.
        text = insert_data_text(records, drop)
        if text:
            self.update(text)

    def bulk_load(self, data: IO[bytes] | bytes, media_type: str = "application/n-quads") -> None:
        """Fast non-transactional load of a large dataset (benchmarks, restoring a backup)."""
        self._store.bulk_load(data, ox.RdfFormat.from_media_type(media_type))

    def dump(self, out: IO[bytes], media_type: str) -> None:
        fmt = DATASET_FORMATS.get(media_type)
        if fmt is None:
            raise BadInput(f"cannot export as {media_type}; use one of {', '.join(DATASET_FORMATS)}")
        self._store.dump(out, fmt)

    def close(self) -> None:
        if self._writable and self.location != "memory:":
            self._store.flush()
