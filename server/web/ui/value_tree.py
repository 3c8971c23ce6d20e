"""The Lean Value Tree `/value-tree`: vision → goals → sub-goals → use cases (with their score) → the products
serving them, as a nested list and as a picture; products serving no goal are listed apart.

The tree is read with the functions GraphQL's `goals`, `Goal.children`, `Goal.useCases`, `UseCase.dataProducts` and
`untracedDataProducts` call, in one worker-thread turn: a level of the tree is one batched question, as GraphQL's
loaders ask it.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from server.catalog import goal_trace, goals, nodes, products, use_cases
from server.catalog.lineage_index import LineageIndex
from server.namespaces import VM
from server.store.base import Store
from server.web.linked_data import CatalogLinks
from server.web.ui.context import catalog_of, visibility_of
from server.web.ui.templating import render

router = APIRouter()
MAX_DRAWN = 400  # nodes: a bigger tree is drawn without its products, which stay listed as text
# Use cases the whole tree lists with their products; a bigger catalog's tree lists its goals, each with how many use
# cases help achieve it and a link to its own branch (`/value-tree?goal=`), where they are listed in full.
MAX_LISTED = 300


@dataclass(frozen=True)
class ProductRef:
    iri: str
    name: str


@dataclass
class UseCaseNode:
    iri: str
    title: str
    score: int | None
    products: list[ProductRef] = field(default_factory=list)


@dataclass
class GoalNode:
    iri: str
    title: str
    children: list[GoalNode] = field(default_factory=list)
    use_cases: list[UseCaseNode] = field(default_factory=list)
    use_case_count: int = 0  # how many help achieve it directly (listed in `use_cases` unless the tree is summarised)


@dataclass
class ValueTree:
    roots: list[GoalNode]
    untraced: list[ProductRef]
    without_goal: list[UseCaseNode] = field(default_factory=list)  # use cases that name no goal of the tree
    summarised: bool = False  # too big to list whole: goals only, each linking to its branch
    branch: GoalNode | None = None  # the goal whose branch this is (`?goal=`), None for the whole tree


def by_score(use_case: UseCaseNode) -> tuple[int, str]:
    """Highest score first (a use case missing a criterion has none and comes last), then by title."""
    return (-(use_case.score if use_case.score is not None else -1), use_case.title.casefold())


def named_products(
    store: Store, iris: list[str], hidden: Callable[[str], bool], index: LineageIndex | None = None
) -> dict[str, ProductRef]:
    """The products among `iris` the caller may read, by IRI, with their names: from the lineage index when it is
    ready (it knows every product and its name; a name is all these pages show), else as GraphQL reads products."""
    readable = [iri for iri in iris if not hidden(iri)]
    listing = index.products() if index is not None else None
    if listing is None or index is None:
        rows = products.products_by_iri(store, readable)
        return {iri: ProductRef(iri, row.name) for iri, row in rows.items() if row is not None}
    present = [iri for iri in readable if _listed(listing, iri)]
    names = index.names(present)
    unnamed = [iri for iri in present if iri not in names]
    names.update({iri: name for iri, name in nodes.labels(store, unnamed).items() if name is not None})
    return {iri: ProductRef(iri, names.get(iri) or iri.rsplit("/", 1)[-1]) for iri in present}


def _listed(ordered: list[str], iri: str) -> bool:
    at = bisect.bisect_left(ordered, iri)
    return at < len(ordered) and ordered[at] == iri


def untraced(store: Store, hidden: Callable[[str], bool]) -> list[str]:
    """GraphQL's `untracedDataProducts`: products serving no use case that helps achieve a goal (readable ones)."""
    return [iri for iri in goal_trace.untraced_products(store) if not hidden(iri)]


def _use_case_nodes(store: Store, iris: list[str]) -> dict[str, UseCaseNode]:
    found = use_cases.use_cases_by_iri(store, iris)
    return {
        iri: UseCaseNode(row.iri, row.title, row.prioritization.score if row.prioritization is not None else None)
        for iri, row in found.items()
        if row is not None
    }


