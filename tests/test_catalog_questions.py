"""The catalog's questions on a generated catalog, checked against the plan it was generated from."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rdflib import Graph, URIRef

from bench.generate import CatalogPlan, build_store, plan_catalog
from server.catalog import goal_trace, lineage, overlaps
from server.namespaces import DPROD, VM
from server.store import MemoryStore, Store

N, SEED = 300, 11


@pytest.fixture(scope="module")
def plan() -> CatalogPlan:
    return plan_catalog(N, SEED)


@pytest.fixture(scope="module")
def store() -> Iterator[Store]:
    generated = build_store(N, SEED)
    yield generated
    generated.close()


def bfs_upstream(plan: CatalogPlan, root: str) -> dict[str, int]:
    """The expected answer, from the plan: products by smallest depth (sources left out)."""
    depth = {root: 0}
    frontier = [root]
    while frontier:
        following = []
        for node in frontier:
            for up in plan.upstream[node]:
                if up not in depth:
                    depth[up] = depth[node] + 1
                    following.append(up)
        frontier = following
    del depth[root]
    return depth


def test_upstream_lineage_matches_the_plan_and_both_formulations_agree(plan: CatalogPlan, store: Store) -> None:
    for root in plan.products_at_depth(plan.max_depth)[:5] + plan.products_at_depth(3)[:5]:
        walked = lineage.lineage(store, root)
        products = {n.iri: n.depth for n in walked.nodes if n.is_product}
        assert products == bfs_upstream(plan, root)
        sources = {n.iri for n in walked.nodes if not n.is_product}
        assert sources and sources <= set(plan.sources)
        closure = lineage.lineage_by_closure(store, root)
        assert closure.nodes == walked.nodes
        assert closure.edges == walked.edges


def test_downstream_is_the_reverse_of_upstream(plan: CatalogPlan, store: Store) -> None:
    deepest = plan.products_at_depth(plan.max_depth)[0]
    root = max(bfs_upstream(plan, deepest).items(), key=lambda item: item[1])[0]  # a layer-0 product it uses
    impact = lineage.lineage(store, root, lineage.Direction.DOWNSTREAM)
    assert deepest in {n.iri for n in impact.nodes}
    for node in impact.nodes[:20]:
        assert root in {n.iri for n in lineage.lineage(store, node.iri).nodes}


def test_max_depth_keeps_only_nodes_within_it(plan: CatalogPlan, store: Store) -> None:
    root = plan.products_at_depth(plan.max_depth)[0]
    bounded = lineage.lineage(store, root, max_depth=2)
    assert {n.depth for n in bounded.nodes} == {1, 2}
    reached = {n.iri for n in bounded.nodes} | {root}
    assert all(s in reached and t in reached for s, t in bounded.edges)


def test_cycles_are_harmless() -> None:
    store = MemoryStore()
    records = {}
    for name, feeds_on in (("a", "b"), ("b", "a")):
        iri = f"https://valuemesh.example/data-product/{name}"
        g = Graph(identifier=iri)
        g.add((URIRef(iri), DPROD.inputPort, URIRef(iri + "/port/in")))
        g.add((URIRef(iri), DPROD.outputPort, URIRef(iri + "/port/out")))
        g.add((URIRef(iri), URIRef("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"), DPROD.DataProduct))
        g.add(
            (
                URIRef(iri + "/port/in"),
                VM.consumes,
                URIRef(f"https://valuemesh.example/data-product/{feeds_on}/port/out"),
            )
        )
        records[iri] = g
    store.replace_records(records)
    a, b = "https://valuemesh.example/data-product/a", "https://valuemesh.example/data-product/b"
    up = lineage.lineage(store, a)
    assert [(n.iri, n.depth) for n in up.nodes] == [(b, 1)]
    assert set(up.edges) == {(b, a), (a, b)}
    down = lineage.lineage(store, a, lineage.Direction.DOWNSTREAM)
    assert [(n.iri, n.depth) for n in down.nodes] == [(b, 1)]


def test_planted_overlap_pairs_share_all_their_sources(plan: CatalogPlan, store: Store) -> None:
    found = {(o.left, o.right): o for o in overlaps.overlaps(store).pairs}
    for left, right in plan.overlap_pairs:
        pair = found[tuple(sorted((left, right)))]  # type: ignore[index]
        assert pair.jaccard == 1.0


def test_goal_traces_match_the_plan_and_both_formulations_agree(plan: CatalogPlan, store: Store) -> None:
    traced = [p.iri for p in plan.products if plan.use_cases_of[p.iri]][:10]
    for product in traced:
        trace = goal_trace.goal_trace(store, product)
        assert trace.use_cases == sorted(set(plan.use_cases_of[product]))
        expected: set[str] = set()
        for use_case in trace.use_cases:
            goal: str | None = plan.goal_of[use_case]
            while goal is not None:
                expected.add(goal)
                goal = plan.parent_goal[goal]
        assert set(trace.goals) == expected
        assert goal_trace.goal_trace(store, product, goal_trace.GOAL_TRACE_FROM_GOALS) == trace


def test_untraced_products_match_the_plan(plan: CatalogPlan, store: Store) -> None:
    assert goal_trace.untraced_products(store) == sorted(plan.untraced)


def test_overlaps_with_one_product_equal_the_pairs_of_the_whole_catalog_involving_it(
    plan: CatalogPlan, store: Store
) -> None:
    everything = overlaps.overlaps(store).pairs
    for left, _ in plan.overlap_pairs[:5]:
        expected = [o for o in everything if left in (o.left, o.right)]
        assert overlaps.overlaps_with(store, left).pairs == expected


def test_pages_cut_here_equal_pages_cut_by_a_sparql_server(store: Store) -> None:
    """The embedded store's pages are cut in Python, a remote server's by ORDER BY/LIMIT: the same pages."""
    from server.catalog.products import page_of_products

    def pages(location: str) -> list[list[str]]:
        original, store.location = store.location, location
        try:
            found, after = [], None
            while True:
                page = page_of_products(store, first=70, after=after, type_=str(VM.ConsumerOriented))
                found.append(page.iris)
                if not page.has_next:
                    return found
                after = page.iris[-1]
        finally:
            store.location = original

    here = pages("memory:")
    assert here == pages("sparql+http://127.0.0.1:7878/query")
    assert len(here) > 2


def test_a_list_longer_than_one_question_takes_is_answered_whole(plan: CatalogPlan, store: Store) -> None:
    # Lists of nodes are asked CHUNK at a time (nodes.select_each); a long list is answered as a short one would be.
    from server.catalog import nodes, products

    unknown = [f"https://valuemesh.example/data-product/not-there-{i}" for i in range(2 * nodes.CHUNK)]
    known = [p.iri for p in plan.products]
    asked = unknown[: nodes.CHUNK - 1] + known + unknown[nodes.CHUNK - 1 :]
    rows = products.products_by_iri(store, asked)
    assert list(rows) == asked
    assert {iri: row.name for iri, row in rows.items() if row is not None} == {p.iri: p.name for p in plan.products}
    names = nodes.labels(store, asked)
    assert all(names[iri] for iri in known) and not any(names[iri] for iri in unknown)
