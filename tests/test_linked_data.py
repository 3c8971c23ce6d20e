"""Linked data: the catalog's IRIs dereference through the app, as HTML for people and RDF for machines."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from rdflib import Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import RDF, RDFS

from server.catalog.writes import write_documents
from server.identity.principal import SYSTEM
from server.namespaces import DPROD, VM
from server.rdf_io import read_rdf_file
from server.settings import Settings
from server.store import MemoryStore, Store
from server.web.app import create_app

# The same questions on every store backend: memory, and each remote SPARQL server CI runs.
pytestmark = pytest.mark.all_backends

DATA = Path(__file__).parent / "data"
BASE = "https://valuemesh.example/"
HCP_360 = BASE + "data-product/hcp-360"
HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}  # what browsers send


def _links(html: str) -> dict[str, str]:
    """href -> link text of every link in an HTML fragment."""
    return {href: text for href, text in re.findall(r'<a href="([^"]*)">([^<]*)</a>', html)}


def _section(html: str, start: str, end: str) -> str:
    return html[html.index(start) : html.index(end, html.index(start))]


def _local(iri: str) -> str:
    return "/" + iri.removeprefix(BASE)


def _upstream_of(store: Store, product: str) -> set[str]:
    """One step upstream, walked in Python over the record graphs (an oracle independent of the page's SPARQL)."""
    union = Graph()
    for iri in store.record_iris():
        union += store.record(iri)
    found = set()
    for port in union.objects(URIRef(product), DPROD.inputPort):
        for consumed in union.objects(port, VM.consumes):
            owners = set(union.subjects(DPROD.outputPort, consumed))
            found |= {str(o) for o in owners} or {str(consumed)}
    return found


def test_a_product_page_for_browsers(client: TestClient, seeded_store: Store) -> None:
    """A product's IRI answers browsers with the UI's product page (tests/test_ui_product.py has the rest)."""
    page = client.get("/data-product/hcp-360", headers=HTML)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "<h1>HCP 360</h1>" in html
    links = _links(html)
    # Its facts, values linking to related records on this server.
    assert links["/agent/head-of-customer-insights"] == "Head of Customer Insights"
    assert links["/domain/commercial"] == "Commercial"
    # The ports, agreement and SLOs of the record.
    assert links["/data-product/hcp-360/port/api"] == "HCP 360 API"
    assert "Daily freshness" in html
    # Lineage neighbours: one step upstream as the seed's lineage says, downstream the two products reading its API.
    lineage = _section(html, '<section id="lineage"', "</section>")
    steps = re.findall(r'<td>(upstream|downstream)</td><td class="num">1</td>\s*<td><a href="([^"]*)">', lineage)
    assert {href for way, href in steps if way == "upstream"} == {
        _local(iri) for iri in _upstream_of(seeded_store, HCP_360)
    }
    assert {href for way, href in steps if way == "downstream"} == {
        "/data-product/digital-engagement",
        "/data-product/next-best-action",
    }
    # Why it exists: the use cases it serves.
    assert "/use-case/hcp-360-dashboard" in _links(_section(html, '<section id="goal-trace"', "</section>"))


def test_a_source_page_shows_what_reads_it(client: TestClient) -> None:
    html = client.get("/source/crm", headers=HTML).text
    assert "<h1>CRM</h1>" in html
    downstream = _links(_section(html, "<h3>Downstream", "</ul>"))
    assert set(downstream) == {"/data-product/crm-interactions"}
    assert "nothing upstream" in html


@pytest.mark.parametrize(
    ("accept", "rdflib_format"),
    [
        ("text/turtle", "turtle"),
        ("application/n-triples", "nt"),
        ("application/ld+json", "json-ld"),
        ("application/rdf+xml", "xml"),
        ("*/*", "turtle"),
    ],
)
def test_rdf_clients_get_the_records_named_graph(
    client: TestClient, seeded_store: Store, accept: str, rdflib_format: str
) -> None:
    response = client.get("/data-product/hcp-360", headers={"Accept": accept})
    assert response.status_code == 200
    assert "Accept" in response.headers["vary"]
    served = Graph().parse(data=response.content, format=rdflib_format)
    assert isomorphic(served, seeded_store.record(HCP_360))


def test_format_parameter_for_links_people_click(client: TestClient) -> None:
    response = client.get("/domain/commercial", params={"format": "application/n-triples"}, headers=HTML)
    assert response.headers["content-type"].startswith("application/n-triples")
    graph = Graph().parse(data=response.text, format="nt")
    assert graph.value(URIRef(BASE + "domain/commercial"), RDFS.label) == Literal("Commercial")


def test_a_node_inside_a_record_dereferences_to_its_own_description(client: TestClient) -> None:
    turtle = client.get("/data-product/hcp-360/port/api", headers={"Accept": "text/turtle"})
    graph = Graph().parse(data=turtle.text, format="turtle")
    port = URIRef(HCP_360 + "/port/api")
    assert set(graph.subjects()) == {port}
    assert (port, RDF.type, VM.OutputPort) in graph
    html = client.get("/data-product/hcp-360/port/api", headers=HTML).text
    assert "<h1>HCP 360 API</h1>" in html
    assert 'Part of the record <a href="/data-product/hcp-360">HCP 360</a>' in html


@pytest.mark.parametrize("path", ["/data-product/no-such-product", "/goal/no-such-goal", "/agent/<script>"])
def test_unknown_iris_are_404(client: TestClient, path: str) -> None:
    page = client.get(path, headers=HTML)
    assert page.status_code == 404
    assert "<script>" not in page.text
    assert client.get(path, headers={"Accept": "text/turtle"}).status_code == 404


def test_unsupported_accept_is_406(client: TestClient) -> None:
    response = client.get("/data-product/hcp-360", headers={"Accept": "image/png"})
    assert response.status_code == 406


def test_everything_from_the_graph_is_escaped(seeded_store: Store, settings: Settings) -> None:
    write_documents(seeded_store, [read_rdf_file(DATA / "agent-with-markup-in-label.ttl")], actor=SYSTEM)
    with TestClient(create_app(settings, store=seeded_store), base_url="http://localhost") as client:
        html = client.get("/agent/markup-team", headers=HTML).text
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&#39;label&#39;)&lt;/script&gt; &amp; &#34;Co&#34;" in html
    assert "javascript:" in html  # shown as text ...
    assert 'href="javascript:' not in html  # ... never as a link


def test_record_routes_leave_the_other_faces_alone(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/sparql", headers={"Accept": "text/turtle"}).status_code == 200
    answer = client.post("/graphql", json={"query": "{ __typename }"})
    assert answer.status_code == 200
    assert answer.json()["data"]["__typename"]


@pytest.fixture
def catalog_under_a_path() -> Iterator[TestClient]:
    """A catalog whose base has a path, as when it is served behind a proxy under /catalog/."""
    store = MemoryStore()
    domain = URIRef("https://example.org/catalog/domain/research")
    store.replace_records({str(domain): [(domain, RDF.type, VM.Domain), (domain, RDFS.label, Literal("Research"))]})
    settings = Settings(store="memory:", seed=False, base="https://example.org/catalog/")
    with TestClient(create_app(settings, store=store), base_url="http://localhost") as client:
        yield client


def test_a_base_with_a_path_maps_to_the_same_path_on_the_server(catalog_under_a_path: TestClient) -> None:
    page = catalog_under_a_path.get("/catalog/domain/research", headers=HTML)
    assert page.status_code == 200
    assert "<h1>Research</h1>" in page.text
    assert catalog_under_a_path.get("/domain/research", headers=HTML).status_code == 404
