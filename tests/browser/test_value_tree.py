"""The article's instruments in a real browser: the Lean Value Tree drawn with the seed's goals and scores, the
prioritization table sorted by clicking its headings, the interaction map drawing what its table lists and redrawn
for the domain chosen. What was drawn is read from the page's cytoscape graphs (window.valuemeshGraphs), not pixels."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import Catalog

GOALS = (
    "Every HCP is engaged with the right content, through the right channel, at the right time",
    "Personalised omnichannel engagement with HCPs",
    "Make every PJP interaction with a HCP count",
    "Better support brand customer interaction",
    "A higher success rate in influencing a HCP",
    "Recommend the next best interaction for every HCP",
)
MARKETING = "https://valuemesh.example/domain/marketing"


def drawn_labels(page: Any, graph: str) -> list[str]:
    page.wait_for_selector(f"#{graph}[data-drawn]")
    # What a person sees: a node cytoscape holds but could not size is not drawn (visible() is false).
    return page.evaluate(  # type: ignore[no-any-return]
        f"window.valuemeshGraphs['{graph}'].nodes().filter(n => n.visible()).map(n => n.data('label'))"
    )


def test_the_value_tree_shows_the_seeds_goals_and_scores(page: Any, live_catalog: Catalog) -> None:
    page.goto(live_catalog.url + "/value-tree")
    assert page.title() == "Lean Value Tree · valuemesh"
    labels = drawn_labels(page, "value-tree-graph")
    for goal in GOALS:
        assert goal in labels
    for use_case in ("Digital customer engagement dashboard (34)", "HCP 360 dashboard (30)", "Next best action (27)"):
        assert use_case in labels
    assert "HCP 360" in labels and "Medical inquiries" not in labels
    # The same tree as text, and the untraced product apart with the article's warning.
    tree = page.locator("ul.tree")
    assert tree.get_by_role("link", name=GOALS[0]).is_visible()
    assert page.get_by_role("heading", name="Untraced products").is_visible()
    assert page.locator("ul.untraced").inner_text().strip() == "Medical inquiries"
    assert "data-lake monsters in the making" in page.locator("main").inner_text()


def test_the_prioritization_table_scores_34_30_27_and_sorts_by_a_clicked_heading(
    page: Any, live_catalog: Catalog
) -> None:
    page.goto(live_catalog.url + "/use-cases")
    scores = page.locator("table.prioritization td.score")
    assert scores.all_inner_texts() == ["34", "30", "27"]
    page.get_by_role("link", name="Reach", exact=True).click()
    page.wait_for_url("**/use-cases?sort=reach&order=desc")
    titles = page.locator("table.prioritization tbody th[scope=row]").all_inner_texts()
    assert titles == ["Digital customer engagement dashboard", "Next best action", "HCP 360 dashboard"]
    assert page.locator("th[aria-sort=descending]").inner_text().startswith("Reach")


def map_table_labels(page: Any) -> set[str]:
    cells = page.locator("table.flows tbody td:not(:last-child) a").all_inner_texts()
    return {cell.strip() for cell in cells}


def test_the_interaction_map_draws_the_nodes_its_table_lists(page: Any, live_catalog: Catalog) -> None:
    page.goto(live_catalog.url + "/interaction-map")
    drawn = drawn_labels(page, "interaction-map-graph")
    assert set(drawn) == map_table_labels(page)
    assert {"CRM", "HCP 360", "Digital customer engagement dashboard", "Marketing Director"} <= set(drawn)
    edges = page.evaluate("window.valuemeshGraphs['interaction-map-graph'].edges().filter(e => e.visible()).length")
    assert edges == page.locator("table.flows tbody tr").count()


def test_choosing_a_domain_redraws_the_map(page: Any, live_catalog: Catalog) -> None:
    page.goto(live_catalog.url + "/interaction-map")
    everything = drawn_labels(page, "interaction-map-graph")
    page.get_by_label("Domain").select_option(MARKETING)
    page.wait_for_url("**/interaction-map?domain=*")  # htmx swapped the map and put the choice in the address
    page.wait_for_function(
        "n => window.valuemeshGraphs['interaction-map-graph'].nodes().length !== n", arg=len(everything)
    )
    narrowed = drawn_labels(page, "interaction-map-graph")
    assert "Web analytics" in narrowed and "Medical inquiries" not in narrowed
    assert len(narrowed) < len(everything)
    assert set(narrowed) == map_table_labels(page)
    assert page.locator("#interaction-map-graph").get_attribute("data-drawn") == str(len(narrowed))
    page.reload()  # the address holds the choice: the page drawn again from it is the same map
    assert sorted(drawn_labels(page, "interaction-map-graph")) == sorted(narrowed)
    assert page.get_by_label("Domain").input_value() == MARKETING
    page.locator("table.flows").get_by_role("link", name="Brand managers").first.click()
    page.wait_for_url("**/agent/brand-managers")
    page.go_back()  # Back returns to the chosen domain's map, drawn
    assert sorted(drawn_labels(page, "interaction-map-graph")) == sorted(narrowed)
