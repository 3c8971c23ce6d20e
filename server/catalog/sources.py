"""What feeds each data product directly: the products whose output ports its input ports consume, and the data
sources they consume. One question, asked by lineage (one step upstream) and by overlap (shared sources), and
answered from the derived lineage index when it is ready (server/catalog/lineage_index.py keeps the same rows)."""

from __future__ import annotations

from typing import Protocol

from server.catalog.nodes import with_values
from server.namespaces import sparql_prefixes
from server.store.base import Store

DIRECT_SOURCES = (
    sparql_prefixes()
    + """
SELECT DISTINCT ?product ?source ?isProduct WHERE {
  VALUES ?product { $nodes }
  ?product dprod:inputPort/vm:consumes ?fed .
  OPTIONAL { ?upstream dprod:outputPort ?fed }
  BIND(COALESCE(?upstream, ?fed) AS ?source)
  BIND(BOUND(?upstream) AS ?isProduct)
}
"""
)

ALL_DIRECT_SOURCES = (
    sparql_prefixes()
    + """
SELECT DISTINCT ?product ?source ?isProduct WHERE {
  ?product a dprod:DataProduct ; dprod:inputPort/vm:consumes ?fed .
  OPTIONAL { ?upstream dprod:outputPort ?fed }
  BIND(COALESCE(?upstream, ?fed) AS ?source)
  BIND(BOUND(?upstream) AS ?isProduct)
}
"""
)


class SourceIndex(Protocol):
    """A derived copy of what feeds each product (server/catalog/lineage_index.py), used when it is ready."""

    def direct_sources(self, products: list[str] | None = None) -> list[tuple[str, str, bool]] | None: ...


def direct_sources(
    store: Store, ids: list[str] | None, index: SourceIndex | None = None
) -> list[tuple[str, str, bool]]:
    """(product, direct source, source is a product) for `ids`, or for every product of the catalog."""
    rows = index.direct_sources(ids) if index is not None else None
    if rows is not None:
        return rows
    query = ALL_DIRECT_SOURCES if ids is None else with_values(DIRECT_SOURCES, ids)
    return [
        (str(row["product"]), str(row["source"]), bool(row["isProduct"].toPython()))  # type: ignore[union-attr]
        for row in store.select(query)
    ]
