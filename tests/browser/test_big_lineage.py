"""A big lineage in a real browser: past 60 nodes graph.js places the picture's columns itself and fits the view
from those places (bench/bench_lineage_picture.py says why). Every node GraphQL's `lineage` answers is drawn, all of
them inside the first view, data sources drawn apart from products, and a click on a node opens that node's page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bench.generate import build_store
from server.catalog.lineage import Direction, lineage
from server.catalog.lineage_index import LineageIndex
from server.settings import Settings
from server.web.app import create_app
from tests.browser.conftest import Catalog
from tests.browser.test_product import DRAWN, click_node, drawn, graphql_lineage
from tests.conftest import admin_token, free_port, serving

PRODUCTS = 300  # the generator's biggest lineage at this size holds about 170 nodes
DEPTH = 20


@pytest.fixture(scope="module")
def big_lineage() -> Iterator[tuple[Catalog, str]]:
    """A synthetic catalog served on loopback, and its product with the biggest lineage."""
    store = build_store(PRODUCTS, 7)
    index = LineageIndex(store)
    root = max(
        index.products() or [],
        key=lambda p: sum(len(lineage(store, p, d, DEPTH, index=index).nodes) for d in Direction),
    )
    app = create_app(Settings(store="memory:", seed=False), store=store)
    with serving(app, free_port()) as url:
        yield Catalog(url=url, app=app, admin_headers=admin_token(app)), root


def test_a_big_lineage_is_drawn_whole_in_the_first_view_and_clicks_through(
    page: Any, big_lineage: tuple[Catalog, str]
) -> None:
    catalog, root = big_lineage
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(catalog.url + "/" + root.split("/", 3)[3] + f"?depth={DEPTH}")
    expected = graphql_lineage(catalog, root, DEPTH)
    assert len(expected) > 60  # the picture graph.js lays out by rank, not dagre's
    assert drawn(page) == expected

    outside = page.evaluate(
        """() => {
          const cy = window.valuemeshGraphs['lineage-graph'], view = cy.extent();
          return cy.nodes().filter(n => {
            const box = n.boundingBox();
            return box.x1 < view.x1 || box.x2 > view.x2 || box.y1 < view.y1 || box.y2 > view.y2;
          }).map(n => n.id());
        }"""
    )
    assert outside == []
    shapes = page.evaluate(
        "Object.fromEntries(window.valuemeshGraphs['lineage-graph'].nodes().map(n => [n.data('kind'), n.style('shape')]))"
    )
    assert shapes["source"] != shapes["product"]

    product, name = page.evaluate(
        f"{DRAWN}.filter(n => n.data('kind') === 'product').map(n => [n.id(), n.data('label')])"
    )[0]
    click_node(page, product)
    page.wait_for_url(catalog.url + "/" + product.split("/", 3)[3])
    assert page.get_by_role("heading", level=1).inner_text() == name
