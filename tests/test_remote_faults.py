"""The catalog on a remote SPARQL server when that server goes away and comes back, and with two API processes.

Each test starts its own Oxigraph server process (the `oxigraph` test extra) on a free loopback port, so it can stop
and restart it; the data directory survives restarts like a real server's.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from rdflib import Literal, URIRef
from rdflib.namespace import RDFS

from server.catalog.seeding import prepare
from server.catalog.service import Catalog
from server.errors import Conflict, StoreUnavailable
from server.identity.principal import Role
from server.identity.tokens import ApiTokens
from server.settings import Settings
from server.store.base import CLAIMS_GRAPH
from server.store.oxigraph import insert_data_text
from server.store.sparql import RemoteSparqlStore
from server.web.app import create_app

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[1]
RECORD = "https://valuemesh.example/test/faults"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until(ready: Callable[[], bool], what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{what} did not answer within {seconds:g} s")


class OxigraphServer:
    """An `oxigraph serve` process over a data directory, which can be stopped and started again on its port."""

    def __init__(self, data: Path) -> None:
        binary = os.environ.get("VALUEMESH_TEST_OXIGRAPH_BIN") or shutil.which(
            "oxigraph", path=Path(sys.executable).parent
        )
        if not binary:
            pytest.fail("the oxigraph server binary is missing: pip install -e '.[test]' installs it")
        self.binary = binary
        self.data = data
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def location(self) -> str:
        return f"sparql+http://127.0.0.1:{self.port}/query?update=/update&gsp=/store&timeout=5"

    def start(self) -> None:
        command = [self.binary, "serve", "--bind", f"127.0.0.1:{self.port}", "--location", str(self.data)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{self.port}/query?query=ASK%7B%7D"
        _wait_until(lambda: httpx.get(url, timeout=1).status_code == 200, "the oxigraph server")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def oxigraph_server(tmp_path: Path) -> Iterator[OxigraphServer]:
    server = OxigraphServer(tmp_path / "oxigraph")
    server.start()
    yield server
    server.stop()


def test_an_unreachable_server_is_503_everywhere_and_the_catalog_recovers(oxigraph_server: OxigraphServer) -> None:
    store = RemoteSparqlStore.from_location(oxigraph_server.location)
    prepare(store, with_seed=False)
    before = [(URIRef(RECORD), RDFS.label, Literal("written before the outage"))]
    store.replace_records({RECORD: before})
    with TestClient(
        create_app(Settings(store="memory:", seed=False), store=store), base_url="http://localhost"
    ) as client:
        assert client.get("/healthz").status_code == 200
        oxigraph_server.stop()

        health = client.get("/healthz")
        assert health.status_code == 503
        assert "unreachable" in health.json()["detail"]
        answer = client.get("/sparql", params={"query": "ASK { ?s ?p ?o }"})
        assert answer.status_code == 503
        assert "unreachable" in answer.text
        with pytest.raises(StoreUnavailable, match="unreachable"):
            store.replace_records({RECORD: [(URIRef(RECORD), RDFS.label, Literal("written during the outage"))]})

        oxigraph_server.start()  # same port, same data: no restart of the app
        assert client.get("/healthz").json()["status"] == "ok"
        answer = client.get(
            "/sparql",
            params={"query": f"SELECT ?label WHERE {{ <{RECORD}> ?p ?label }}"},
            headers={"Accept": "application/sparql-results+json"},
        )
        assert answer.status_code == 200
        labels = [row["label"]["value"] for row in answer.json()["results"]["bindings"]]
        assert labels == ["written before the outage"]  # the failed write left nothing behind
    store.close()


def test_a_server_killed_during_a_write_keeps_the_record_whole(oxigraph_server: OxigraphServer) -> None:
    store = RemoteSparqlStore.from_location(oxigraph_server.location)
    old = {(URIRef(RECORD), RDFS.label, Literal("old"))}
    store.replace_records({RECORD: old})
    # A large replacement in flight when the server process is killed: the one update request replace_records
    # sends to Oxigraph, built beforehand so that the kill lands while the server reads or applies it.
    new = {(URIRef(f"{RECORD}/{i}"), RDFS.label, Literal(f"new {i} " + "x" * 200)) for i in range(15_000)}
    request = insert_data_text({RECORD: new})
    outcome: list[BaseException | None] = []
    writer = threading.Thread(target=lambda: outcome.append(_attempt(lambda: store.update(request))))
    pid = oxigraph_server.process.pid  # type: ignore[union-attr]
    busy_from = _cpu_ticks(pid)
    writer.start()
    # Kill once the server has spent CPU on the request (it is parsing or applying it), not before it arrives.
    _wait_until(lambda: _cpu_ticks(pid) - busy_from >= 10 or not writer.is_alive(), "the write", seconds=20)
    oxigraph_server.process.kill()  # type: ignore[union-attr]
    oxigraph_server.process.wait()  # type: ignore[union-attr]
    writer.join()
    oxigraph_server.start()
    stored = set(store.record(RECORD))
    # Whichever way the race went, the record is the old one or the new one, never a mix or a part.
    if outcome[0] is None:
        assert stored == new
    else:
        assert isinstance(outcome[0], StoreUnavailable)
        assert stored == old
    store.close()


def _cpu_ticks(pid: int) -> int:
    """CPU time a process has used so far, in clock ticks (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def _attempt(write: Callable[[], None]) -> BaseException | None:
    try:
        write()
    except BaseException as error:
        return error
    return None


def _serve(location: str, port: int) -> subprocess.Popen[bytes]:
    """`valuemesh serve` as its own process (uvicorn), on an already seeded remote store."""
    command = [sys.executable, "-m", "server.cli.main", "serve", "--store", location, "--port", str(port), "--no-seed"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=REPO)


def _wait_for_api(process: subprocess.Popen[bytes], port: int) -> None:
    try:
        _wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200, "valuemesh")
    except AssertionError:
        process.kill()
        raise AssertionError(process.communicate()[1].decode()[-2000:]) from None


