"""Goals at risk: a product whose SLO budget is at risk or spent endangers every product downstream of it
(lineage), the use cases any of those serve, and every goal those use cases help achieve, up to the vision.

Each goal comes with its causes (product, SLO, status) and, per cause, the shortest path that explains it (`via`:
the downstream products, the use case, the sub-goals between them and the goal). The downstream walk is the
catalog's own (server/catalog/lineage.py `walk`, on the lineage index when it is ready); the goal side is the goal
trace's path (`vm:servedBy`, then `vm:helpsAchieve/vm:subGoalOf*`, server/catalog/goal_trace.py), asked for all
reached products at once with each step kept, since `via` must name the sub-goals passed.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from server.catalog.lineage import Direction, EdgeSource, Step, readable_step, sparql_step, walk
from server.catalog.nodes import select_texts, unique
from server.namespaces import VM, sparql_prefixes
from server.observations.budgets import SEVERITY, BudgetStatus, SloStatus
from server.store.base import Store

# The whole catalog's links from products to goals, as one question (the reference `LinkFacts` is tested equal to):
# scans are cheaper at 10k products than asking for the thousands of products a spent budget reaches by VALUES
# (bench/bench_measurements.py); the catalog reads them once and then follows writes (measurements.Definitions).
SERVED = (
    sparql_prefixes() + "SELECT ?product ?useCase ?goal WHERE { ?useCase vm:servedBy ?product ; vm:helpsAchieve ?goal }"
)
GOAL_PARENTS = sparql_prefixes() + "SELECT ?goal ?parent WHERE { ?goal vm:subGoalOf ?parent }"


@dataclass(frozen=True)
class GoalLinks:
    """Which use cases serve each product (with the goal each helps achieve), and each goal's parent."""

    serving: dict[str, list[tuple[str, str]]]
    parent_of: dict[str, str]


# What the links are made of, one predicate at a time (each a scan of one predicate), or for chosen nodes.
LINK_SCANS = {
    "servedBy": sparql_prefixes() + "SELECT ?node ?value WHERE { ?node vm:servedBy ?value }",
    "helpsAchieve": sparql_prefixes() + "SELECT ?node ?value WHERE { ?node vm:helpsAchieve ?value }",
    "subGoalOf": sparql_prefixes() + "SELECT ?node ?value WHERE { ?node vm:subGoalOf ?value }",
}
LINK_FACTS_OF = (
    sparql_prefixes()
    + """SELECT ?node ?predicate ?value WHERE {
  VALUES ?node { $nodes }
  VALUES ?predicate { vm:servedBy vm:helpsAchieve vm:subGoalOf }
  ?node ?predicate ?value
}"""
)
_LOCAL = {str(VM[name]): name for name in LINK_SCANS}


class LinkFacts:
    """The facts goal links are made of (what each use case serves and helps achieve, each goal's parents), read
    once and then only for the nodes writes touch (`reread`), with the links derived from them kept current: a
    use case written changes the products it served and serves, not the whole catalog's links. Not thread-safe:
    measurements.Definitions holds it under its lock and hands out the `links` it derives, which are never
    changed after."""

    def __init__(self, store: Store) -> None:
        self.facts: dict[str, dict[str, set[str]]] = {name: defaultdict(set) for name in LINK_SCANS}
        for name, query in LINK_SCANS.items():
            for node, value in select_texts(store, query):
                self.facts[name][node].add(value)
        self.serves: dict[str, set[str]] = defaultdict(set)  # product -> the use cases it serves
        for use_case, products in self.facts["servedBy"].items():
            for product in products:
                self.serves[product].add(use_case)
        serving = {p: self._serving(p) for p in self.serves}
        self.links = GoalLinks(
            {p: pairs for p, pairs in serving.items() if pairs},
            {goal: self._parent(goal) for goal in self.facts["subGoalOf"]},
        )

    def _serving(self, product: str) -> list[tuple[str, str]]:
        helps = self.facts["helpsAchieve"]
        return sorted((uc, goal) for uc in self.serves.get(product, ()) for goal in helps.get(uc, ()))

    def _parent(self, goal: str) -> str:
        # A goal under two parents (the checklist does not forbid it) is walked up through the first, in IRI order.
        return min(self.facts["subGoalOf"][goal])

    def knows(self, node: str) -> bool:
        return any(node in by_node for by_node in self.facts.values())

    def reread(self, store: Store, nodes: Iterable[str]) -> set[str] | None:
        """Read the link facts of `nodes` afresh (a write changed what they state) and derive the links again where
        they changed; the products whose use cases may have changed (None: the goal tree may have)."""
        asked = unique(nodes)
        if not asked:
            return set()
        goals = any(node in self.facts["subGoalOf"] for node in asked)
        products: set[str] = set()
        for node in asked:
            products |= self.facts["servedBy"].get(node, set())
            for by_node in self.facts.values():
                by_node.pop(node, None)
        for node, predicate, value in select_texts(store, LINK_FACTS_OF, asked):
            self.facts[_LOCAL[predicate]][node].add(value)
        for node in asked:
            products |= self.facts["servedBy"].get(node, set())
        for product in products:
            self.serves[product].difference_update(asked)
        for node in asked:
            for product in self.facts["servedBy"].get(node, ()):
                self.serves[product].add(node)
        serving = dict(self.links.serving)
        for product in products:
            pairs = self._serving(product)
            if pairs:
                serving[product] = pairs
            else:
                serving.pop(product, None)
        parent_of = dict(self.links.parent_of)
        for node in asked:
            if node in self.facts["subGoalOf"]:
                parent_of[node] = self._parent(node)
            else:
                parent_of.pop(node, None)
        self.links = GoalLinks(serving, parent_of)
        return None if goals or any(node in self.facts["subGoalOf"] for node in asked) else products


