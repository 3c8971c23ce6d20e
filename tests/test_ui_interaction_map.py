"""The interaction map (`/interaction-map`) and the merge candidates (`/overlaps`), through real HTTP over the seed:
the flows the model states, drawn and listed alike; a domain narrows the map, with htmx or without it; the overlap
the seed plants, with what the two products share."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from rdflib import Graph, Literal, URIRef

from server.namespaces import VM
from tests.test_ui_value_tree import CAT, MARKETING, Catalog, restricted  # noqa: F401 (a fixture)
from tests.ui_reading import picture, table_links, table_rows, text

MEDICAL = CAT + "domain/medical-affairs"


def flows(page: str) -> set[tuple[str, str, str]]:
    return {(row[0], row[1], row[2]) for row in table_rows(page, "flows")}


def listed_nodes(page: str) -> set[str]:
    return {href for row in table_links(page, "flows") for cell in row[:2] for href in cell}


def test_the_map_draws_sources_products_and_their_consumers_with_the_flows_between_them(client: TestClient) -> None:
    response = client.get("/interaction-map")
    assert response.status_code == 200
    found = flows(response.text)
    # Into products: what an input port consumes (a data source, or another product's output port) ...
    assert ("data source CRM", "data product CRM interactions (Commercial)", "input port CRM nightly extract") in found
    assert any(
        f[:2] == ("data product HCP 360 (Commercial)", "data product Digital Engagement (Commercial)") for f in found
    )
    # ... and out to the use cases they serve and the teams named as their consumers.
    assert (
        "data product Digital Engagement (Commercial)",
        "use case Digital customer engagement dashboard",
        "serves the use case",
    ) in found
    assert ("data product HCP 360 (Commercial)", "team PJP (patient journey partner)", "named consumer") in found
    assert any(a.startswith("data product Medical inquiries") for a, _, _ in found)


def test_the_picture_holds_the_nodes_and_flows_its_table_lists(client: TestClient) -> None:
    page = client.get("/interaction-map").text
    graph = picture(page, "interaction-map-data")
    assert graph["direction"] == "LR"
    drawn = {node["href"] for node in graph["nodes"] if "href" in node}
    assert drawn == listed_nodes(page)
    assert len(graph["edges"]) == len(table_rows(page, "flows"))
    kinds = {node["label"]: node["kind"] for node in graph["nodes"]}
    assert kinds["CRM"] == "source" and kinds["HCP 360"] == "product"
    assert kinds["Next best action"] == "use-case" and kinds["Marketing Director"] == "consumer"


def test_a_domain_narrows_the_map_to_its_products_and_their_flows(client: TestClient) -> None:
    whole = client.get("/interaction-map").text
    response = client.get(f"/interaction-map?domain={quote(MARKETING)}")
    assert response.status_code == 200
    narrowed = response.text
    assert listed_nodes(narrowed) < listed_nodes(whole)
    assert "/data-product/web-analytics" in listed_nodes(narrowed)
    assert "/data-product/digital-engagement" in listed_nodes(narrowed)  # it reads Web analytics, from Commercial
    assert "/data-product/medical-inquiries" not in listed_nodes(narrowed)
    assert "/data-product/crm-interactions" not in listed_nodes(narrowed)
    for source, target, _ in flows(narrowed):
        assert "Web analytics (Marketing)" in source or "Web analytics (Marketing)" in target
    assert f'<option value="{MARKETING}" selected>Marketing</option>' in narrowed
    assert len(picture(narrowed, "interaction-map-data")["nodes"]) < len(
        picture(whole, "interaction-map-data")["nodes"]
    )


def test_htmx_gets_the_map_alone_and_the_page_works_without_it(client: TestClient) -> None:
    page = client.get("/interaction-map").text
    assert 'method="get" action="/interaction-map"' in page and '<label for="map-domain">' in page
    assert 'hx-get="/interaction-map"' in page and 'hx-target="#map-panel"' in page
    response = client.get(f"/interaction-map?domain={quote(MEDICAL)}", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "<html" not in response.text and "<nav" not in response.text
    assert 'id="interaction-map-graph"' in response.text
    assert listed_nodes(response.text) == {
        "/data-product/medical-inquiries",
        "/source/medical-information-system",
        "/agent/medical-science-liaisons",
    }
    assert "HX-Request" in response.headers["vary"]
    restoring = {"HX-Request": "true", "HX-History-Restore-Request": "true"}
    assert "<nav" in client.get("/interaction-map", headers=restoring).text  # htmx restoring history: the page


def test_an_unknown_domain_is_a_clear_400(client: TestClient) -> None:
    response = client.get("/interaction-map?domain=https://valuemesh.example/domain/%3Cb%3Enope")
    assert response.status_code == 400
    assert "There is no domain &#39;https://valuemesh.example/domain/&lt;b&gt;nope&#39; in the catalog" in response.text
    assert "<b>" not in response.text


def test_every_product_may_be_absent_from_the_map_of_a_caller(restricted: Catalog) -> None:  # noqa: F811
    """A restricted product's flows go with it, to and from any product (HCP 360 reads CRM interactions)."""
    outsider = restricted.client.get("/interaction-map", headers=restricted.headers["outsider"]).text
    member = restricted.client.get("/interaction-map", headers=restricted.headers["member"]).text
    assert "/data-product/crm-interactions" in listed_nodes(member)
    assert "/data-product/crm-interactions" not in listed_nodes(outsider)
    assert "/source/crm" not in listed_nodes(outsider)  # known only through the product it feeds
    assert "CRM interactions" not in outsider


