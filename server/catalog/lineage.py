"""Lineage: what a product is made from (upstream) or what is made from it (downstream, impact analysis).

Data flows from a data source or an upstream product's output port into a product's input port
(`?port vm:consumes ?fed`). The walk is breadth-first with one SPARQL question per depth level, asked for the
whole frontier at once, so each node is reached first at its smallest depth, cycles end the walk, and `max_depth`
bounds the work done rather than trimming an answer computed in full.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from rdflib import URIRef

from server.catalog.nodes import select_each
from server.catalog.sources import direct_sources
from server.errors import NotFound
from server.namespaces import sparql_prefixes
from server.store.base import Store


class Direction(Enum):
    UPSTREAM = "UPSTREAM"
    DOWNSTREAM = "DOWNSTREAM"


# One step downstream from every frontier node: products with an input port consuming one of its output
# ports, or consuming it directly when it is a data source. Written as a UNION rather than `dprod:outputPort?`:
# Virtuoso 7 evaluates the zero-or-one path wrongly when its subject comes from VALUES.
DOWNSTREAM_STEP = (
    sparql_prefixes()
    + """
SELECT DISTINCT ?source ?target WHERE {
  { VALUES ?source { $nodes } ?source dprod:outputPort ?fed . ?port vm:consumes ?fed . }
  UNION
  { VALUES ?source { $nodes } ?port vm:consumes ?source . }
  ?target dprod:inputPort ?port .
}
"""
)

# The same closure in one query with a property path, kept for the benchmark that compares formulations:
# every edge of the upstream sub-graph of ?root; depths are then found by a walk over the returned edges.
UPSTREAM_CLOSURE = (
    sparql_prefixes()
    + """
