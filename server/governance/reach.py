"""How far from a focus node the shapes look: the property-path steps they take and how many in a row.

A write is judged on its records and a neighbourhood fetched from the store (server/governance/neighbourhood.py).
The packaged shapes look one step beyond a record, at facts the neighbourhood's own queries fetch. An
organisation's shapes can look further: a path sequence, sh:node on a value, a qualified value shape, a nested
property shape. `reach_of` reads that from the shapes: the steps (predicates, forward or inverse) any of their
paths take, and the longest chain of steps through nested shapes; a zero-or-more or one-or-more path makes the
chain unbounded (the closure of the steps is fetched then). SPARQL-based constraints are not read here: their
queries say nothing a shape can bound.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rdflib import RDF, BNode, Graph, URIRef
from rdflib.collection import Collection
from rdflib.term import Node

from server.namespaces import SH

_NESTING = (SH.node, SH.property, SH["not"], SH.qualifiedValueShape)
_LISTS = (SH["and"], SH["or"], SH.xone)


@dataclass(frozen=True)
class Reach:
    """The steps the shapes take from a focus node (SPARQL: "<p>" or "^<p>") and how many in a row (None: any)."""

    steps: frozenset[str]
    depth: int | None
    nests: bool = False  # some shape nests shapes, which may read anything about the nodes they validate

    def beyond_one_step(self) -> bool:
        """Whether the shapes need stored facts beyond what the packaged shapes read one step from a record."""
        return bool(self.steps) and (self.depth is None or self.depth > 1 or self.nests)

    def sparql_path(self) -> str:
        """A SPARQL path from a focus node to every node the shapes can reach (the focus node included)."""
        step = "(" + "|".join(sorted(self.steps)) + ")"
        return f"{step}*" if self.depth is None else "/".join([f"{step}?"] * self.depth)


def _path(graph: Graph, path: Node, inverse: bool = False) -> tuple[set[str], int | None]:
    if isinstance(path, URIRef):
        return {f"^<{path}>" if inverse else f"<{path}>"}, 1
    if isinstance(path, BNode) and graph.value(path, RDF.first) is not None:
        members = [_path(graph, m, inverse) for m in Collection(graph, path)]
        depths = [d for _, d in members]
        return set().union(*(s for s, _ in members)), None if None in depths else sum(d for d in depths if d)
    alternative = graph.value(path, SH.alternativePath)
    if alternative is not None:
        members = [_path(graph, m, inverse) for m in Collection(graph, alternative)]
        depths = [d for _, d in members]
        return set().union(*(s for s, _ in members)), None if None in depths else max(d for d in depths if d)
    inner = graph.value(path, SH.inversePath)
    if inner is not None:
        return _path(graph, inner, not inverse)
    inner = graph.value(path, SH.zeroOrOnePath)
    if inner is not None:
        return _path(graph, inner, inverse)
    inner = graph.value(path, SH.zeroOrMorePath) or graph.value(path, SH.oneOrMorePath)
    if inner is not None:
        return _path(graph, inner, inverse)[0], None
    return set(), 0


def _nested(graph: Graph, shape: Node) -> list[Node]:
    found = [value for kind in _NESTING for value in graph.objects(shape, kind)]
    found += [member for kind in _LISTS for value in graph.objects(shape, kind) for member in Collection(graph, value)]
    return found


def _shape(graph: Graph, shape: Node, steps: set[str], seen: frozenset[Node]) -> int | None:
    """The longest chain of steps from a node that `shape` validates (recursion is refused when shapes are read)."""
    if shape in seen:
        return 0
    path = graph.value(shape, SH.path)
    own, depth = _path(graph, path) if path is not None else (set(), 0)
    steps |= own
    deepest: int | None = 0
    for nested in _nested(graph, shape):
        inner = _shape(graph, nested, steps, seen | {shape})
        deepest = None if inner is None or deepest is None else max(deepest, inner)
    return None if depth is None or deepest is None else depth + deepest


def reach_of(graph: Graph, shapes: Iterable[Node]) -> Reach:
    """How far from their focus nodes `shapes` look."""
    steps: set[str] = set()
    depth: int | None = 0
    shapes = list(shapes)
    for shape in shapes:
        found = _shape(graph, shape, steps, frozenset())
        depth = None if found is None or depth is None else max(depth, found)
    members = [m for shape in shapes for m in (shape, *graph.objects(shape, SH.property))]
    nests = any(
        (m, kind, None) in graph for m in members for kind in (SH.node, SH["not"], SH.qualifiedValueShape, *_LISTS)
    ) or any((m, SH.property, None) in graph and (m, SH.path, None) in graph for m in members)
    return Reach(frozenset(steps), depth, nests)
