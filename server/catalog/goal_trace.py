"""Goal traceability: why a product exists, through the use cases it serves up to the Lean Value Tree's vision.

`vm:servedBy` may be stated in the use case's record or in the product's; queries read the union of records, so
both count. The path is written from the bound product outwards (`?useCase vm:servedBy ?product`, then
`vm:helpsAchieve/vm:subGoalOf*`): written the other way round, Oxigraph evaluated the path from every goal and
was about 80x slower on the same data (notes/performance.md; bench/bench_api.py compares the two).
"""

from __future__ import annotations

from dataclasses import dataclass

from rdflib import URIRef

from server.catalog.lineage import require_product
from server.namespaces import sparql_prefixes
from server.store.base import Store

GOAL_TRACE = (
    sparql_prefixes()
    + """
SELECT ?useCase ?goal ?product WHERE {
  ?useCase vm:servedBy ?product .
  OPTIONAL { ?useCase vm:helpsAchieve/vm:subGoalOf* ?goal }
}
"""
)

# The same question written from the goals inwards; kept only for the benchmark of formulations.
GOAL_TRACE_FROM_GOALS = (
    sparql_prefixes()
    + """
SELECT ?useCase ?goal ?product WHERE {
  ?goal ^vm:subGoalOf*/^vm:helpsAchieve ?useCase .
  ?useCase vm:servedBy ?product .
}
"""
)

# Untraced products are every product but the traced ones, two set questions subtracted here: the same answer
# as one FILTER NOT EXISTS, which Oxigraph evaluated per product and took minutes at 10k products.
ALL_PRODUCTS = sparql_prefixes() + "SELECT ?product WHERE { ?product a dprod:DataProduct }"
TRACED = (
    sparql_prefixes()
    + """
SELECT DISTINCT ?product WHERE { ?useCase vm:servedBy ?product ; vm:helpsAchieve ?goal }
"""
)


@dataclass(frozen=True)
class GoalTrace:
    product: str
    use_cases: list[str]
    goals: list[str]


def goal_trace(store: Store, product: str, query: str = GOAL_TRACE) -> GoalTrace:
    """The use cases serving `product` and every goal they roll up to (NotFound for an unknown product)."""
    require_product(store, product)
    use_cases: dict[str, None] = {}
    goals: dict[str, None] = {}
    for row in store.select(query, {"product": URIRef(product)}):
        use_cases[str(row["useCase"])] = None
        if row["goal"] is not None:
            goals[str(row["goal"])] = None
    return GoalTrace(product, sorted(use_cases), sorted(goals))


def untraced_products(store: Store) -> list[str]:
    """Products that serve no use case helping achieve a goal: data-lake monsters in the making."""
    traced = {str(iri) for iri in store.select(TRACED).column("product")}
    return sorted({str(iri) for iri in store.select(ALL_PRODUCTS).column("product")} - traced)
