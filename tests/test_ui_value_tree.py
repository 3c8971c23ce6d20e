"""The article's instruments as pages, through real HTTP over the seeded catalog: the Lean Value Tree (`/value-tree`)
and the use-case prioritization table (`/use-cases`); what a caller may not read is absent; markup in the catalog's
names is shown as text on every page of the article's instruments."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from rdflib import Graph, Literal, URIRef

from server.namespaces import VM
from server.settings import Settings
from server.store import Store
from server.web.app import create_app
from server.web.linked_data import CatalogLinks
from server.web.ui import value_tree
from tests.test_access_requests import Catalog
from tests.ui_reading import header_attributes, list_items, picture, table_links, table_rows, text

CAT = "https://valuemesh.example/"
GOALS = (
    "Every HCP is engaged with the right content, through the right channel, at the right time",
    "Personalised omnichannel engagement with HCPs",
    "Make every PJP interaction with a HCP count",
    "Better support brand customer interaction",
    "A higher success rate in influencing a HCP",
    "Recommend the next best interaction for every HCP",
)
ARTICLE_ORDER = [
    ("Digital customer engagement dashboard", "34"),
    ("HCP 360 dashboard", "30"),
    ("Next best action", "27"),
]
COMMERCIAL = CAT + "domain/commercial"
MARKETING = CAT + "domain/marketing"


def use_case_order(page: str) -> list[tuple[str, str]]:
    return [(row[0], row[8]) for row in table_rows(page, "prioritization")]


# --- the Lean Value Tree ---------------------------------------------------------------------------------------


def test_the_value_tree_lists_the_vision_goals_and_use_cases_with_their_scores(client: TestClient) -> None:
    response = client.get("/value-tree")
    assert response.status_code == 200
    said = text(response.text)
    for goal in GOALS:
        assert goal in said
    # Each use case under the goal it helps achieve, with its computed score, then the products serving it.
    assert "A higher success rate in influencing a HCP goal Recommend the next best interaction for every HCP" in said
    assert "use case Next best action score 27 product CRM interactions" in said
    assert "use case HCP 360 dashboard score 30 product CRM interactions" in said
    assert "Better support brand customer interaction use case Digital customer engagement dashboard score 34" in said
    assert 'href="/use-case/hcp-360-dashboard"' in response.text and 'href="/goal/vision"' in response.text


def test_the_value_tree_picture_runs_from_the_vision_down_to_the_products(client: TestClient) -> None:
    graph = picture(client.get("/value-tree").text, "value-tree-data")
    assert graph["direction"] == "TB"
    kinds = {node["label"]: node["kind"] for node in graph["nodes"]}
    assert kinds[GOALS[0]] == "vision"
    assert all(kinds[goal] == "goal" for goal in GOALS[1:])
    assert kinds["HCP 360 dashboard (30)"] == kinds["Digital customer engagement dashboard (34)"] == "use-case"
    assert kinds["HCP 360"] == "product" and "Medical inquiries" not in kinds
    ids = {node["label"]: node["id"] for node in graph["nodes"]}
    edges = {(e["source"], e["target"]) for e in graph["edges"]}
    assert (ids[GOALS[0]], ids[GOALS[1]]) in edges
    assert (ids["Next best action (27)"], ids["Next Best Action"]) in edges
    assert next(n for n in graph["nodes"] if n["label"] == "HCP 360")["href"] == "/data-product/hcp-360"


def test_products_serving_no_goal_are_listed_apart_with_the_articles_warning(client: TestClient) -> None:
    page = client.get("/value-tree").text
    assert ">Untraced products</h2>" in page
    assert "data-lake monsters in the making" in text(page)
    assert list_items(page, "untraced") == ["Medical inquiries"]
    assert 'href="/data-product/medical-inquiries"' in page


def test_a_catalog_without_goals_says_so(settings: Settings, empty_store: Store) -> None:
    with TestClient(create_app(settings, store=empty_store), base_url="http://localhost") as client:
        response = client.get("/value-tree")
    assert response.status_code == 200
    assert "holds no goals yet" in response.text and "Every product traces to a goal." in response.text


# --- the prioritization table ------------------------------------------------------------------------------------


def test_use_cases_are_listed_highest_score_first_as_the_article_scores_them(client: TestClient) -> None:
    page = client.get("/use-cases").text
    assert use_case_order(page) == ARTICLE_ORDER
    hcp = next(row for row in table_rows(page, "prioritization") if row[0] == "HCP 360 dashboard")
    assert hcp[1:9] == ["5", "4", "4", "3", "4", "5", "5", "30"]  # the article's column, criterion by criterion
    headers = [a for a in header_attributes(page, "prioritization")]
    assert headers[8].get("aria-sort") == "descending"
    assert sum("aria-sort" in h for h in headers) == 1


def test_each_use_case_links_to_its_page_and_lists_the_products_serving_it(client: TestClient) -> None:
    page = client.get("/use-cases").text
    rows = {row[0]: row for row in table_rows(page, "prioritization")}
    links = {row[0][0]: row for row in table_links(page, "prioritization")}
    assert links["/use-case/hcp-360-dashboard"][-1] == [
        "/data-product/crm-interactions",
        "/data-product/f2f-meetings",
        "/data-product/hcp-360",
        "/data-product/hcp-master-data",
    ]
    assert rows["HCP 360 dashboard"][-1] == "CRM interactions Face-to-face meetings HCP 360 HCP master data"


@pytest.mark.parametrize(
    ("query", "order"),
    [
        ("sort=reach&order=asc", ["HCP 360 dashboard", "Next best action", "Digital customer engagement dashboard"]),
        ("sort=effort", ["HCP 360 dashboard", "Digital customer engagement dashboard", "Next best action"]),
        ("sort=title", ["Digital customer engagement dashboard", "HCP 360 dashboard", "Next best action"]),
        ("sort=title&order=desc", ["Next best action", "HCP 360 dashboard", "Digital customer engagement dashboard"]),
        ("sort=score&order=asc", ["Next best action", "HCP 360 dashboard", "Digital customer engagement dashboard"]),
    ],
)
def test_sorting_by_another_column_changes_the_order(client: TestClient, query: str, order: list[str]) -> None:
    response = client.get(f"/use-cases?{query}")
    assert response.status_code == 200
    assert [title for title, _ in use_case_order(response.text)] == order


def test_column_headers_sort_by_their_column_and_the_current_one_flips(client: TestClient) -> None:
    page = client.get("/use-cases?sort=reach&order=asc").text
    headers = header_attributes(page, "prioritization")
    assert headers[4].get("aria-sort") == "ascending"
    assert 'href="?sort=reach&amp;order=desc"' in page  # the current column, the other way
    assert 'href="?sort=score&amp;order=desc"' in page  # a number column, highest first
    assert 'href="?sort=title&amp;order=asc"' in page  # the title, A to Z


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("sort=popularity", "The table cannot be sorted by &#39;popularity&#39;: sort by one of title, business-value"),
        ("sort=score&order=up", "The order &#39;up&#39; is neither asc (lowest first) nor desc (highest first)."),
        ("sort=%3Cscript%3E", "sorted by &#39;&lt;script&gt;&#39;"),
    ],
)
def test_an_unknown_sort_is_a_clear_400(client: TestClient, query: str, message: str) -> None:
    response = client.get(f"/use-cases?{query}")
    assert response.status_code == 400
    assert message in response.text
    assert 'role="alert"' in response.text and "<script>" not in response.text


# --- what a caller may not read ---------------------------------------------------------------------------------

CRM = CAT + "data-product/crm-interactions"


@pytest.fixture
def restricted(seeded_store: Store, settings: Settings) -> Iterator[Catalog]:
    """The seed with CRM interactions restricted to Commercial; an outsider from Marketing and a member."""
    app = create_app(settings, store=seeded_store)
    with TestClient(app, base_url="http://localhost") as client:
        record = seeded_store.record(CRM)
        record.add((URIRef(CRM), VM.restricted, Literal(True)))
        app.state.catalog.store.replace_records({CRM: list(record)})
        catalog = Catalog(app, client, seeded_store)
        catalog.person("outsider", "https://example.org/agent/web-team", domains=(MARKETING,))
        catalog.person("member", "https://example.org/agent/commercial-dev", domains=(COMMERCIAL,))
        yield catalog


@pytest.mark.parametrize("path", ["/value-tree", "/use-cases", "/interaction-map", "/overlaps"])
def test_a_restricted_product_is_absent_for_an_outsider_and_present_for_its_domain(
    restricted: Catalog, path: str
) -> None:
    for who, sees in (("outsider", False), (None, False), ("member", True)):
        headers = restricted.headers.get(who, {}) if who else {}
        response = restricted.client.get(path, headers=headers)
        assert response.status_code == 200
        if path == "/overlaps":  # CRM interactions shares no source with another product: HCP 360 stands for it
            continue
        assert ("CRM interactions" in response.text) is sees, (who, path)
        assert ("/data-product/crm-interactions" in response.text) is sees, (who, path)


# --- markup in the catalog is text ------------------------------------------------------------------------------

HOSTILE_PRODUCT = '<script>alert("product")</script>'
HOSTILE_USE_CASE = '"><img src=x onerror=alert(1)>'
HOSTILE_GOAL = "</script><script>alert('goal')</script>"
HOSTILE_TEAM = "<b onmouseover=alert(2)>team</b>"

HOSTILE = f"""
@base <{CAT}> .
@prefix vm: <https://w3id.org/valuemesh/ontology#> .
@prefix dprod: <https://ekgf.github.io/dprod/> .
@prefix dct: <http://purl.org/dc/terms/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix prov: <http://www.w3.org/ns/prov#> .
<data-product/hostile> a dprod:DataProduct ; rdfs:label {HOSTILE_PRODUCT!r} ; dct:description {HOSTILE_USE_CASE!r} ;
    dprod:domain <domain/marketing> ; vm:consumer <agent/hostile> ;
    dprod:inputPort <data-product/hostile/port/in> .
