"""The product page in a real browser: from home to a product, its lineage picture holds what GraphQL's `lineage`
answers, a click on an upstream product opens that product's page, and the depth control deepens the picture."""

from __future__ import annotations

from typing import Any

import httpx

from tests.browser.conftest import Catalog

BASE = "https://valuemesh.example/"
NBA = BASE + "data-product/next-best-action"
HCP_360 = BASE + "data-product/hcp-360"
LINEAGE = """query ($id: ID!, $dir: LineageDirection, $depth: Int) {
  lineage(id: $id, direction: $dir, maxDepth: $depth) { nodes { node { ... on DataProduct { id } ... on DataSource { id } } } } }"""

# The nodes a person sees (visible(): cytoscape drew them), less the focus and the "more" nodes.
DRAWN = (
    "window.valuemeshGraphs['lineage-graph'].nodes()"
    ".filter(n => n.visible() && !['focus', 'more'].includes(n.data('kind')))"
)


def graphql_lineage(catalog: Catalog, iri: str, depth: int) -> set[str]:
    found: set[str] = set()
    for way in ("UPSTREAM", "DOWNSTREAM"):
        answer = httpx.post(
            catalog.url + "/graphql",
            json={"query": LINEAGE, "variables": {"id": iri, "dir": way, "depth": depth}},
            headers=catalog.admin_headers,
        )
        found |= {hop["node"]["id"] for hop in answer.json()["data"]["lineage"]["nodes"]}
    return found


def drawn(page: Any) -> set[str]:
    page.wait_for_selector("#lineage-graph[data-drawn]")
    return set(page.evaluate(f"{DRAWN}.map(n => n.id())"))


def click_node(page: Any, iri: str) -> None:
    """A real mouse click where the picture drew the node."""
    page.locator("#lineage-graph").scroll_into_view_if_needed()
    # Let the scroll event reach cytoscape first: it maps clicks through the container's position it last saw.
    page.evaluate("new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
    x, y = page.evaluate(
        """(iri) => {
          const cy = window.valuemeshGraphs['lineage-graph'];
          const node = cy.getElementById(iri);
          const box = cy.container().getBoundingClientRect();
          const at = node.renderedPosition();
          return [box.left + at.x, box.top + at.y];
        }""",
        iri,
    )
    page.mouse.click(x, y)


def test_from_home_to_a_product_its_lineage_picture_and_on_upstream(page: Any, live_catalog: Catalog) -> None:
    page.goto(live_catalog.url + "/")
    page.get_by_role("link", name="Next Best Action", exact=True).click()
    page.wait_for_url("**/data-product/next-best-action")
    assert page.get_by_role("heading", level=1).inner_text() == "Next Best Action"

    assert drawn(page) == graphql_lineage(live_catalog, NBA, 2)
    kinds = page.evaluate(
        "Object.fromEntries(window.valuemeshGraphs['lineage-graph'].nodes().map(n => [n.id(), n.data('kind')]))"
    )
    assert kinds[NBA] == "focus" and kinds[HCP_360] == "product"
    assert kinds[BASE + "source/email-platform"] == "source"
    labels = page.evaluate(f"{DRAWN}.map(n => n.data('label'))")
    assert "HCP 360" in labels and "CRM interactions" in labels
    # The goal trace is drawn too, with the vision at its top.
    page.wait_for_selector("#trace-graph[data-drawn]")
    assert "vision" in page.evaluate("window.valuemeshGraphs['trace-graph'].nodes().map(n => n.data('kind'))")

    click_node(page, HCP_360)
    page.wait_for_url("**/data-product/hcp-360")
    assert page.get_by_role("heading", level=1).inner_text() == "HCP 360"
    assert drawn(page) == graphql_lineage(live_catalog, HCP_360, 2)


def test_the_depth_control_deepens_the_picture_in_place(page: Any, live_catalog: Catalog) -> None:
    page.goto(live_catalog.url + "/data-product/next-best-action")
    assert drawn(page) == graphql_lineage(live_catalog, NBA, 2)
    assert page.get_by_text("The lineage goes on beyond depth 2.").is_visible()
    page.evaluate("window.beforeSwap = true")  # gone if the whole page were loaded again

    page.get_by_label("Depth: steps each way").fill("3")
    page.get_by_role("button", name="Show lineage").click()
    page.wait_for_url(
        "**/data-product/next-best-action?depth=3"
    )  # htmx put the deeper picture's address in the location bar
    deeper = len(graphql_lineage(live_catalog, NBA, 3))
    page.wait_for_function(
        f"() => window.valuemeshGraphs['lineage-graph'].container().isConnected && {DRAWN}.length === {deeper}"
    )
    assert drawn(page) == graphql_lineage(live_catalog, NBA, 3)
    assert page.evaluate("window.beforeSwap") is True  # htmx swapped the lineage section only
    assert page.get_by_text("The lineage goes on").count() == 0  # depth 3 reaches the data sources

    # The "more" node of a cut picture leads one level deeper.
    page.goto(live_catalog.url + "/data-product/next-best-action?depth=1")
    assert drawn(page) == graphql_lineage(live_catalog, NBA, 1)
    click_node(page, "more-upstream")
    page.wait_for_url("**/data-product/next-best-action?depth=2*")
    assert drawn(page) == graphql_lineage(live_catalog, NBA, 2)
