"""The `/sparql` endpoint as architects' tools see it: real SPARQL clients (SPARQLWrapper, rdflib's SPARQLStore)
against a real uvicorn server on 127.0.0.1, over a seeded in-memory catalog."""

from __future__ import annotations

import csv
import io
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi.testclient import TestClient
from rdflib import Dataset, Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from SPARQLWrapper import CSV, JSON, POST, TURTLE, SPARQLWrapper
from SPARQLWrapper.SPARQLExceptions import QueryBadFormed

from server.namespaces import DPROD, sparql_prefixes
from server.settings import Settings
from server.store import MemoryStore, Store
from server.web.app import create_app
from server.web.sparql_endpoint import SD
from tests.conftest import free_port, serving

# The same questions on every store backend: memory, and each remote SPARQL server CI runs.
pytestmark = pytest.mark.all_backends

BASE = "https://valuemesh.example/"
HCP_360 = URIRef(BASE + "data-product/hcp-360")
PRODUCTS = sparql_prefixes() + "SELECT ?product ?label WHERE { ?product a dprod:DataProduct ; rdfs:label ?label }"


@dataclass
class LiveServer:
    url: str
    store: Store

    @property
    def sparql(self) -> str:
        return self.url + "/sparql"


@pytest.fixture(scope="session")
def live_server(seed_nquads: bytes) -> Iterator[LiveServer]:
    """`valuemesh serve` as a user runs it: uvicorn on a free port of 127.0.0.1 over the seeded catalog."""
    store = MemoryStore()
    store.bulk_load(seed_nquads, "application/n-quads")
    port = free_port()
    with serving(create_app(Settings(store="memory:", seed=False, port=port), store=store), port) as url:
        yield LiveServer(url, store)


@pytest.fixture(scope="session")
def seed_products(seed_nquads: bytes) -> dict[str, str]:
    """product IRI -> label, read from the seed's N-Quads with rdflib (not through the endpoint)."""
    graph = Dataset(default_union=True)
    graph.parse(data=seed_nquads, format="nquads")
    return {str(p): str(graph.value(p, RDFS.label)) for p in graph.subjects(RDF.type, DPROD.DataProduct)}


def _wrapper(live_server: LiveServer, query: str, return_format: str) -> SPARQLWrapper:
    client = SPARQLWrapper(live_server.sparql)
    client.setQuery(query)
    client.setReturnFormat(return_format)
    return client


# --- SPARQLWrapper --------------------------------------------------------------------------------------------


def test_select_as_json_lists_every_seeded_product(live_server: LiveServer, seed_products: dict[str, str]) -> None:
    answer = _wrapper(live_server, PRODUCTS, JSON).queryAndConvert()
    assert answer["head"]["vars"] == ["product", "label"]
    found = {b["product"]["value"]: b["label"]["value"] for b in answer["results"]["bindings"]}
    assert found == seed_products


def test_select_as_csv(live_server: LiveServer, seed_products: dict[str, str]) -> None:
    raw = _wrapper(live_server, PRODUCTS, CSV).queryAndConvert()
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"))))
    assert {row["product"]: row["label"] for row in rows} == seed_products


def test_construct_as_turtle(live_server: LiveServer) -> None:
    query = (
        sparql_prefixes()
        + "CONSTRUCT { ?p rdfs:label ?l ; dprod:domain ?d } WHERE { ?p a dprod:DataProduct ; rdfs:label ?l ; dprod:domain ?d }"
    )
    raw = _wrapper(live_server, query, TURTLE).queryAndConvert()
    graph = Graph().parse(data=raw, format="turtle")
    assert graph.value(HCP_360, RDFS.label) == Literal("HCP 360")
    assert graph.value(HCP_360, DPROD.domain) == URIRef(BASE + "domain/commercial")


def test_ask(live_server: LiveServer) -> None:
    planted = (
        sparql_prefixes()
        + f"ASK {{ <{BASE}data-product/digital-engagement> dprod:inputPort/vm:consumes <{BASE}data-product/hcp-360/port/api> }}"
    )
    absent = (
        sparql_prefixes() + f"ASK {{ <{BASE}data-product/hcp-360> dprod:inputPort/vm:consumes <{BASE}source/crm> }}"
    )
    assert _wrapper(live_server, planted, JSON).queryAndConvert()["boolean"] is True
    assert _wrapper(live_server, absent, JSON).queryAndConvert()["boolean"] is False