SELECT DISTINCT ?source ?target ?isProduct ?root WHERE {
  ?root (dprod:inputPort/vm:consumes/^dprod:outputPort)* ?target .
  ?target dprod:inputPort/vm:consumes ?fed .
  OPTIONAL { ?upstream dprod:outputPort ?fed }
  BIND(COALESCE(?upstream, ?fed) AS ?source)
  BIND(BOUND(?upstream) AS ?isProduct)
}
"""
)

IS_PRODUCT = sparql_prefixes() + "ASK { ?product a dprod:DataProduct }"


@dataclass(frozen=True)
class LineageNode:
    iri: str
    depth: int
    is_product: bool


@dataclass
class Lineage:
    root: str
    nodes: list[LineageNode] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)  # (source, target) in data-flow direction
    withheld: int = 0  # restricted products a readable record names as sources, left out: the walk stops there


def require_product(store: Store, iri: str) -> None:
    if not store.ask(IS_PRODUCT, {"product": URIRef(iri)}):
        raise NotFound(f"no data product {iri}")


# One step of the walk: for a frontier, the (source, target, source is a product) edges leaving it.
Step = Callable[[list[str]], Iterable[tuple[str, str, bool]]]


class EdgeSource(Protocol):
    """Anything that can answer a step of the walk: the store (SPARQL) or a derived index of it."""

    def step(self, direction: Direction) -> Step | None:
        """The step for this direction, or None when the source cannot answer right now."""
        ...


def sparql_step(store: Store, direction: Direction) -> Step:
    """A step as one SPARQL question over the whole frontier."""
    upstream = direction is Direction.UPSTREAM

    def step(frontier: list[str]) -> Iterable[tuple[str, str, bool]]:
        if upstream:
            for product, source, is_product in direct_sources(store, frontier):
                yield source, product, is_product
            return
        for row in select_each(store, DOWNSTREAM_STEP, frontier):
            yield str(row["source"]), str(row["target"]), True

    return step


def lineage(
    store: Store,
    root: str,
    direction: Direction = Direction.UPSTREAM,
    max_depth: int | None = None,
    index: EdgeSource | None = None,
    hidden: Callable[[str], bool] | None = None,
) -> Lineage:
    """The sub-graph reachable from `root`: each node once with its smallest depth, and the edges among them.

    Steps are look-ups in `index` (a derived copy of the same edges) when it is given and ready, else SPARQL
    questions to the store. `hidden` (restricted products the caller may not read) makes it the lineage of the
    records the caller may read: see `readable_step`.
    """
    if hidden is not None and hidden(root):
        raise NotFound(f"no data product {root}")
    require_product(store, root)
    step = index.step(direction) if index is not None else None
    if step is None:
        step = sparql_step(store, direction)
    if hidden is None:
        return walk(root, step, direction, max_depth)
    withheld: set[str] = set()
    answer = walk(root, readable_step(step, direction, hidden, withheld), direction, max_depth)
    answer.withheld = len(withheld)
    return answer


def readable_step(step: Step, direction: Direction, hidden: Callable[[str], bool], withheld: set[str]) -> Step:
    """A step over the readable records only. An edge is stated in its target's record (the consumer's input port
    consumes the source): upstream, a hidden source named by a readable consumer is counted in `withheld` and left
    out, and the walk does not go past it (what feeds it is stated in its own, hidden, record); downstream, an edge
    into a hidden consumer is stated in the hidden record, so it is not there at all."""
    upstream = direction is Direction.UPSTREAM

    def readable(frontier: list[str]) -> Iterable[tuple[str, str, bool]]:
        for source, target, source_is_product in step(frontier):
            if upstream and hidden(source):
                withheld.add(source)
            elif not hidden(target) and not hidden(source):
                yield source, target, source_is_product

    return readable


def walk(root: str, step: Step, direction: Direction, max_depth: int | None) -> Lineage:
    """Breadth-first from `root`, one step per depth level over the whole frontier."""
    if max_depth is not None and max_depth <= 0:
        return Lineage(root)
    upstream = direction is Direction.UPSTREAM
    depth_of: dict[str, int] = {root: 0}
    is_product: dict[str, bool] = {root: True}
    edges: set[tuple[str, str]] = set()
    frontier = [root]
    depth = 0
    while frontier:
        # Only products have input ports, so only they can lead further upstream; downstream every node is one.
        expandable = [iri for iri in frontier if is_product[iri]]
        if not expandable:
            break
        next_frontier: list[str] = []
        for source, target, source_is_product in step(expandable):
            reached = source if upstream else target
            if reached not in depth_of:
                if max_depth is not None and depth + 1 > max_depth:
                    continue  # beyond the limit: neither the node nor the edge to it is part of the answer
                depth_of[reached] = depth + 1
                is_product[reached] = source_is_product if upstream else True
                next_frontier.append(reached)
            edges.add((source, target))
        frontier = next_frontier
        depth += 1
        if max_depth is not None and depth >= max_depth:
            # One more step would only find edges among nodes already reached; take it for the induced edges.
            last = [iri for iri in frontier if is_product[iri]]
            for source, target, _ in step(last) if last else ():
                if source in depth_of and target in depth_of:
                    edges.add((source, target))
            break
    nodes = [LineageNode(iri, d, is_product[iri]) for iri, d in depth_of.items() if iri != root]
    nodes.sort(key=lambda n: (n.depth, n.iri))
    return Lineage(root, nodes, sorted(edges))


def lineage_by_closure(store: Store, root: str) -> Lineage:
    """Upstream lineage from one property-path query plus a walk over its edges (the benchmark's alternative)."""
    require_product(store, root)
    feeds: dict[str, list[str]] = {}
    is_product: dict[str, bool] = {root: True}
    edges: set[tuple[str, str]] = set()
    for row in store.select(UPSTREAM_CLOSURE, {"root": URIRef(root)}):
        source, target = str(row["source"]), str(row["target"])
        edges.add((source, target))
        feeds.setdefault(target, []).append(source)
        is_product[source] = bool(row["isProduct"].toPython())  # type: ignore[union-attr]
    depth_of = {root: 0}
    frontier = [root]
    while frontier:
        following = []
        for node in frontier:
            for source in feeds.get(node, ()):
                if source not in depth_of:
                    depth_of[source] = depth_of[node] + 1
                    following.append(source)
        frontier = following
    nodes = [LineageNode(iri, d, is_product[iri]) for iri, d in depth_of.items() if iri != root]
    nodes.sort(key=lambda n: (n.depth, n.iri))
    return Lineage(root, nodes, sorted(edges))