def goal_links(store: Store) -> GoalLinks:
    serving: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for product, use_case, goal in select_texts(store, SERVED):
        serving[product].append((use_case, goal))
    # A goal under two parents (the checklist does not forbid it) is walked up through the first, in IRI order.
    parent_of = {goal: parent for goal, parent in sorted(select_texts(store, GOAL_PARENTS), reverse=True)}
    return GoalLinks({product: sorted(found) for product, found in serving.items()}, parent_of)


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


def _shortest_vias(
    paths: dict[str, list[str]], links: GoalLinks, hide: Callable[[str], bool]
) -> dict[str, tuple[str, ...]]:
    """Each goal the products of `paths` lead to, with the shortest way there (products, use case, sub-goals)."""
    best: dict[str, tuple[str, ...]] = {}
    for node, products in paths.items():
        for use_case, helped in links.serving.get(node, ()):
            if hide(use_case):
                continue
            via = (*products, use_case)
            goal: str | None = helped
            seen: set[str] = set()
            while goal is not None and goal not in seen:
                seen.add(goal)
                known = best.get(goal)
                if known is None or len(via) < len(known) or (len(via) == len(known) and via < known):
                    best[goal] = via
                via = (*via, goal)
                goal = links.parent_of.get(goal)
    return best


class Reaches:
    """Each product's goals within reach downstream (with the shortest `via` to each), remembered between questions:
    at 100k products with 571 products' budgets at risk, walking from each took about a second a question, while
    what a product reaches changes only with the catalog. Thread-safe.

    A product's reach depends on the lineage below it and on the goal links of the products there. So a write of
    records `C` forgets the reach of every product that reached one of `C` (its walk passed there), and of every
    product upstream of `C` as the lineage stands after the write (`forget(C, sources)`: a new input port makes its
    sources reach further); changed links forget the reach of the products that reached a product whose use cases
    changed (LinkFacts.reread says which), and a changed goal tree forgets all. Its owner
    (measurements.Measurements) does the forgetting before asking."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[str, tuple[frozenset[str], dict[str, tuple[str, ...]]]] = {}
        self._links: GoalLinks | None = None
        self._generation = 0  # counts forgetting, so that a walk that overlapped one is not kept
        self.version = 0  # counts changes to what is remembered, so that answers made from it can be reused

    def forget(self, products: set[str]) -> None:
        """Forget the reach of `products` and of every product whose walk passed one of them."""
        if not products:
            return
        with self._lock:
            self._generation += 1
            for product, (passed, _) in list(self._known.items()):
                if product in products or not passed.isdisjoint(products):
                    del self._known[product]
                    self.version += 1

    def forget_all(self) -> None:
        with self._lock:
            self._generation += 1
            self.version += 1
            self._known.clear()
            self._links = None

    def _follow(self, links: GoalLinks) -> None:
        """Links other than those the remembered reaches were made with (under the lock): what they change was
        forgotten by the owner, told by the links' reader which products' use cases changed (`forget`); a walk
        that overlapped the change is not kept."""
        if self._links is not links:
            self._links = links
            self._generation += 1
            self.version += 1

    def of(self, products: list[str], step: Step, links: GoalLinks) -> dict[str, dict[str, tuple[str, ...]]]:
        """Each product's goals within reach, walking only from those not remembered."""
        with self._lock:
            self._follow(links)
            generation = self._generation
            found = {p: self._known[p][1] for p in products if p in self._known}
        for product in products:
            if product not in found:
                paths = _paths_downstream(product, step)
                found[product] = _shortest_vias(paths, links, lambda _: False)
                with self._lock:
                    if self._links is links and self._generation == generation:
                        self._known[product] = (frozenset(paths), found[product])
        return found


def goals_at_risk(
    store: Store,
    statuses: Iterable[SloStatus],
    *,
    links: GoalLinks | None = None,
    index: EdgeSource | None = None,
    hidden: Callable[[str], bool] | None = None,
    remembered: Reaches | None = None,
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
    found_links = links if links is not None else goal_links(store)
    products = unique(c.objective.product for c in causes)
    if remembered is not None and hidden is None:
        reaches = remembered.of(products, step, found_links)
    else:
        paths = {p: _paths_downstream(p, step) for p in products}
        reaches = {product: _shortest_vias(found_paths, found_links, hide) for product, found_paths in paths.items()}
    found: dict[str, list[RiskCause]] = defaultdict(list)
    for status in sorted(causes, key=lambda s: (s.objective.product, s.objective.iri)):
        product = status.objective.product
        for goal, via in reaches[product].items():
            found[goal].append(RiskCause(product, status.objective.iri, status.status, via))
    risks = [GoalRisk(goal, found_causes) for goal, found_causes in found.items()]
    return sorted(risks, key=lambda r: (-SEVERITY[r.status], r.goal))