def test_two_api_processes_see_each_others_writes_at_once(oxigraph_server: OxigraphServer) -> None:
    seeding = RemoteSparqlStore.from_location(oxigraph_server.location)
    prepare(seeding, with_seed=True)
    token = _commercial_token(seeding)
    seeding.close()
    first_port, second_port = _free_port(), _free_port()
    first = _serve(oxigraph_server.location, first_port)
    second = _serve(oxigraph_server.location, second_port)
    try:
        _wait_for_api(first, first_port)
        _wait_for_api(second, second_port)
        product = "https://valuemesh.example/data-product/hcp-call-planning"
        ask = {"query": f"ASK {{ <{product}> ?p ?o }}"}
        json_results = {"Accept": "application/sparql-results+json"}
        second_url = f"http://127.0.0.1:{second_port}/sparql"
        assert httpx.get(second_url, params=ask, headers=json_results).json()["boolean"] is False

        mutation = """mutation($doc: String!) {
            registerDataProduct(document: $doc, format: YAML) { __typename ... on DataProduct { id } } }"""
        document = (DATA / "descriptors" / "hcp-call-planning.valuemesh.yaml").read_text()
        registered = httpx.post(
            f"http://127.0.0.1:{first_port}/graphql",
            json={"query": mutation, "variables": {"doc": document}},
            headers=token,
            timeout=30,
        ).json()
        assert registered["data"]["registerDataProduct"]["id"] == product, registered

        # GraphQL reads ask the same server: no waiting, no cache to expire.
        single = {"query": f'{{ dataProduct(id: "{product}") {{ id }} }}'}
        answer = httpx.post(f"http://127.0.0.1:{second_port}/graphql", json=single).json()
        assert answer["data"]["dataProduct"] == {"id": product}, answer
        # SPARQL answers from the second process's copy of the records (catalog/records_copy.py), which follows the
        # first process's write as its change follower reads it, as its derived index (listing, search, lineage) does.
        _wait_until(
            lambda: httpx.get(second_url, params=ask, headers=json_results).json()["boolean"] is True,
            "the registered product in the second process's SPARQL",
            seconds=5,
        )
        health = httpx.get(f"http://127.0.0.1:{second_port}/healthz").json()
        _wait_until(
            lambda: httpx.get(f"http://127.0.0.1:{second_port}/healthz").json()["lineage_index"] == "ready",
            "the second process's index",
        )
        assert health["store"] == "sparql+http"
        search = {"query": '{ dataProducts(search: "call planning") { edges { node { id } } } }'}
        _wait_until(
            lambda: product in str(httpx.post(f"http://127.0.0.1:{second_port}/graphql", json=search).json()),
            "the registered product in the second process's search",
            seconds=5,
        )
    finally:
        for process in (first, second):
            process.terminate()
            process.wait(timeout=10)


