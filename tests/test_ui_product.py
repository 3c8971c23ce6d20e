"""The product page through HTTP: a browser at a data product's IRI gets the product page with the seed's facts, its
lineage as GraphQL answers it, its goal trace and overlaps; markup in names is text; RDF clients keep the RDF."""

from __future__ import annotations

import html as html_text
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from rdflib import Graph
from rdflib.compare import isomorphic

from server.catalog.writes import write_documents
from server.identity.principal import SYSTEM
from server.rdf_io import read_rdf_file
from server.settings import Settings
from server.store import Store
from server.web.app import create_app
from tests.test_access_requests import Catalog
from tests.test_restricted_records import catalog  # noqa: F401 - the fixture: CRM interactions restricted

DATA = Path(__file__).parent / "data"
BASE = "https://valuemesh.example/"
NBA = BASE + "data-product/next-best-action"
HCP_360 = BASE + "data-product/hcp-360"
HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}  # what browsers send
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'

LINEAGE = """query ($id: ID!, $dir: LineageDirection, $depth: Int) {
  lineage(id: $id, direction: $dir, maxDepth: $depth) {
    nodes { depth node { ... on DataProduct { id name } ... on DataSource { id name } } } edges { source target } } }"""


def _section(page: str, anchor: str) -> str:
    start = page.index(f'<section id="{anchor}"')
    return page[start : page.index("</section>", start)]


def _links(fragment: str) -> dict[str, str]:
    return {href: html_text.unescape(text) for href, text in re.findall(r'<a href="([^"]*)">([^<]*)</a>', fragment)}


def _graph(page: str, block: str) -> dict[str, list[dict[str, str]]]:
    found = re.search(rf'<(script type="application/json"|div hidden) id="{block}">(.*?)</(script|div)>', page, re.S)
    assert found, f"no {block} block"
    return json.loads(html_text.unescape(found.group(2)))  # type: ignore[no-any-return]


def _graphql_lineage(client: TestClient, iri: str, depth: int) -> set[str]:
    found = set()
    for way in ("UPSTREAM", "DOWNSTREAM"):
        answer = client.post("/graphql", json={"query": LINEAGE, "variables": {"id": iri, "dir": way, "depth": depth}})
        found |= {hop["node"]["id"] for hop in answer.json()["data"]["lineage"]["nodes"]}
    return found


def _drawn(page: str) -> set[str]:
    return {n["id"] for n in _graph(page, "lineage-data")["nodes"] if n["kind"] not in ("focus", "more")}


def test_the_product_page_shows_the_seed_facts(client: TestClient) -> None:
    response = client.get("/data-product/next-best-action", headers=HTML)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "<h1>Next Best Action</h1>" in page
    assert "A recommended next action for each HCP" in page
    facts = _section(page, "facts")
    assert "Recommend to each PJP the next best action" in facts  # the job
    assert "consumer-oriented" in facts.lower()
    links = _links(facts)
    assert links["/domain/commercial"] == "Commercial"
    assert links["/agent/head-of-commercial-analytics"] == "Head of Commercial Analytics"
    assert "/agent/data-science-team" in links  # producer
    assert {"/agent/pjp", "/agent/hcp-engagement-analysts"} <= set(links)  # consumers

    ports = _section(page, "ports")
    assert _links(ports)["/data-product/hcp-360"] == "HCP 360"  # what the "HCP 360" input port consumes
    assert "/data-product/email-campaign-events" in _links(ports)
    assert "Weekly next best action report" in ports and "report" in ports

    agreement = _section(page, "agreement")
    assert "Access Approval Required" in agreement
    assert "PJPs receive the recommendations" in agreement
    assert "No distribution to third parties" in agreement
    assert re.search(r"99\.0 %.*1 month.*1\.0 %", agreement, re.S)  # target, period, error budget

    checklist = _section(page, "checklist")
    assert "100 % complete" in checklist and "meets the checklist" in checklist
    assert "Owner / Steward" in checklist

    trace = _section(page, "goal-trace")
    assert "Next best action" in trace and "score 27" in trace
    assert "/goal/vision" in _links(trace)
    assert {n["kind"] for n in _graph(page, "trace-data")["nodes"]} >= {"focus", "use-case", "goal", "vision"}

    overlaps = _section(page, "overlaps")
    assert _links(overlaps)["/data-product/digital-engagement"] == "Digital Engagement"
    assert "HCP 360" in overlaps and "Email campaign events" in overlaps and "0.50" in overlaps

    forms = _links(_section(page, "forms"))
    assert forms["/data-product/next-best-action?format=text%2Fturtle"] == "Turtle"
    assert any(href.startswith("/graphql?query=") for href in forms)