def value_tree(
    store: Store,
    hidden: Callable[[str], bool],
    index: LineageIndex | None = None,
    branch: str | None = None,
    max_listed: int | None = None,
) -> ValueTree | None:
    """The whole tree from its roots, or the branch under the goal `branch` (None when it is no goal); a goal reached
    twice (a cycle of `vm:subGoalOf`) is drawn once. A whole tree with more than `max_listed` use cases is summarised:
    its goals with how many use cases each has, without the use cases and their products."""
    if branch is not None:
        found = goals.goals_by_iri(store, [branch])
    else:
        found = goals.goals_by_iri(store, goals.root_goals(store))
    roots = [GoalNode(row.iri, row.title) for row in found.values() if row is not None]
    if branch is not None and not roots:
        return None
    seen = {goal.iri for goal in roots}
    by_iri = {goal.iri: goal for goal in roots}
    level = roots
    helped_by: dict[str, list[str]] = {}
    while level:
        iris = [goal.iri for goal in level]
        children = nodes.related(store, iris, VM.subGoalOf, inverse=True)
        helped_by.update(nodes.related(store, iris, VM.helpsAchieve, inverse=True))
        child_rows = goals.goals_by_iri(store, sorted({c for cs in children.values() for c in cs} - seen))
        next_level: list[GoalNode] = []
        for goal in level:
            for child in children[goal.iri]:
                row = child_rows.get(child)
                if row is None or child in seen:
                    continue
                seen.add(child)
                node = GoalNode(row.iri, row.title)
                by_iri[child] = node
                goal.children.append(node)
                next_level.append(node)
            goal.children.sort(key=lambda g: g.title.casefold())
            goal.use_case_count = len(helped_by[goal.iri])
        level = next_level
    placed = sorted({u for us in helped_by.values() for u in us})
    summarised = branch is None and len(placed) > (MAX_LISTED if max_listed is None else max_listed)
    cases = {} if summarised else _use_case_nodes(store, placed)
    all_use_cases: list[UseCaseNode] = []
    for goal_iri, helped in helped_by.items():
        goal_node = by_iri[goal_iri]
        goal_node.use_cases = sorted((cases[iri] for iri in helped if iri in cases), key=by_score)
        all_use_cases.extend(goal_node.use_cases)
    without_goal: list[UseCaseNode] = []
    if branch is None:
        placed_set = set(placed)  # sorted by score below: no need to have the store score them all
        unplaced = [iri for iri in use_cases.all_use_cases(store) if iri not in placed_set]
        without_goal = sorted(_use_case_nodes(store, unplaced).values(), key=by_score)
        all_use_cases.extend(without_goal)
    served = nodes.related(store, sorted({u.iri for u in all_use_cases}), VM.servedBy)
    named = named_products(store, sorted({p for ps in served.values() for p in ps}), hidden, index)
    for use_case in all_use_cases:
        use_case.products = sorted(
            (named[p] for p in served.get(use_case.iri, []) if p in named), key=lambda p: p.name.casefold()
        )
    untraced_ = named_products(store, untraced(store, hidden), hidden, index) if branch is None else {}
    return ValueTree(
        roots,
        sorted(untraced_.values(), key=lambda p: p.name.casefold()),
        without_goal,
        summarised=summarised,
        branch=roots[0] if branch is not None else None,
    )


def graph_node(links: CatalogLinks, iri: str, label: str, kind: str) -> dict[str, Any]:
    """A node of a picture; one with a page of this server (or another web page) goes there when clicked."""
    node = {"id": iri, "label": label, "kind": kind}
    href = links.local_href(iri)
    if href is not None:
        node["href"] = href
    return node


def picture(tree: ValueTree, links: CatalogLinks, max_nodes: int = MAX_DRAWN) -> dict[str, Any]:
    """The tree as graph.js draws it, top to bottom; a product serving several use cases is one node. A tree of more
    than `max_nodes` is drawn without its products, then without its use cases (`left_out` counts them by kind; the
    list on the page has them all); one of only goals still bigger is not drawn."""
    graph_nodes: dict[str, dict[str, Any]] = {}
    edges: dict[tuple[str, str], dict[str, str]] = {}

    def add(iri: str, label: str, kind: str) -> None:
        graph_nodes.setdefault(iri, graph_node(links, iri, label, kind))

    def link(source: str, target: str) -> None:
        edges.setdefault((source, target), {"source": source, "target": target, "label": ""})

    def walk(goal: GoalNode, kind: str) -> None:
        add(goal.iri, goal.title, kind)
        for child in goal.children:
            walk(child, "goal")
            link(goal.iri, child.iri)
        for use_case in goal.use_cases:
            score = f" ({use_case.score})" if use_case.score is not None else ""
            add(use_case.iri, use_case.title + score, "use-case")
            link(goal.iri, use_case.iri)
            for product in use_case.products:
                add(product.iri, product.name, "product")
                link(use_case.iri, product.iri)

    for root in tree.roots:
        walk(root, "goal" if tree.branch is not None else "vision")
    # Too many nodes to read (or to lay out quickly): leave out the products, then the use cases, then everything.
    drawn = list(graph_nodes.values())
    left_out = {"product": 0, "use-case": 0}
    for kind in left_out:
        if len(drawn) <= max_nodes:
            break
        left_out[kind] = sum(1 for node in drawn if node["kind"] == kind)
        drawn = [node for node in drawn if node["kind"] != kind]
    if len(drawn) > max_nodes:
        drawn = []
    kept = {node["id"] for node in drawn}
    return {
        "nodes": drawn,
        "edges": [e for e in edges.values() if e["source"] in kept and e["target"] in kept],
        "direction": "TB",
        "left_out": left_out,
    }


@router.get("/value-tree", response_class=HTMLResponse)
async def value_tree_page(request: Request, goal: str | None = None) -> HTMLResponse:
    catalog = catalog_of(request)
    visibility = await visibility_of(request)
    tree = await catalog.run(value_tree, catalog.store, visibility.hidden, catalog.index, goal or None)
    if tree is None:
        error = f"There is no goal {goal!r} in the catalog: here is the whole tree."
        tree = await catalog.run(value_tree, catalog.store, visibility.hidden, catalog.index)
        assert tree is not None
        graph = picture(tree, CatalogLinks(request.app.state.settings.base))
        return render(request, "value_tree.html", status_code=404, tree=tree, graph=graph, error=error)
    graph = picture(tree, CatalogLinks(request.app.state.settings.base))
    return render(request, "value_tree.html", tree=tree, graph=graph, error=None)
