"""HTTP hardening as a client meets it: bodies over the limit get 413 before they are read, unknown `Host` headers
get 400, and every face's responses carry the security headers browsers act on."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from rdflib import Graph, URIRef

from server.settings import Settings
from server.store import MemoryStore, Store
from server.web.app import create_app
from server.web.hardening import allowed_hosts, host_name
from server.web.sparql_endpoint import SD
from tests.conftest import free_port, serving

HCP_360 = "https://valuemesh.example/data-product/hcp-360"
LIMIT = 50_000
# What TestClient sends as Host: these tests name it, the default settings do not allow it.
TEST_HOST = "testserver"
REGISTER = """mutation($document: String!) {
  registerDataProduct(document: $document, format: TURTLE) { __typename }
}"""


def _settings(**changes: object) -> Settings:
    fields: dict[str, object] = {"store": "memory:", "seed": False, "allowed_hosts": (TEST_HOST,)}
    return Settings(**{**fields, **changes})  # type: ignore[arg-type]


@pytest.fixture
def limited(seeded_store: Store) -> Iterator[TestClient]:
    """The app with a small body limit, so that tests send kilobytes rather than megabytes."""
    with TestClient(create_app(_settings(max_body_bytes=LIMIT), store=seeded_store)) as client:
        yield client


def _problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, object] = response.json()
    assert problem["status"] == status
    return problem


# --- body size -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "content_type"),
    [
        ("POST", "/graphql", "application/json"),
        ("POST", "/sparql", "application/sparql-query"),
        ("POST", "/sparql", "application/x-www-form-urlencoded"),
        ("GET", "/healthz", "text/plain"),
        ("GET", "/data-product/hcp-360", "text/plain"),
    ],
)
def test_a_body_over_the_limit_is_refused_from_its_length(
    limited: TestClient, method: str, path: str, content_type: str
) -> None:
    body = b"{ __typename }" + b" " * LIMIT
    response = limited.request(method, path, content=body, headers={"content-type": content_type})
    problem = _problem(response, 413)
    assert problem["title"] == "Request body too large"
    assert f"at most {LIMIT} bytes" in str(problem["detail"])


def test_a_chunked_body_over_the_limit_is_refused(limited: TestClient) -> None:
    def chunks() -> Iterator[bytes]:  # no length: httpx sends it chunked
        yield b'{"query": "{ __typename }", "padding": "'
        for _ in range(2 * LIMIT // 1000):
            yield b"x" * 1000
        yield b'"}'

    response = limited.post("/graphql", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in response.request.headers
    problem = _problem(response, 413)
    assert f"over {LIMIT} bytes" in str(problem["detail"])


def test_a_body_within_the_limit_is_answered(limited: TestClient) -> None:
    response = limited.post("/graphql", json={"query": "{ __typename }", "padding": "x" * (LIMIT // 2)})
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


def test_a_refused_registration_stores_nothing(limited: TestClient, seeded_store: Store) -> None:
    before = seeded_store.record_iris()
    document = "@prefix dprod: <https://ekgf.github.io/dprod/> .\n" + "# padding\n" * LIMIT
    response = limited.post("/graphql", json={"query": REGISTER, "variables": {"document": document}})
    _problem(response, 413)
    assert seeded_store.record_iris() == before


def test_the_sparql_query_limit_still_answers_within_the_body_limit(seeded_store: Store) -> None:
    settings = _settings(sparql_max_query_bytes=1_000)
    with TestClient(create_app(settings, store=seeded_store)) as client:
        response = client.post(
            "/sparql", content="ASK {}" + " " * 2_000, headers={"content-type": "application/sparql-query"}
        )
    problem = _problem(response, 413)
    assert problem["title"] == "Query too large"


def test_the_default_limit_fits_a_big_registration_and_the_largest_sparql_form() -> None:
    settings = Settings()
    assert settings.max_body_bytes >= 3 * settings.sparql_max_query_bytes
    assert settings.max_body_bytes >= 2_000_000


def test_the_limit_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VALUEMESH_MAX_BODY_BYTES", "1234")
    assert Settings.from_env().max_body_bytes == 1234


# --- a real uvicorn: a chunked body is refused while it streams -------------------------------------------------


@pytest.fixture
def live_url() -> Iterator[str]:
    """uvicorn on a free port of 127.0.0.1, with the default Host rules and a small body limit."""
    port = free_port()
    app = create_app(Settings(store="memory:", seed=False, port=port, max_body_bytes=LIMIT), store=MemoryStore())
    with serving(app, port) as url:
        yield url.removeprefix("http://")


def test_uvicorn_answers_413_to_an_endless_chunked_body_before_it_ends(live_url: str) -> None:
    host, port = live_url.split(":")
    endless = 200 * 1024 * 1024  # what the client would send if nobody stopped it
    chunk = b"x" * 65536
    sent = 0
    answer = b""
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(
            f"POST /graphql HTTP/1.1\r\nHost: {live_url}\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        connection.setblocking(False)
        try:
            while sent < endless and not answer:
                try:
                    connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    sent += len(chunk)
                except BlockingIOError:
                    time.sleep(0.01)
                with contextlib.suppress(BlockingIOError):
                    answer = connection.recv(65536)
        except (BrokenPipeError, ConnectionResetError):
            pass
        connection.setblocking(True)
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            more = connection.recv(65536)
            if not more:
                break
            answer += more
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head
    assert json.loads(body)["title"] == "Request body too large"
    # The server stopped the client long before the end: what it read is the limit, the rest sat in socket buffers.
    assert sent < endless / 4, f"the client sent {sent} bytes before the 413"


# --- Host -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["localhost:8000", "127.0.0.1:8000", "[::1]:8000", "localhost", "valuemesh.example"])
def test_the_default_answers_the_loopback_names_and_the_base(seeded_store: Store, host: str) -> None:
    with TestClient(create_app(Settings(store="memory:", seed=False), store=seeded_store)) as client:
        response = client.get("/healthz", headers={"host": host})
    assert response.status_code == 200


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:8000", TEST_HOST, "localhost.attacker.example"])
def test_the_default_refuses_any_other_host(seeded_store: Store, host: str) -> None:
    with TestClient(create_app(Settings(store="memory:", seed=False), store=seeded_store)) as client:
        for path in ("/healthz", "/graphql", "/sparql", "/data-product/hcp-360"):
            problem = _problem(client.get(path, headers={"host": host}), 400)
            assert problem["title"] == "Unknown host"
            assert "VALUEMESH_ALLOWED_HOSTS" in str(problem["detail"])
            assert "localhost" in str(problem["detail"])


def test_a_mutation_through_an_unknown_host_stores_nothing(seeded_store: Store) -> None:
    before = seeded_store.record_iris()
    mutation = 'mutation { removeDataProduct(id: "' + HCP_360 + '") { __typename } }'
    with TestClient(create_app(Settings(store="memory:", seed=False), store=seeded_store)) as client:
        _problem(client.post("/graphql", json={"query": mutation}, headers={"host": "attacker.example"}), 400)
    assert seeded_store.record_iris() == before


def test_the_default_follows_the_base_and_a_specific_bind_address() -> None:
    loopback = {"localhost", "127.0.0.1", "[::1]"}
    assert allowed_hosts(Settings(base="https://catalog.example.org/c/")) == loopback | {"catalog.example.org"}
    assert allowed_hosts(Settings(host="0.0.0.0")) == loopback | {"valuemesh.example"}
    assert allowed_hosts(Settings(host="10.1.2.3")) == loopback | {"valuemesh.example", "10.1.2.3"}
    assert allowed_hosts(Settings(host="fd00::5")) == loopback | {"valuemesh.example", "[fd00::5]"}


def test_allowed_hosts_from_the_environment(monkeypatch: pytest.MonkeyPatch, seeded_store: Store) -> None:
    monkeypatch.setenv("VALUEMESH_ALLOWED_HOSTS", " catalog.internal , Other.Example.")
    settings = Settings.from_env()
    assert settings.allowed_hosts == ("catalog.internal", "Other.Example.")
    assert allowed_hosts(settings) == {"catalog.internal", "other.example"}
    monkeypatch.setenv("VALUEMESH_ALLOWED_HOSTS", "*")
    assert allowed_hosts(Settings.from_env()) is None
    with TestClient(create_app(Settings.from_env(store="memory:", seed=False), store=seeded_store)) as client:
        assert client.get("/healthz", headers={"host": "anything.example"}).status_code == 200


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("LocalHost:8000", "localhost"),
        ("[::1]:8000", "[::1]"),
        ("[::1]", "[::1]"),
        ("example.org.", "example.org"),
        ("[nonsense]:1", None),
        ("a:b:c", None),
        ("evil.example/x", None),
        ("", None),
    ],
)
def test_host_name(header: str, name: str | None) -> None:
    assert host_name(header) == name


def test_the_service_description_names_the_base_not_the_host_header(seeded_store: Store) -> None:
    settings = _settings(allowed_hosts=("*",), base="https://catalog.example.org/products/")
    with TestClient(create_app(settings, store=seeded_store)) as client:
        response = client.get("/sparql", headers={"host": "attacker.example", "accept": "text/turtle"})
    assert response.status_code == 200
    graph = Graph().parse(data=response.text, format="turtle")
    endpoints = {str(o) for o in graph.objects(None, SD.endpoint)}
    assert endpoints == {"https://catalog.example.org/sparql"}
    assert "attacker" not in response.text
    assert isinstance(next(iter(graph.subjects(SD.endpoint, None))), URIRef)


# --- security headers --------------------------------------------------------------------------------------------

STRICT = ("default-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors 'none'")


def _assert_hardened(response: httpx.Response) -> str:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    return policy


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status"),
    [
        ("GET", "/healthz", {}, None, 200),
        ("POST", "/graphql", {"content-type": "application/json"}, b'{"query": "{ __typename }"}', 200),
        ("GET", "/sparql", {"accept": "text/turtle"}, None, 200),
        ("GET", "/sparql?query=ASK%7B%7D", {}, None, 200),
        ("GET", "/sparql?query=nonsense", {}, None, 400),
        ("GET", "/data-product/hcp-360", {"accept": "text/turtle"}, None, 200),
        ("GET", "/data-product/hcp-360", {"accept": "text/html"}, None, 200),
        ("GET", "/data-product/no-such-product", {"accept": "text/html"}, None, 404),
        ("GET", "/no-such-path", {}, None, 404),
        ("GET", "/healthz", {"host": "attacker.example"}, None, 400),
        ("POST", "/graphql", {"content-type": "application/json"}, b" " * (LIMIT + 1), 413),
    ],
)
def test_every_face_sends_the_security_headers(
    limited: TestClient, method: str, path: str, headers: dict[str, str], body: bytes | None, status: int
) -> None:
    response = limited.request(method, path, headers=headers, content=body)
    assert response.status_code == status
    policy = _assert_hardened(response)
    for directive in STRICT:
        assert directive in policy


def test_an_unhandled_error_page_sends_the_security_headers_too(seeded_store: Store) -> None:
    app = create_app(Settings(store="memory:", seed=False), store=seeded_store)

    def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/broken", broken)
    with TestClient(app, base_url="http://localhost", raise_server_exceptions=False) as client:
        response = client.get("/broken")
    assert response.status_code == 500
    assert "a bug" not in response.text
    policy = _assert_hardened(response)
    for directive in STRICT:
        assert directive in policy


def test_a_record_page_has_nothing_inline_and_allows_nothing_inline(limited: TestClient) -> None:
    # A port's page (the generic record page): its stylesheet and scripts are files of this server.
    response = limited.get("/data-product/hcp-360/port/api", headers={"accept": "text/html"})
    assert response.status_code == 200
    policy = _assert_hardened(response)
    assert "script-src 'self'" in policy
    assert "style-src" not in policy  # default-src 'self': stylesheets from this server only
    assert "<style" not in response.text
    assert re.findall(r"<script(?![^>]*\bsrc=)", response.text) == []
    assert '<link rel="stylesheet"' in response.text
    assert "'unsafe-inline'" not in policy


def _directive(policy: str, name: str) -> str:
    return next((d.strip() for d in policy.split(";") if d.strip().startswith(name + " ")), "")


def test_graphiql_gets_a_policy_allowing_exactly_what_it_loads(limited: TestClient) -> None:
    response = limited.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = _assert_hardened(response)
    assert "<script>" not in response.text  # its boot script is a static file: no inline script to allow
    assert _directive(policy, "script-src") == "script-src 'self'"
    assert _directive(policy, "connect-src") == "connect-src 'self'"
    assert "http" not in policy  # no CDN, no other host, anywhere
    assert "'unsafe-eval'" not in policy
    # GraphiQL's dialogs write a <style> element (see hardening.graphiql_policy); nothing else is loosened
    assert _directive(policy, "style-src") == "style-src 'self' 'unsafe-inline'"


def test_the_api_docs_page_gets_the_strict_policy_and_its_icons(limited: TestClient) -> None:
    response = limited.get("/docs")
    assert response.status_code == 200
    policy = _assert_hardened(response)
    assert "<script>" not in response.text
    for directive in STRICT:
        assert directive in policy
    assert _directive(policy, "img-src") == "img-src 'self' data:"
    assert "'unsafe-inline'" not in policy and "http" not in policy
    assert limited.get("/redoc").status_code == 404  # ReDoc loads its logo from its maker's CDN: not served


def test_an_answer_over_https_tells_browsers_to_keep_to_https(seeded_store: Store) -> None:
    settings = Settings(store="memory:", seed=False, base="https://catalog.example.org/")
    app = create_app(settings, store=seeded_store)
    with TestClient(app, base_url="http://catalog.example.org") as plain:
        assert "strict-transport-security" not in plain.get("/healthz").headers  # browsers ignore it over http
    with TestClient(app, base_url="https://catalog.example.org") as secure:
        assert secure.get("/healthz").headers["strict-transport-security"] == "max-age=31536000"