def test_the_lineage_is_what_graphql_answers_with_sources_drawn_as_sources(client: TestClient) -> None:
    page = client.get("/data-product/next-best-action", headers=HTML).text
    assert _drawn(page) == _graphql_lineage(client, NBA, 2)
    nodes = {n["id"]: n for n in _graph(page, "lineage-data")["nodes"]}
    assert nodes[NBA]["kind"] == "focus"
    assert nodes[BASE + "source/email-platform"]["kind"] == "source"
    assert nodes[HCP_360]["kind"] == "product" and nodes[HCP_360]["href"] == "/data-product/hcp-360"
    listed = _links(_section(page, "lineage"))
    assert listed["/data-product/crm-interactions"] == "CRM interactions"  # the same nodes as text
    # Cut at depth 2 (the sources of CRM interactions lie at 3): the page says so and offers to go deeper.
    assert "goes on beyond depth 2" in page
    assert "/data-product/next-best-action?depth=3#lineage" in page
    assert any(n["kind"] == "more" for n in nodes.values())


def test_a_deeper_lineage_on_request_and_the_section_alone_for_htmx(client: TestClient) -> None:
    deep = client.get("/data-product/next-best-action?depth=5", headers=HTML).text
    assert _drawn(deep) == _graphql_lineage(client, NBA, 5)
    assert BASE + "source/crm" in _drawn(deep)
    assert "goes on beyond" not in deep
    shallow = client.get("/data-product/next-best-action?depth=1", headers=HTML).text
    assert _drawn(shallow) == _graphql_lineage(client, NBA, 1)
    fragment = client.get(
        "/data-product/next-best-action?depth=3", headers={**HTML, "HX-Request": "true", "HX-Target": "lineage"}
    )
    assert fragment.status_code == 200
    assert fragment.text.startswith('<section id="lineage"')
    assert "<html" not in fragment.text and 'value="3"' in fragment.text
    assert _drawn(fragment.text) == _graphql_lineage(client, NBA, 3)


@pytest.mark.parametrize("depth", ["abc", "0", "-1", "21", "2.5", "1e3"])
def test_a_bad_depth_gets_a_clear_message(client: TestClient, depth: str) -> None:
    response = client.get("/data-product/next-best-action", params={"depth": depth}, headers=HTML)
    assert response.status_code == 400
    assert "depth must be a whole number from 1 to 20" in response.text
    assert "<h1>Next Best Action</h1>" in response.text  # the page is still there, at the default depth


def test_unknown_products_are_404_and_rdf_clients_keep_the_rdf(client: TestClient, seeded_store: Store) -> None:
    assert client.get("/data-product/no-such-product", headers=HTML).status_code == 404
    turtle = client.get("/data-product/hcp-360", headers={"Accept": "text/turtle"})
    assert turtle.headers["content-type"].startswith("text/turtle")
    assert isomorphic(Graph().parse(data=turtle.text, format="turtle"), seeded_store.record(HCP_360))
    asked = client.get("/data-product/hcp-360", params={"format": "application/n-triples"}, headers=HTML)
    assert asked.headers["content-type"].startswith("application/n-triples")
    # A port inside a product keeps the generic record page.
    port = client.get("/data-product/hcp-360/port/api", headers=HTML).text
    assert 'Part of the record <a href="/data-product/hcp-360">HCP 360</a>' in port


def _store_variant(store: Store, tmp_path: Path, name: str, description: str, *, validate: bool = True) -> None:
    """The tests' conforming product (data/conforming-product.ttl) under another name and description."""
    text = (DATA / "conforming-product.ttl").read_text()
    text = text.replace('rdfs:label "Territory planning" ; dct:title "Territory planning"', _names(name))
    text = re.sub(r'dct:description "Which HCPs[^"]*"', "dct:description " + _literal(description), text)
    if not validate:
        text = text.replace("    dprod:dataProductOwner <agent/head-of-commercial-analytics> ;\n", "")
    path = tmp_path / "variant.ttl"
    path.write_text(text)
    write_documents(store, [read_rdf_file(path)], actor=SYSTEM, validate=validate)


