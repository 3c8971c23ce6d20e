"""The domain page through real HTTP: a browser at a domain's IRI gets its name, description, regulated flag,
products with owners and checklist badges, owners and checklist health; RDF clients still get the record."""

from __future__ import annotations

import re
from html import unescape

import pytest
from fastapi.testclient import TestClient
from rdflib import Graph, URIRef

from server.namespaces import DCT, VM
from server.web.ui import domain
from tests.test_ui_home import WEB_ANALYTICS, without_description
from tests.ui_helpers import CAT, HTML, anonymous, create, product_input, product_names, text_of

COMMERCIAL = CAT + "domain/commercial"
MARKETING = CAT + "domain/marketing"


def test_a_browser_gets_the_domain_page(client: TestClient) -> None:
    response = client.get("/domain/commercial", headers=HTML)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    text = text_of(page)
    assert "<h1>Commercial</h1>" in page
    assert "Roche's commercial business function" in text  # its description
    assert "Regulated regulated its products must carry a privacy classification" in text
    names = product_names(page)
    assert len(names) == 7 and "HCP 360" in names and "Web analytics" not in names
    assert '<a href="/data-product/hcp-360">HCP 360</a>' in page
    assert "HCP 360 " in text and "Head of Customer Insights 100 % passes" in text
    assert "7 of 7 pass" in text and "every product meets the Data Product MVP checklist" in text
    owners = text_of(page.split('id="owners"', 1)[1])
    assert "Head of Digital Engagement · 2 products" in owners and "Head of Customer Insights · 1 product" in owners
    assert '<a href="/?domain=https%3A%2F%2Fvaluemesh.example%2Fdomain%2Fcommercial">' in page


def test_an_unregulated_domain_says_so(client: TestClient) -> None:
    text = text_of(client.get("/domain/marketing", headers=HTML).text)
    assert "not regulated" in text and "1 of 1 pass" in text


def test_rdf_clients_still_get_the_record(client: TestClient) -> None:
    for accept in ("text/turtle", "application/ld+json"):
        response = client.get("/domain/commercial", headers={"Accept": accept})
        assert response.status_code == 200 and response.headers["content-type"].startswith(accept)
    turtle = client.get("/domain/commercial", headers={"Accept": "text/turtle"}).text
    graph = Graph().parse(data=turtle, format="turtle")
    assert (URIRef(COMMERCIAL), VM.regulated, None) in graph
    page = client.get("/domain/commercial", headers=HTML).text
    link = re.search(r'<a href="(\?format=text/turtle)">Turtle</a>', page)
    assert link is not None
    linked = client.get("/domain/commercial" + unescape(link.group(1)), headers=HTML)
    assert linked.headers["content-type"].startswith("text/turtle")


def test_an_unknown_domain_is_not_found(client: TestClient) -> None:
    assert client.get("/domain/no-such-domain", headers=HTML).status_code == 404


def test_health_counts_the_products_missing_checklist_items(client: TestClient) -> None:
    create(client, product_input("Campaign reach"))
    without_description(client, WEB_ANALYTICS)
    page = client.get("/domain/marketing", headers=HTML).text
    text = text_of(page)
    assert "1 of 2 pass" in text and "1 has checklist items missing" in text
    assert "1 missing" in text and 'title="Missing: Description"' in page


def test_restricted_products_are_absent_for_outsiders(client: TestClient) -> None:
    create(client, product_input("Field notes", restricted=True))
    assert "Field notes" in product_names(client.get("/domain/marketing", headers=HTML).text)
    page = anonymous(client).get("/domain/marketing", headers=HTML).text
    assert "Field notes" not in page and "1 of 1 pass" in text_of(page)


def test_the_products_of_a_big_domain_come_in_pages(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(domain, "PAGE_SIZE", 3)
    seen: list[str] = []
    link: str | None = "/domain/commercial"
    while link is not None:
        page = client.get(unescape(link), headers=HTML).text
        assert "7 of 7 pass" in text_of(page)  # the health is the domain's, whichever page
        seen += product_names(page)
        found = re.search(r'<a href="([^"]*)" rel="next">', page)
        link = found.group(1) if found else None
    assert len(seen) == 7 == len(set(seen))
    bad = client.get("/domain/commercial", params={"after": "nonsense"}, headers=HTML)
    assert bad.status_code == 400 and "That page link is not one this catalog made" in text_of(bad.text)


def test_a_domain_without_description_or_products_still_has_its_page(client: TestClient) -> None:
    store = client.app.state.catalog.store  # type: ignore[attr-defined]
    record = store.record(MARKETING)
    record.remove((URIRef(MARKETING), DCT.description, None))
    store.replace_records({CAT + "domain/empty": [(URIRef(CAT + "domain/empty"), p, o) for _, p, o in record]})
    text = text_of(client.get("/domain/empty", headers=HTML).text)
    assert "This domain has no data products" in text and "no products to check" in text