def test_malformed_query_is_400_with_the_parsers_position(live_server: LiveServer) -> None:
    with pytest.raises(QueryBadFormed) as refused:
        _wrapper(live_server, "SELECT * WHERE { ?s ?p }", JSON).queryAndConvert()
    assert "1:23" in str(refused.value) or "1:24" in str(refused.value) or "1:25" in str(refused.value)


@pytest.mark.parametrize(
    ("query", "said"),
    [
        (
            "SELEC * WHERE { ?s ?p ?o }",
            "query:1:1: SPARQL syntax error: a query starts with SELECT, ASK, CONSTRUCT or DESCRIBE, not 'SELEC'",
        ),
        ("SELECT * WHERE { ?s ex:p ?o }", "query:1:21: undeclared prefix ex: in ex:p"),
        ("SELECT * WHERE { ?s dprod:inputPort ?o }", "add PREFIX dprod: <https://ekgf.github.io/dprod/>"),
    ],
)
def test_a_mistyped_query_is_told_what_is_wrong_and_where(live_server: LiveServer, query: str, said: str) -> None:
    response = httpx.get(live_server.sparql, params={"query": query})
    assert response.status_code == 400
    assert said in response.json()["detail"]


def test_update_through_sparqlwrapper_is_refused_and_nothing_changes(live_server: LiveServer) -> None:
    before = live_server.store.quad_count()
    client = SPARQLWrapper(live_server.sparql)
    client.setMethod(POST)
    client.setQuery(f"INSERT DATA {{ <{BASE}x> <{BASE}y> <{BASE}z> }}")
    with pytest.raises(Exception) as refused:  # SPARQLWrapper maps 403 to urllib's HTTPError
        client.query()
    assert getattr(refused.value, "code", None) == 403
    assert live_server.store.quad_count() == before


# --- rdflib's SPARQLStore ---------------------------------------------------------------------------------------


def test_rdflib_sparqlstore_select_and_triples(live_server: LiveServer, seed_products: dict[str, str]) -> None:
    graph = Graph(SPARQLStore(live_server.sparql, returnFormat="json"))
    rows = graph.query(PRODUCTS)
    assert {str(row.product): str(row.label) for row in rows} == seed_products  # type: ignore[union-attr]
    assert (HCP_360, RDFS.label, Literal("HCP 360")) in graph
    assert set(graph.objects(HCP_360, DPROD.domain)) == {URIRef(BASE + "domain/commercial")}


def test_rdflib_sparqlstore_construct_and_ask(live_server: LiveServer) -> None:
    graph = Graph(SPARQLStore(live_server.sparql))  # rdflib's defaults: XML results, RDF/XML graphs
    constructed = graph.query(sparql_prefixes() + "CONSTRUCT WHERE { ?p dprod:domain ?d }")
    assert (HCP_360, DPROD.domain, URIRef(BASE + "domain/commercial")) in constructed.graph  # type: ignore[operator]
    assert graph.query(sparql_prefixes() + "ASK { ?p a vm:DataSource }").askAnswer is True


# --- the protocol, spoken directly --------------------------------------------------------------------------------


