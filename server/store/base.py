"""The store protocol every backend implements, and the shapes of what it returns.

Records are named graphs: one per registered product, domain, agent, source, goal or use case. Every query's
default graph is the union of all records. Writes replace whole records atomically.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import IO, Protocol, runtime_checkable

from rdflib import Graph
from rdflib.term import Node

Triple = tuple[Node, Node, Node]

# Graphs the catalog keeps for itself (store/claims.py, catalog/changes.py, identity/tokens.py, the versions of
# catalog/history.py, the events of catalog/events.py): every graph whose IRI starts with SERVICE_PREFIX. Never a
# record: never listed, exported or validated as one, and no record may be written under such a name.
SERVICE_PREFIX = "urn:valuemesh:"
CLAIMS_GRAPH = "urn:valuemesh:claims"
CHANGES_GRAPH = "urn:valuemesh:changes"
TOKENS_GRAPH = "urn:valuemesh:tokens"
# A token every write of records changes (store/oxigraph.py), so a derived copy can tell it still matches.
MARKER_GRAPH = "urn:valuemesh:marker"
SERVICE_GRAPHS = (CLAIMS_GRAPH, CHANGES_GRAPH, TOKENS_GRAPH, MARKER_GRAPH)


def is_service_graph(iri: str) -> bool:
    """Whether a graph is the catalog's own service data rather than a record."""
    return iri.startswith(SERVICE_PREFIX)


@dataclass(frozen=True)
class SelectResult:
    """Rows of a SELECT, as rdflib terms (None where a variable is unbound)."""

    variables: list[str]
    rows: list[tuple[Node | None, ...]]

    def __iter__(self) -> Iterator[dict[str, Node | None]]:
        for row in self.rows:
            yield dict(zip(self.variables, row, strict=True))

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> list[Node | None]:
        i = self.variables.index(name)
        return [row[i] for row in self.rows]


@runtime_checkable
class Store(Protocol):
    """What the catalog needs of a triple store. Bindings are substituted by the engine, never spliced as text."""

    location: str
    queries_run: int

    def select(self, query: str, bindings: Mapping[str, Node] | None = None) -> SelectResult: ...

    def ask(self, query: str, bindings: Mapping[str, Node] | None = None) -> bool: ...

    def construct(self, query: str, bindings: Mapping[str, Node] | None = None) -> Graph: ...

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
        """Run any query and return the result serialized as `media_type` (used by the SPARQL endpoint).

        `default_graphs` replaces the union default graph by the union of those graphs; `named_graphs` restricts
        what `GRAPH` sees. Past `timeout_s` or beyond `max_rows` solutions (triples for CONSTRUCT/DESCRIBE) it
        raises `LimitExceeded` instead of answering part of the result.
        """
        ...

    def update(self, sparql: str) -> None: ...

    def replace_records(self, records: Mapping[str, Iterable[Triple]], drop: Iterable[str] = ()) -> None:
        """Replace each record's named graph and drop others, all in one atomic write."""
        ...

    def exclusive(self, keys: Iterable[str]) -> AbstractContextManager[None]:
        """Hold `keys` (what a write depends on) against writers in other processes until the block ends."""
        ...

    def record(self, iri: str) -> Graph: ...

    def record_iris(self) -> list[str]: ...

    def is_empty(self) -> bool: ...

    def quad_count(self) -> int: ...

    def dump(self, out: IO[bytes], media_type: str) -> None:
        """Write every record as a dataset (TriG or N-Quads); service graphs are left out."""
        ...

    def close(self) -> None: ...


def backend_of(store: Store) -> Store:
    """The store itself under the Catalog service's wrapper (catalog/service.py), for what depends on its kind."""
    return getattr(store, "backend", store)  # type: ignore[no-any-return]
