"""Goals at risk: a product whose SLO budget is at risk or spent endangers every product downstream of it
(lineage), the use cases any of those serve, and every goal those use cases help achieve, up to the vision.

Each goal comes with its causes (product, SLO, status) and, per cause, the shortest path that explains it (`via`:
the downstream products, the use case, the sub-goals between them and the goal). The downstream walk is the
catalog's own (server/catalog/lineage.py `walk`, on the lineage index when it is ready); the goal side is the goal
trace's path (`vm:servedBy`, then `vm:helpsAchieve/vm:subGoalOf*`, server/catalog/goal_trace.py), asked for all
reached products at once with each step kept, since `via` must name the sub-goals passed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from server.catalog.lineage import Direction, EdgeSource, readable_step, sparql_step, walk
from server.catalog.nodes import unique, with_values
from server.namespaces import sparql_prefixes
from server.observations.budgets import SEVERITY, BudgetStatus, SloStatus
from server.store.base import Store

SERVED = (
    sparql_prefixes()
    + """
SELECT ?product ?useCase ?goal WHERE {
  VALUES ?product { $nodes }
  ?useCase vm:servedBy ?product ; vm:helpsAchieve ?goal .
}
"""
)
GOAL_PARENTS = sparql_prefixes() + "SELECT ?goal ?parent WHERE { ?goal vm:subGoalOf ?parent }"


@dataclass(frozen=True)
class RiskCause:
    product: str
    slo: str
    status: BudgetStatus
    via: tuple[str, ...]


@dataclass
class GoalRisk:
    goal: str
    causes: list[RiskCause] = field(default_factory=list)

    @property
    def status(self) -> BudgetStatus:
        return max((c.status for c in self.causes), key=SEVERITY.__getitem__)


def _paths_downstream(root: str, step: Callable[..., Iterable[tuple[str, str, bool]]]) -> dict[str, list[str]]:
    """Each product downstream of `root` (and `root`) with the shortest path of products after root to it."""
    answer = walk(root, step, Direction.DOWNSTREAM, None)
    depth = {root: 0, **{n.iri: n.depth for n in answer.nodes}}
    parent: dict[str, str] = {}
    for source, target in answer.edges:
        if depth.get(source, -2) == depth.get(target, -1) - 1 and (target not in parent or source < parent[target]):
            parent[target] = source
    paths: dict[str, list[str]] = {}
    for node in depth:
        path: list[str] = []
        at = node
        while at != root:
            path.append(at)
            at = parent[at]
        paths[node] = path[::-1]
    return paths


def goals_at_risk(
    store: Store,
    statuses: Iterable[SloStatus],
    *,
    index: EdgeSource | None = None,
    hidden: Callable[[str], bool] | None = None,
) -> list[GoalRisk]:
    """The goals put at risk by the SLOs among `statuses` that are AT_RISK or EXHAUSTED, most severe first."""
    hide = hidden or (lambda _: False)
    causes = [s for s in statuses if s.status.at_risk and not hide(s.objective.product)]
    if not causes:
        return []
    step = index.step(Direction.DOWNSTREAM) if index is not None else None
    if step is None:
        step = sparql_step(store, Direction.DOWNSTREAM)
    if hidden is not None:
        step = readable_step(step, Direction.DOWNSTREAM, hidden, set())
    paths = {p: _paths_downstream(p, step) for p in unique(c.objective.product for c in causes)}
    reached = unique(node for found in paths.values() for node in found)
    serving: dict[str, list[tuple[str, str]]] = defaultdict(list)  # product -> (use case, goal helped)
    for start in range(0, len(reached), 500):
        for row in store.select(with_values(SERVED, reached[start : start + 500])):
            if not hide(str(row["useCase"])):
                serving[str(row["product"])].append((str(row["useCase"]), str(row["goal"])))
    parent_of = {str(row["goal"]): str(row["parent"]) for row in store.select(GOAL_PARENTS)}
    found: dict[str, dict[tuple[str, str], RiskCause]] = defaultdict(dict)
    for status in causes:
        product = status.objective.product
        for node, products in paths[product].items():
            for use_case, helped in sorted(serving.get(node, ())):
                via = [*products, use_case]
                goal: str | None = helped
                seen: set[str] = set()
                while goal is not None and goal not in seen:
                    seen.add(goal)
                    cause = RiskCause(product, status.objective.iri, status.status, tuple(via))
                    known = found[goal].get((product, status.objective.iri))
                    if known is None or len(cause.via) < len(known.via):
                        found[goal][(product, status.objective.iri)] = cause
                    via.append(goal)
                    goal = parent_of.get(goal)
    risks = [
        GoalRisk(goal, sorted(by_cause.values(), key=lambda c: (c.product, c.slo))) for goal, by_cause in found.items()
    ]
    return sorted(risks, key=lambda r: (-SEVERITY[r.status], r.goal))
