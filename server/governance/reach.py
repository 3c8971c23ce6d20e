"""How far from a focus node the shapes look: the chains of path steps that lead to nodes they validate.

A write is judged on its records and a neighbourhood fetched from the store (server/governance/neighbourhood.py).
The packaged shapes look one step beyond a record, at facts the neighbourhood's own queries fetch. An
organisation's shapes can look further: a path sequence, sh:node on a value, a qualified value shape, a nested
property shape. `reach_of` reads that from the shapes: each chain of steps (a path, then the paths of the shapes
nested under it, ...) from a focus node to nodes whose facts a constraint reads. A zero-or-more or one-or-more
path is one step that SPARQL follows to its closure. Since a record can begin part-way along a chain (a new
product's input port is in the write; the port it consumes is stored), every tail of every chain is followed from
every node of the records. SPARQL-based constraints are not read here: their queries say nothing a shape bounds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rdflib import RDF, BNode, Graph
from rdflib.collection import Collection
from rdflib.term import Node

from server.governance.paths import BadPath, sparql_path
from server.namespaces import SH

_NESTING = (SH.node, SH.property, SH["not"], SH.qualifiedValueShape)
_LISTS = (SH["and"], SH["or"], SH.xone)
_SHAPE_VALUED = (SH.node, SH["not"], SH.qualifiedValueShape, *_LISTS)


@dataclass(frozen=True)
class Reach:
    """The tails of the chains of steps the shapes take from a focus node (each a tuple of SPARQL paths)."""

    tails: frozenset[tuple[str, ...]]
    # Some shape nests shapes, or has a path of more than one step: it reads facts of nodes beyond a record's
    # immediate neighbours, or facts of those neighbours other than the few the packaged shapes read.
    further: bool = False

    def beyond_one_step(self) -> bool:
        """Whether the shapes need stored facts beyond what the packaged shapes read one step from a record."""
        return self.further or any(len(tail) > 1 or tail[-1].endswith(("*", "+")) for tail in self.tails if tail)

    def sparql_paths(self) -> list[str]:
        """Each tail as one SPARQL path, longest first."""
        return ["/".join(tail) for tail in sorted(self.tails, key=lambda t: (-len(t), t)) if tail]


def _steps(graph: Graph, path: Node) -> list[str]:
    """A path as steps: a sequence path's members one by one, any other path as one step."""
    if isinstance(path, BNode) and graph.value(path, RDF.first) is not None:
        return [step for member in Collection(graph, path) for step in _steps(graph, member)]
    return [sparql_path(graph, path)]


def _nested(graph: Graph, shape: Node) -> list[Node]:
    found = [value for kind in _NESTING for value in graph.objects(shape, kind)]
    found += [member for kind in _LISTS for value in graph.objects(shape, kind) for member in Collection(graph, value)]
    return found


# Constraints that read a node's own triples (its types, its other properties): the node must be described.
_READS_NODE = (SH["class"], SH.closed, SH.equals, SH.disjoint, SH.lessThan, SH.lessThanOrEquals)


def _chains(graph: Graph, shape: Node, here: tuple[str, ...], seen: frozenset[Node]) -> set[tuple[str, ...]]:
    """The chains of steps from a focus node to the nodes whose triples `shape` (validating the nodes at the end
    of `here`) reads: where each step of its path starts, and its value nodes when a constraint reads theirs."""
    if shape in seen:  # recursion is refused when shapes are read; never loop here either
        return set()
    path = graph.value(shape, SH.path)
    steps: list[str] = []
    if path is not None:
        try:
            steps = _steps(graph, path)
        except BadPath:
            return set()
    found = {here + tuple(steps[:i]) for i in range(len(steps))}
    values = here + tuple(steps)
    if any((shape, kind, None) in graph for kind in _READS_NODE):
        found.add(values)
    for nested in _nested(graph, shape):
        found |= _chains(graph, nested, values, seen | {shape})
    return {chain for chain in found if chain}


def reach_of(graph: Graph, shapes: Iterable[Node]) -> Reach:
    """How far from their focus nodes `shapes` look."""
    shapes = list(shapes)
    chains = {chain for shape in shapes for chain in _chains(graph, shape, (), frozenset())}
    tails = {chain[i:] for chain in chains for i in range(len(chain))}
    members = [m for shape in shapes for m in (shape, *graph.objects(shape, SH.property))]
    nests = any((m, kind, None) in graph for m in members for kind in _SHAPE_VALUED) or any(
        (m, SH.property, None) in graph and (m, SH.path, None) in graph for m in members
    )
    long_paths = any(
        isinstance(path, BNode) and graph.value(path, SH.inversePath) is None for path in graph.objects(None, SH.path)
    )
    return Reach(frozenset(tails), nests or long_paths)