<data-product/hostile/port/in> a vm:InputPort ; rdfs:label {HOSTILE_TEAM!r} ;
    vm:consumes <data-product/hcp-360/port/api> , <data-product/email-campaign-events/port/table> .
"""
HOSTILE_RECORDS = {
    "goal/hostile": f'<goal/hostile> a vm:Goal ; rdfs:label "{HOSTILE_GOAL}" ; vm:subGoalOf <goal/vision> .',
    "use-case/hostile": f"""<use-case/hostile> a vm:UseCase ; rdfs:label '{HOSTILE_USE_CASE}' ;
        vm:helpsAchieve <goal/hostile> ; vm:servedBy <data-product/hostile> ;
        vm:businessValue 1 ; vm:timeCriticality 1 ; vm:riskReduction 1 ; vm:reach 1 ; vm:impact 1 ;
        vm:confidence 1 ; vm:effort 1 .""",
    "agent/hostile": f'<agent/hostile> a prov:Agent ; rdfs:label "{HOSTILE_TEAM}" .',
}


def _records() -> dict[str, list[tuple[object, object, object]]]:
    prefixes = HOSTILE.split("<data-product/hostile> a")[0]
    records = {CAT + "data-product/hostile": HOSTILE}
    records.update({CAT + name: prefixes + body for name, body in HOSTILE_RECORDS.items()})
    return {iri: list(Graph().parse(data=turtle, format="turtle")) for iri, turtle in records.items()}


@pytest.mark.parametrize(
    "path", ["/value-tree", "/use-cases", "/interaction-map", f"/interaction-map?domain={MARKETING}", "/overlaps"]
)
def test_markup_in_names_is_shown_as_text_on_every_page(client: TestClient, path: str) -> None:
    client.app.state.catalog.store.replace_records(_records())  # type: ignore[attr-defined]
    response = client.get(path)
    assert response.status_code == 200
    page = response.text
    for hostile in (HOSTILE_PRODUCT, HOSTILE_USE_CASE, HOSTILE_GOAL, HOSTILE_TEAM):
        assert hostile not in page
    assert "<img" not in page and "<b " not in page
    assert page.count("<script") == page.count("</script>")
    assert "<script>" not in page  # every script of the page is a file or a JSON block
    shown = text(page)
    expected = {"/use-cases": [HOSTILE_USE_CASE, HOSTILE_PRODUCT], "/overlaps": [HOSTILE_PRODUCT]}
    for hostile in expected.get(path.split("?")[0], [HOSTILE_PRODUCT, HOSTILE_USE_CASE, HOSTILE_GOAL]):
        if path.startswith("/interaction-map") and hostile == HOSTILE_GOAL:
            continue  # goals are not on the map
        assert hostile in shown, (path, hostile)


def test_a_use_case_naming_no_goal_is_listed_apart_and_its_products_are_untraced(client: TestClient) -> None:
    orphan = f"""@prefix vm: <https://w3id.org/valuemesh/ontology#> .
        @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
        <{CAT}use-case/churn> a vm:UseCase ; rdfs:label "Churn alerts" ; vm:servedBy <{CAT}data-product/medical-inquiries> ;
            vm:businessValue 1 ; vm:timeCriticality 1 ; vm:riskReduction 1 ; vm:reach 1 ; vm:impact 1 ;
            vm:confidence 1 ; vm:effort 1 ."""
    client.app.state.catalog.store.replace_records(  # type: ignore[attr-defined]
        {CAT + "use-case/churn": list(Graph().parse(data=orphan, format="turtle"))}
    )
    page = client.get("/value-tree").text
    assert list_items(page, "tree without-goal") == ["use case Churn alerts score 7 product Medical inquiries"]
    assert list_items(page, "untraced") == ["Medical inquiries"]
    assert use_case_order(client.get("/use-cases").text)[-1] == ("Churn alerts", "7")


def test_a_tree_too_big_to_read_is_drawn_without_its_products_which_stay_listed(client: TestClient) -> None:
    tree = value_tree.value_tree(client.app.state.catalog.store, lambda iri: False)  # type: ignore[attr-defined]
    links = CatalogLinks(CAT)
    whole = value_tree.picture(tree, links)
    assert whole["left_out"] == {"product": 0, "use-case": 0} and len(whole["nodes"]) == 6 + 3 + 8
    cut = value_tree.picture(tree, links, max_nodes=10)
    assert cut["left_out"] == {"product": 8, "use-case": 0}
    assert {node["kind"] for node in cut["nodes"]} == {"vision", "goal", "use-case"}
    kept = {node["id"] for node in cut["nodes"]}
    assert all(edge["source"] in kept and edge["target"] in kept for edge in cut["edges"])
    goals_only = value_tree.picture(tree, links, max_nodes=6)
    assert goals_only["left_out"] == {"product": 8, "use-case": 3} and len(goals_only["nodes"]) == 6
    assert value_tree.picture(tree, links, max_nodes=5)["nodes"] == []


def test_a_tree_too_big_to_list_shows_its_goals_and_each_branch_lists_it_whole(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(value_tree, "MAX_LISTED", 1)  # the seed's three use cases are "too many"
    whole = client.get("/value-tree").text
    assert "The tree is too big to list whole" in whole
    assert "HCP 360 dashboard" not in text(whole)  # use cases are left to the branches
    branch_link = "/value-tree?goal=" + quote(CAT + "goal/customer-interaction", safe="")
    assert f'<a class="branch" href="{branch_link}">1 use case</a>' in whole
    assert "Medical inquiries" in text(whole)  # the untraced products are still listed

    branch = client.get(branch_link)
    assert branch.status_code == 200
    assert "<h1>Better support brand customer interaction</h1>" in branch.text
    listed = text(branch.text)
    assert "Digital customer engagement dashboard" in listed and "score 34" in listed
    assert "HCP 360" in listed  # a product serving it
    assert "Untraced products" not in listed


def test_an_unknown_branch_is_a_404_showing_the_whole_tree(client: TestClient) -> None:
    response = client.get("/value-tree?goal=" + quote(CAT + "goal/nowhere", safe=""))
    assert response.status_code == 404
    assert "There is no goal" in response.text and GOALS[0] in text(response.text)