# --- overlaps -----------------------------------------------------------------------------------------------------


def test_overlaps_rank_the_planted_merge_candidates_with_what_they_share(client: TestClient) -> None:
    response = client.get("/overlaps")
    assert response.status_code == 200
    rows = table_rows(response.text, "overlaps")
    assert rows == [
        ["Digital Engagement", "Next Best Action", "2", "0.50", "product Email campaign events product HCP 360"]
    ]
    links = table_links(response.text, "overlaps")[0]
    assert links[0] == ["/data-product/digital-engagement"] and links[1] == ["/data-product/next-best-action"]
    assert links[4] == ["/data-product/email-campaign-events", "/data-product/hcp-360"]


READER = f"""
@prefix vm: <https://w3id.org/valuemesh/ontology#> .
@prefix dprod: <https://ekgf.github.io/dprod/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
<{CAT}data-product/hcp-360-reader> a dprod:DataProduct ; rdfs:label "HCP 360 reader" ;
    dprod:domain <{MARKETING}> ; dprod:inputPort <{CAT}data-product/hcp-360-reader/port/in> .
<{CAT}data-product/hcp-360-reader/port/in> a vm:InputPort ; rdfs:label "in" ;
    vm:consumes <{CAT}data-product/hcp-360/port/api> , <{CAT}data-product/web-analytics/port/table> .
"""


def test_overlaps_rank_by_shared_sources_then_jaccard(client: TestClient) -> None:
    """A product fed by HCP 360 and Web analytics shares both with Digital Engagement (2 of its 3 sources: 0.67),
    ahead of the seed's pair (2 of 4: 0.50), and one with Next Best Action (1 of 4: 0.25)."""
    reader = CAT + "data-product/hcp-360-reader"
    client.app.state.catalog.store.replace_records(  # type: ignore[attr-defined]
        {reader: list(Graph().parse(data=READER, format="turtle"))}
    )
    rows = table_rows(client.get("/overlaps").text, "overlaps")
    assert [row[:4] for row in rows] == [
        ["Digital Engagement", "HCP 360 reader", "2", "0.67"],
        ["Digital Engagement", "Next Best Action", "2", "0.50"],
        ["HCP 360 reader", "Next Best Action", "1", "0.25"],
    ]
    page = client.get("/overlaps?min_shared=2").text
    assert [row[:2] for row in table_rows(page, "overlaps")] == [
        ["Digital Engagement", "HCP 360 reader"],
        ["Digital Engagement", "Next Best Action"],
    ]
    none = client.get("/overlaps?min_shared=3")
    assert none.status_code == 200 and "No two data products share 3 direct sources." in text(none.text)


@pytest.mark.parametrize("value", ["0", "two", "-1", "%3Cb%3E"])
def test_a_bad_minimum_is_a_clear_400(client: TestClient, value: str) -> None:
    response = client.get(f"/overlaps?min_shared={value}")
    assert response.status_code == 400
    assert "The minimum of shared sources must be a whole number of 1 or more" in response.text
    assert "<b>" not in response.text


def test_a_shared_source_the_caller_may_not_read_is_left_out(restricted: Catalog) -> None:  # noqa: F811
    """With HCP 360 restricted to Commercial, the pair stays (both products are public), sharing for an outsider
    only what they may read."""
    hcp = CAT + "data-product/hcp-360"
    record = restricted.store.record(hcp)
    record.add((URIRef(hcp), VM.restricted, Literal(True)))
    restricted.app.state.catalog.store.replace_records({hcp: list(record)})
    seen = {}
    for who in ("outsider", "member"):
        page = restricted.client.get("/overlaps", headers=restricted.headers[who]).text
        seen[who] = [row[4] for row in table_rows(page, "overlaps")]
    assert seen["member"] == ["product Email campaign events product HCP 360"]
    assert seen["outsider"] == ["product Email campaign events"]
