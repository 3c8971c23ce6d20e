"""Overlap: pairs of products fed by some of the same direct sources (data sources or upstream products).

The store answers which direct sources each product has (one question); pairing them is set arithmetic over
that answer, grouped by shared source so that only products that really share something are ever compared.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from server.catalog.nodes import unique, with_values
from server.catalog.sources import SourceIndex, direct_sources
from server.namespaces import sparql_prefixes
from server.store.base import Store

# Products sharing a direct source with the given product: the same consumed port or data source, or another
# output port of the same upstream product. The product is given in each branch's own VALUES: with one binding
# above a UNION, Oxigraph plans the branches without it (200x slower at 10k) and Virtuoso 7 ignores it.
NEIGHBOURS = (
    sparql_prefixes()
    + """
SELECT DISTINCT ?other WHERE {
  { VALUES ?product { $nodes }
    ?product dprod:inputPort/vm:consumes ?fed .
    ?other dprod:inputPort/vm:consumes ?fed }
  UNION
  { VALUES ?product { $nodes }
    ?product dprod:inputPort/vm:consumes ?fed .
    ?upstream dprod:outputPort ?fed , ?sibling .
    ?other dprod:inputPort/vm:consumes ?sibling }
}
"""
)


@dataclass(frozen=True)
class Overlap:
    left: str
    right: str
    shared: list[str]
    jaccard: float


@dataclass(frozen=True)
class OverlapAnswer:
    pairs: list[Overlap]
    source_is_product: dict[str, bool]


def overlaps(
    store: Store, ids: list[str] | None = None, min_shared: int = 1, index: SourceIndex | None = None
) -> OverlapAnswer:
    """Pairs among `ids` (or all products) sharing at least `min_shared` direct sources, most shared first."""
    if ids is not None and len(unique(ids)) < 2:
        return OverlapAnswer([], {})
    sources_of: dict[str, set[str]] = defaultdict(set)
    fed: dict[str, set[str]] = defaultdict(set)
    kinds: dict[str, bool] = {}
    for product, source, is_product in direct_sources(store, None if ids is None else unique(ids), index):
        sources_of[product].add(source)
        fed[source].add(product)
        kinds[source] = is_product
    shared: dict[tuple[str, str], list[str]] = defaultdict(list)
    for source, products in fed.items():
        ordered = sorted(products)
        for i, left in enumerate(ordered):
            for right in ordered[i + 1 :]:
                shared[(left, right)].append(source)
    pairs = []
    for (left, right), common in shared.items():
        if len(common) < max(min_shared, 1):
            continue
        union = len(sources_of[left] | sources_of[right])
        pairs.append(Overlap(left, right, sorted(common), len(common) / union))
    pairs.sort(key=lambda o: (-len(o.shared), -o.jaccard, o.left, o.right))
    return OverlapAnswer(pairs, kinds)


def overlaps_with(store: Store, product: str, min_shared: int = 1, index: SourceIndex | None = None) -> OverlapAnswer:
    """Pairs of `product` with any product of the catalog it shares direct sources with, most shared first."""
    others = [str(iri) for iri in store.select(with_values(NEIGHBOURS, [product])).column("other")]
    others = [other for other in others if other != product]
    if not others:
        return OverlapAnswer([], {})
    answer = overlaps(store, [product, *others], min_shared, index)
    pairs = [pair for pair in answer.pairs if product in (pair.left, pair.right)]
    return OverlapAnswer(pairs, answer.source_is_product)