CREATE = """mutation ($input: DataProductInput!) {
    createDataProduct(input: $input) { __typename ... on DataProduct { id } } }"""
NAMED = (
    "PREFIX dprod: <https://ekgf.github.io/dprod/> PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> "
    "SELECT ?p WHERE { ?p a dprod:DataProduct ; rdfs:label ?name ; dprod:domain <%s> FILTER(STRSTARTS(?name, '%s')) }"
)


def _commercial_token(store: RemoteSparqlStore) -> dict[str, str]:
    """Headers with an API token of the Commercial domain's team, made in the shared store: every process knows it."""
    secret, _ = ApiTokens(store).create(
        "commercial-ci",
        agent="https://valuemesh.example/agent/commercial-team",
        domains=["https://valuemesh.example/domain/commercial"],
        roles=[Role.DOMAIN_MEMBER],
        expires_in=None,
    )
    return {"Authorization": f"Bearer {secret}"}


def _create_at_once(
    ports: list[int], inputs: list[dict[str, object]], headers: dict[str, str]
) -> list[dict[str, object]]:
    """Send every createDataProduct at the same moment, spread over the API processes; their answers in order."""
    start = threading.Barrier(len(inputs))
    answers: list[dict[str, object]] = [{} for _ in inputs]

    def create(number: int) -> None:
        port = ports[number % len(ports)]
        start.wait()
        response = httpx.post(
            f"http://127.0.0.1:{port}/graphql",
            json={"query": CREATE, "variables": {"input": inputs[number]}},
            headers=headers,
            timeout=60,
        )
        answers[number] = response.json()

    threads = [threading.Thread(target=create, args=(number,)) for number in range(len(inputs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    return answers


def _product_input(name: str) -> dict[str, object]:
    from tests.test_graphql_mutations import territory_plan_input

    return territory_plan_input(name=name)


# CI configures Virtuoso (scripts/sparql-servers.sh); elsewhere the pytest summary names it as not configured.
@pytest.fixture(params=["oxigraph-server", *(["virtuoso"] if os.environ.get("VALUEMESH_TEST_VIRTUOSO_URL") else [])])
def shared_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A remote store two API processes share, seeded: our own Oxigraph server, or CI's Virtuoso when configured."""
    if request.param == "oxigraph-server":
        server = OxigraphServer(tmp_path / "oxigraph")
        server.start()
        try:
            yield server.location
        finally:
            server.stop()
        return
    yield os.environ["VALUEMESH_TEST_VIRTUOSO_URL"]


def test_two_api_processes_racing_to_create_one_name_store_exactly_one(shared_server: str) -> None:
    store = RemoteSparqlStore.from_location(shared_server)
    store.replace_records({}, drop=store.record_iris())
    prepare(store, with_seed=True)
    token = _commercial_token(store)
    ports = [_free_port(), _free_port()]
    processes = [_serve(shared_server, port) for port in ports]
    try:
        for process, port in zip(processes, ports, strict=True):
            _wait_for_api(process, port)
        domain = "https://valuemesh.example/domain/commercial"

        answers = _create_at_once(ports, [_product_input("Race plan") for _ in range(20)], token)
        created = [a for a in answers if (a.get("data") or {}).get("createDataProduct")]  # type: ignore[union-attr]
        refused = [a["errors"][0]["extensions"]["code"] for a in answers if a.get("errors")]  # type: ignore[index]
        assert len(created) == 1, answers
        assert refused == ["CONFLICT"] * 19, answers
        assert len(store.select(NAMED % (domain, "Race plan"))) == 1

        # Different names do not hold each other up: every one is stored.
        answers = _create_at_once(ports, [_product_input(f"Parallel plan {n}") for n in range(6)], token)
        assert all((a.get("data") or {}).get("createDataProduct") for a in answers), answers  # type: ignore[union-attr]
        assert len(store.select(NAMED % (domain, "Parallel plan"))) == 6
        assert CLAIMS_GRAPH not in store.record_iris()
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
        store.replace_records({}, drop=store.record_iris())
        store.update(f"DROP SILENT GRAPH <{CLAIMS_GRAPH}>")  # claims of a process stopped mid-write
        store.close()


# What Virtuoso answers the request it picked as a deadlock's victim (it has rolled that request back whole).
DEADLOCKED = (
    "Virtuoso 40001 Error SR172: Transaction deadlocked\n\nSPARQL query:\n"
    "DELETE { GRAPH <urn:valuemesh:claims> { ?claim ?p ?o } } WHERE { ... }"
)


class DeadlockingRelay:
    """A loopback relay to a real server that answers the first `victims` updates as a deadlock's victims."""

    def __init__(self, upstream: int, victims: int) -> None:
        self.victims = victims
        self.updates_seen = 0
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._forward(b"")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.startswith("/update"):
                    relay.updates_seen += 1
                    if relay.updates_seen <= relay.victims:
                        self._answer(500, {"Content-Type": "text/plain"}, DEADLOCKED.encode())
                        return
                self._forward(body)

            def _forward(self, body: bytes) -> None:
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "accept")}
                answer = httpx.request(
                    self.command, f"http://127.0.0.1:{upstream}{self.path}", content=body, headers=headers
                )
                kept = {k: v for k, v in answer.headers.items() if k.lower() in ("content-type", "server")}
                self._answer(answer.status_code, kept, answer.content)

            def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("victims", [1, 3])
def test_a_write_the_server_rolled_back_in_a_deadlock_is_sent_again(
    oxigraph_server: OxigraphServer, victims: int
) -> None:
    relay = DeadlockingRelay(oxigraph_server.port, victims)
    try:
        store = RemoteSparqlStore.from_location(f"sparql+http://127.0.0.1:{relay.port}/query?update=/update")
        store.replace_records({RECORD: [(URIRef(RECORD), RDFS.label, Literal("written after a deadlock"))]})
        assert relay.updates_seen == victims + 1
        labels = store.select(f"SELECT ?label WHERE {{ GRAPH ?g {{ <{RECORD}> ?p ?label }} }}").column("label")
        assert [str(label) for label in labels] == ["written after a deadlock"]
        store.close()
    finally:
        relay.close()


def test_a_write_that_keeps_losing_deadlocks_is_a_conflict_and_stores_nothing(
    oxigraph_server: OxigraphServer,
) -> None:
    relay = DeadlockingRelay(oxigraph_server.port, victims=100)
    try:
        store = RemoteSparqlStore.from_location(f"sparql+http://127.0.0.1:{relay.port}/query?update=/update")
        with pytest.raises(Conflict, match="deadlock with other writes; nothing was stored, try again"):
            store.replace_records({RECORD: [(URIRef(RECORD), RDFS.label, Literal("never written"))]})
        assert relay.updates_seen == 6
        assert not store.ask(f"ASK {{ GRAPH ?g {{ <{RECORD}> ?p ?o }} }}")
        store.close()
    finally:
        relay.close()


def test_a_catalog_whose_store_was_closed_under_it_stops_following_quietly(
    oxigraph_server: OxigraphServer, caplog: pytest.LogCaptureFixture
) -> None:
    """An owner that closes the store before the catalog (a script, a test) leaves no thread polling a closed
    connection and logging about it twice a second."""
    store = RemoteSparqlStore.from_location(oxigraph_server.location)
    prepare(store, with_seed=False)
    catalog = Catalog(Settings(store="memory:", seed=False), store).open()
    follower = threading.enumerate()
    assert any(thread.name == "change-follower" for thread in follower)
    store.close()
    deadline = time.monotonic() + 5
    while any(t.name == "change-follower" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(thread.name == "change-follower" for thread in threading.enumerate())
    assert "cannot follow" not in caplog.text
    catalog.close()