def test_post_forms_and_direct_post_answer_like_get(live_server: LiveServer) -> None:
    query = sparql_prefixes() + "SELECT (COUNT(?p) AS ?n) WHERE { ?p a dprod:DataProduct }"
    accept = {"Accept": "application/sparql-results+json"}
    answers = [
        httpx.get(live_server.sparql, params={"query": query}, headers=accept),
        httpx.post(live_server.sparql, data={"query": query}, headers=accept),
        httpx.post(live_server.sparql, content=query, headers={**accept, "Content-Type": "application/sparql-query"}),
    ]
    counts = {r.json()["results"]["bindings"][0]["n"]["value"] for r in answers}
    assert [r.status_code for r in answers] == [200, 200, 200]
    assert counts == {"9"}


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        ("application/sparql-results+xml", "application/sparql-results+xml"),
        ("text/tab-separated-values", "text/tab-separated-values"),
        ("text/csv;q=0.5, application/sparql-results+json;q=0.9", "application/sparql-results+json"),
        ("text/*", "text/csv"),
        ("*/*", "application/sparql-results+json"),
        ("application/json", "application/sparql-results+json"),
    ],
)
def test_select_results_follow_accept_and_q_values(live_server: LiveServer, accept: str, media_type: str) -> None:
    response = httpx.get(live_server.sparql, params={"query": PRODUCTS}, headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == media_type
    assert "HCP 360" in response.text


@pytest.mark.parametrize(
    ("accept", "rdflib_format"),
    [("application/n-triples", "nt"), ("application/ld+json", "json-ld"), ("application/rdf+xml", "xml")],
)
def test_construct_in_every_graph_format(live_server: LiveServer, accept: str, rdflib_format: str) -> None:
    query = sparql_prefixes() + f"CONSTRUCT WHERE {{ <{HCP_360}> rdfs:label ?l }}"
    response = httpx.get(live_server.sparql, params={"query": query}, headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == accept
    graph = Graph().parse(data=response.content, format=rdflib_format)
    assert graph.value(HCP_360, RDFS.label) == Literal("HCP 360")


@pytest.mark.parametrize(
    ("query", "accept"),
    [
        (PRODUCTS, "text/turtle"),
        (PRODUCTS, "image/png, text/html"),
        (sparql_prefixes() + "CONSTRUCT WHERE { ?s a vm:DataSource }", "text/csv"),
    ],
)
def test_unsupported_accept_is_406(live_server: LiveServer, query: str, accept: str) -> None:
    response = httpx.get(live_server.sparql, params={"query": query}, headers={"Accept": accept})
    assert response.status_code == 406
    assert "can be written as" in response.json()["detail"]


@pytest.mark.parametrize(
    "update",
    [
        "DELETE WHERE { ?s ?p ?o }",
        "PREFIX ex: <http://example.org/> # SELECT in a comment\nDROP ALL",
        "LOAD <http://127.0.0.1:1/data.ttl>",
        "CLEAR GRAPH <https://valuemesh.example/data-product/hcp-360>",
    ],
)
def test_updates_are_refused_with_403_whichever_way_they_come(live_server: LiveServer, update: str) -> None:
    before = live_server.store.quad_count()
    responses = [
        httpx.get(live_server.sparql, params={"query": update}),
        httpx.post(live_server.sparql, data={"update": update}),
        httpx.post(live_server.sparql, content=update, headers={"Content-Type": "application/sparql-update"}),
    ]
    assert [r.status_code for r in responses] == [403, 403, 403]
    assert "read-only" in responses[0].json()["detail"]
    assert live_server.store.quad_count() == before


def test_a_select_that_mentions_update_keywords_in_strings_runs(live_server: LiveServer) -> None:
    query = "SELECT ?x WHERE { BIND('INSERT DATA { <a:b> <a:c> <a:d> } ; DROP ALL' AS ?x) }"
    response = httpx.get(live_server.sparql, params={"query": query}, headers={"Accept": "text/csv"})
    assert response.status_code == 200
    assert "DROP ALL" in response.text


# --- SERVICE: refused before anything runs, and no connection is ever attempted ----------------------------------


@pytest.fixture
def listening_socket() -> Iterator[tuple[socket.socket, str]]:
    """A local TCP socket the server must never connect to; its backlog would hold any attempt."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    yield sock, f"http://127.0.0.1:{sock.getsockname()[1]}/sparql"
    sock.close()


def _connection_attempted(sock: socket.socket) -> bool:
    try:
        connection, _ = sock.accept()
    except BlockingIOError:
        return False
    connection.close()
    return True


@pytest.mark.parametrize(
    "template",
    [
        "SELECT * WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }}",
        "select * where {{ service silent <{url}> {{ ?s ?p ?o }} }}",
        "SELECT * WHERE {{ ?s ?p ?o .SERVICE<{url}>{{ ?s ?p ?o }} }}",
        "SELECT * WHERE {{ ?s ?p ?o OPTIONAL {{ SeRvIcE # a comment between\n<{url}> {{ ?s ?p ?o }} }} }}",
        "PREFIX : <{url}#> SELECT * WHERE {{ SERVICE:endpoint {{ ?s ?p ?o }} }}",
        "SELECT * WHERE {{ BIND(<{url}> AS ?e) SERVICE?e{{ ?s ?p ?o }} }}",
        "SELECT * WHERE {{ ?s ?p ?o FILTER(?p<?o||EXISTS{{SERVICE<{url}>{{?s?p?o}}}}) }}",
        "SELECT * WHERE {{ ?s ?p 1SERVICE <{url}> {{ ?s ?p ?o }} }}",
        "SELECT * WHERE {{ ?s ?p trueSERVICEsilent<{url}> {{ ?s ?p ?o }} }}",
        "ASK {{ SERVICE <{url}> {{ ?s ?p ?o }} }}",
        "CONSTRUCT WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }}",
        "PREFIX ex: <http://x/> SELECT * WHERE {{ ?s ex:a\\' ?o . SERVICE <{url}> {{ ?s ?p ?o }} FILTER(?o != 'x') }}",
        # A text scan reads <'x> as an IRI and the next quote as a string hiding SERVICE; the engine does not, and
        # neither does the parser that checks the query second.
        "SELECT * WHERE {{ ?s ?p <http://y/'> FILTER(?a<'x>') . SERVICE <{url}> {{ ?s ?p ?o }} FILTER(?z='q') }}",
    ],
)
def test_service_is_refused_and_no_connection_is_attempted(
    live_server: LiveServer, listening_socket: tuple[socket.socket, str], template: str
) -> None:
    sock, url = listening_socket
    response = httpx.get(live_server.sparql, params={"query": template.format(url=url)})
    assert response.status_code in {400, 403}, response.text
    if response.status_code == 403:
        assert "SERVICE is refused" in response.json()["detail"]
    assert not _connection_attempted(sock)


def test_service_refused_through_sparqlwrapper(
    live_server: LiveServer, listening_socket: tuple[socket.socket, str]
) -> None:
    sock, url = listening_socket
    with pytest.raises(Exception) as refused:
        _wrapper(live_server, f"SELECT * WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }}", JSON).queryAndConvert()
    assert getattr(refused.value, "code", None) == 403
    assert not _connection_attempted(sock)


@pytest.mark.parametrize(
    "query",
    [
        "SELECT ?x WHERE { BIND('SERVICE <http://127.0.0.1:1/> { ?s ?p ?o }' AS ?x) }",
        "SELECT ?x WHERE { BIND(<http://example.org/service> AS ?x) } # SERVICE in a comment",
        "SELECT ?service WHERE { ?service a <http://www.w3.org/ns/dcat#DataService> } LIMIT 1",
    ],
)
def test_the_word_service_outside_the_keyword_does_not_refuse(live_server: LiveServer, query: str) -> None:
    response = httpx.get(
        live_server.sparql, params={"query": query}, headers={"Accept": "application/sparql-results+json"}
    )
    assert response.status_code == 200, response.text


def test_unicode_escaped_service_keyword_does_not_reach_the_network(
    live_server: LiveServer, listening_socket: tuple[socket.socket, str]
) -> None:
    sock, url = listening_socket
    response = httpx.get(
        live_server.sparql, params={"query": f"SELECT * WHERE {{ \\u0053ERVICE <{url}> {{ ?s ?p ?o }} }}"}
    )
    assert response.status_code in {400, 403}
    assert not _connection_attempted(sock)


# --- dataset selection, service description ----------------------------------------------------------------------


def test_default_graph_uri_narrows_the_default_graph(live_server: LiveServer) -> None:
    query = "SELECT DISTINCT ?s WHERE { ?s ?p ?o }"
    params = {"query": query, "default-graph-uri": BASE + "domain/commercial"}
    response = httpx.get(live_server.sparql, params=params, headers={"Accept": "application/sparql-results+json"})
    subjects = {b["s"]["value"] for b in response.json()["results"]["bindings"]}
    assert subjects == {BASE + "domain/commercial"}


def test_named_graph_uri_limits_what_graph_sees(live_server: LiveServer) -> None:
    query = "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"
    graphs = [BASE + "source/crm", BASE + "goal/vision"]
    params = {"query": query, "named-graph-uri": graphs}
    response = httpx.get(live_server.sparql, params=params, headers={"Accept": "application/sparql-results+json"})
    assert {b["g"]["value"] for b in response.json()["results"]["bindings"]} == set(graphs)


def test_without_a_query_the_endpoint_describes_itself(live_server: LiveServer) -> None:
    response = httpx.get(live_server.sparql, headers={"Accept": "text/turtle"})
    assert response.status_code == 200
    graph = Graph().parse(data=response.text, format="turtle")
    service = URIRef(BASE + "sparql")  # named from VALUEMESH_BASE, never from the request's Host
    assert (service, RDF.type, SD.Service) in graph
    assert (service, SD.endpoint, service) in graph
    assert (service, SD.feature, SD.UnionDefaultGraph) in graph
    assert len(set(graph.objects(service, SD.resultFormat))) == 8
    as_jsonld = httpx.get(live_server.sparql, headers={"Accept": "application/ld+json"})
    assert as_jsonld.headers["content-type"].startswith("application/ld+json")
    assert json.loads(as_jsonld.text)


# --- linked data through the same server ----------------------------------------------------------------------------


def test_a_product_iri_dereferences_as_html_and_turtle(live_server: LiveServer) -> None:
    page = httpx.get(live_server.url + "/data-product/hcp-360", headers={"Accept": "text/html,*/*;q=0.8"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1>HCP 360</h1>" in page.text
    assert 'href="/data-product/crm-interactions"' in page.text  # an upstream neighbour, as a local link
    turtle = httpx.get(live_server.url + "/data-product/hcp-360", headers={"Accept": "text/turtle"})
    assert turtle.headers["content-type"].startswith("text/turtle")
    graph = Graph().parse(data=turtle.text, format="turtle")
    assert graph.value(HCP_360, RDFS.label) == Literal("HCP 360")
    assert (HCP_360, RDF.type, DPROD.DataProduct) in graph
    # rdflib resolves the product's IRI path through the server as any linked-data client would.
    fetched = Graph().parse(live_server.url + "/data-product/hcp-360")
    assert len(fetched) == len(graph)


# --- limits, with small settings on an in-process app ---------------------------------------------------------------


@pytest.fixture
def limited(seeded_store: Store) -> Iterator[TestClient]:
    settings = Settings(
        store="memory:", seed=False, sparql_max_rows=5, sparql_max_query_bytes=2000, sparql_timeout_s=0.05
    )
    with TestClient(create_app(settings, store=seeded_store), base_url="http://localhost") as client:
        # The first question after the start may wait for what it runs on (worker processes starting, on a remote
        # store the copy of the records, its first snapshot) longer than this tiny time limit: warmed up first, so
        # these tests are about the caps.
        for _ in range(100):
            if client.get("/sparql", params={"query": "ASK {}"}).status_code == 200:
                break
        yield client


def test_more_rows_than_the_cap_is_refused_with_a_clear_message(limited: TestClient) -> None:
    response = limited.get("/sparql", params={"query": PRODUCTS}, headers={"Accept": "text/csv"})
    assert response.status_code == 422
    assert "more than 5 rows" in response.json()["detail"]
    capped = limited.get("/sparql", params={"query": PRODUCTS + " LIMIT 5"}, headers={"Accept": "text/csv"})
    assert capped.status_code == 200
    assert len(capped.text.strip().splitlines()) == 6


def test_a_construct_beyond_the_cap_is_refused(limited: TestClient) -> None:
    query = sparql_prefixes() + "CONSTRUCT WHERE { ?p rdfs:label ?l }"
    response = limited.get("/sparql", params={"query": query}, headers={"Accept": "text/turtle"})
    assert response.status_code == 422


def test_query_text_over_the_size_limit_is_413(limited: TestClient) -> None:
    query = "SELECT * WHERE { ?s ?p ?o } # " + "x" * 2000
    assert limited.get("/sparql", params={"query": query}).status_code == 413
    assert limited.post("/sparql", data={"query": query}).status_code == 413
    direct = limited.post("/sparql", content=query, headers={"Content-Type": "application/sparql-query"})
    assert direct.status_code == 413
    assert "at most 2000 bytes" in direct.json()["detail"]


def test_the_size_limit_counts_the_query_not_its_url_encoding(limited: TestClient) -> None:
    query = PRODUCTS + " LIMIT 5 #"
    query += "<" * (2000 - len(query.encode()))  # each '<' is three bytes in a form body
    response = limited.post("/sparql", data={"query": query}, headers={"Accept": "text/csv"})
    assert response.status_code == 200


def test_a_query_past_the_time_limit_is_stopped_with_503(limited: TestClient) -> None:
    # Millions of rows stream out of a triple cross product; the engine is stopped at the limit, not at the end.
    query = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
    settings = limited.app.state.settings  # type: ignore[attr-defined]
    limited.app.state.settings = Settings(**{**settings.__dict__, "sparql_max_rows": 10**12})  # type: ignore[attr-defined]
    response = limited.get("/sparql", params={"query": query}, headers={"Accept": "text/csv"})
    assert response.status_code == 503
    # Ours, or a remote server's own (Virtuoso refuses up front what its cost model says would run too long).
    assert "time limit" in response.json()["detail"]