def _literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _names(name: str) -> str:
    return f"rdfs:label {_literal(name)} ; dct:title {_literal(name)}"


@pytest.fixture
def marked_up(seeded_store: Store, settings: Settings, tmp_path: Path) -> Iterator[TestClient]:
    _store_variant(seeded_store, tmp_path, SCRIPT, IMG)
    with TestClient(create_app(settings, store=seeded_store), base_url="http://localhost") as client:
        yield client


@pytest.mark.parametrize("path", ["/data-product/territory-planning", "/data-product/hcp-360"])
def test_markup_in_names_and_descriptions_is_text(marked_up: TestClient, path: str) -> None:
    page = marked_up.get(path, headers=HTML).text
    assert "<script>alert" not in page and "<img" not in page and "onerror=alert(1)>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown, as text
    if path.endswith("territory-planning"):
        assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    # In the picture's data too: JSON with <, > and & escaped, never a way out of its <script> block.
    assert SCRIPT in json.dumps(_graph(page, "lineage-data"))


def test_the_other_way_round_too(seeded_store: Store, settings: Settings, tmp_path: Path) -> None:
    _store_variant(seeded_store, tmp_path, IMG, SCRIPT)
    with TestClient(create_app(settings, store=seeded_store), base_url="http://localhost") as client:
        page = client.get("/data-product/territory-planning", headers=HTML).text
    assert "<script>alert" not in page and "<img" not in page
    assert "<h1>&#34;&gt;&lt;img src=x onerror=alert(1)&gt;</h1>" in page


def test_missing_checklist_items_are_listed_in_the_articles_words(
    seeded_store: Store, settings: Settings, tmp_path: Path
) -> None:
    _store_variant(seeded_store, tmp_path, "Territory planning", "Plans.", validate=False)  # no owner
    with TestClient(create_app(settings, store=seeded_store), base_url="http://localhost") as client:
        checklist = _section(client.get("/data-product/territory-planning", headers=HTML).text, "checklist")
    assert "88 % complete" in checklist  # 7 of the 8 items (the domain is regulated)
    assert "1 missing" in checklist
    missing = checklist[checklist.index('<li class="missing">') :]
    assert re.match(r'<li class="missing">\s*<span class="badge bad">missing</span> Owner / Steward', missing)


def test_an_outsider_gets_404_for_a_restricted_product_and_is_told_what_was_left_out(
    catalog: Catalog,  # noqa: F811
) -> None:
    outsider = {**catalog.headers["outsider"], **HTML}
    assert catalog.client.get("/data-product/crm-interactions", headers=outsider).status_code == 404
    page = catalog.client.get("/data-product/hcp-360", headers=outsider).text
    assert 'href="/data-product/crm-interactions"' not in page and "CRM interactions table" not in page
    assert BASE + "data-product/crm-interactions" not in _drawn(page)
    assert 'data-product/crm-interactions</span> <span class="muted">(restricted: you may not read it)' in _section(
        page, "ports"
    )
    assert "1 node you may not see was left out" in page
    member = catalog.client.get("/data-product/hcp-360", headers={**catalog.headers["member"], **HTML}).text
    assert BASE + "data-product/crm-interactions" in _drawn(member) and "you may not see" not in member


def test_a_lineage_bigger_than_a_picture_holds_is_cut_at_a_depth_and_says_so(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The cap is 500 nodes (bench/bench_lineage_picture.py); the seed is small, so the cap is made small here.
    monkeypatch.setattr("server.web.ui.product_lineage.NODE_CAP", 5)
    monkeypatch.setattr("server.web.ui.product.NODE_CAP", 5)
    page = client.get("/data-product/next-best-action?depth=3", headers=HTML).text
    assert _drawn(page) == _graphql_lineage(client, NBA, 1)  # depth 2 would draw 8 nodes: cut at 1
    assert re.search(
        r"Within depth 3 the lineage holds \d+ nodes; a picture holds at most 5, so it is drawn to depth 1", page
    )
    capped = client.get("/data-product/hcp-360?depth=1", headers=HTML).text  # 3 up and 2 down at depth 1
    monkeypatch.setattr("server.web.ui.product_lineage.NODE_CAP", 2)
    capped = client.get("/data-product/hcp-360?depth=1", headers=HTML).text
    assert len(_drawn(capped)) == 2 and "3 nodes of that depth are left out" in capped
