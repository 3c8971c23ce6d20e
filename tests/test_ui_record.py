"""Every other IRI of the catalog (a goal, a use case, an agent, a port inside a product) answers a browser with a
page in the catalog's own layout: its statements, what it is part of and what refers to it; an unknown IRI gets the
catalog's 404 page. RDF clients still get the record."""

from __future__ import annotations

from fastapi.testclient import TestClient
from rdflib import Graph

from tests.ui_helpers import HTML, text_of


def test_a_goal_has_a_page_in_the_catalogs_layout(client: TestClient) -> None:
    response = client.get("/goal/customer-interaction", headers=HTML)
    assert response.status_code == 200 and response.headers["vary"] == "Accept"
    page = response.text
    assert '<a href="/value-tree">Value tree</a>' in page  # the site's navigation
    text = text_of(page)
    assert "<h1>" in page and "https://valuemesh.example/goal/customer-interaction" in text
    referenced = text_of(page.split("<h2>Referenced by</h2>", 1)[1])
    assert "use case" in referenced.lower() or "helps achieve" in referenced.lower()
    assert '<a href="?format=text/turtle">Turtle</a>' in page


def test_a_port_page_says_which_record_it_is_part_of(client: TestClient) -> None:
    page = client.get("/data-product/hcp-360/port/api", headers=HTML).text
    assert 'Part of the record <a href="/data-product/hcp-360">HCP 360</a>' in page


def test_an_unknown_iri_gets_the_catalogs_404_page(client: TestClient) -> None:
    response = client.get("/goal/no-such-goal", headers=HTML)
    assert response.status_code == 404
    assert "Not in the catalog" in response.text and "https://valuemesh.example/goal/no-such-goal" in response.text
    assert '<a href="/">Search the catalog</a>' in response.text


def test_rdf_clients_still_get_the_record(client: TestClient) -> None:
    response = client.get("/goal/customer-interaction", headers={"accept": "text/turtle"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/turtle")
    assert len(Graph().parse(data=response.text, format="turtle")) > 0
