"""SERVICE in every spelling we can generate, over every way a query reaches the engine: no connection, ever.

A loopback listener counts every connection made to it. Each generated query is first run on a bare engine (a
canary: it must reach the listener there, or the spelling proves nothing), then sent to the catalog over GET, form
POST and direct POST to an on-disk catalog (worker processes) and an in-memory one (walled threads), and through
`valuemesh query`. Every one must be refused, and the listener must count no connection from the catalog.
"""

from __future__ import annotations

import itertools
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest
from fastapi.testclient import TestClient

from server.network_sandbox import run_walled_off
from server.query_library import library
from server.query_workers import QueryJob, QueryWorkers
from server.settings import Settings
from server.sparql_text import ServiceRefused, refuse_service
from server.store.memory import MemoryStore
from server.store.oxigraph import OxigraphStore
from server.web.app import create_app
from tests.conftest import CliResult


class Listener:
    """A TCP listener on loopback that accepts and counts connections until closed."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.count = 0
        self._open = True
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while self._open:
            try:
                connection, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.count += 1
            connection.close()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def close(self) -> None:
        self._open = False
        self._thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    listening = Listener()
    yield listening
    listening.close()


# --- the spellings ---------------------------------------------------------------------------------------------

PATTERN = "{{ ?s ?p ?o }}"
# {S}: the keyword as spelled; {I}: the remote endpoint's IRI; {B}: the listener's base IRI.
PLACES = [
    "SELECT * WHERE {{ {S} {I} " + PATTERN + " }}",
    "SELECT * WHERE {{ {S} SILENT {I} " + PATTERN + " }}",
    "PREFIX e: <{B}> SELECT * WHERE {{ {S} e:sparql " + PATTERN + " }}",
    "PREFIX : <{B}> SELECT * WHERE {{ {S}:sparql " + PATTERN + " }}",
    "BASE <{B}> SELECT * WHERE {{ {S} <sparql> " + PATTERN + " }}",
    "SELECT * WHERE {{ VALUES ?v {{ {I} }} {S} ?v " + PATTERN + " }}",
    "SELECT * WHERE {{ BIND({I} AS ?v) {S} ?v " + PATTERN + " }}",
    "SELECT * WHERE {{ OPTIONAL {{ {S} {I} " + PATTERN + " }} }}",
    "SELECT * WHERE {{ {{ BIND(1 AS ?x) }} UNION {{ {S} {I} " + PATTERN + " }} }}",
    "SELECT * WHERE {{ BIND(1 AS ?x) MINUS {{ {S} {I} " + PATTERN + " }} }}",
    "SELECT * WHERE {{ BIND(1 AS ?x) FILTER EXISTS {{ {S} {I} " + PATTERN + " }} }}",
    "SELECT * WHERE {{ BIND(1 AS ?x) FILTER(?x<2||EXISTS{{{S}{I}" + PATTERN + "}}) }}",
    "SELECT * WHERE {{ {{ SELECT * WHERE {{ {S} {I} " + PATTERN + " }} }} }}",
    "SELECT * WHERE {{ BIND(1 AS ?x){S}{I}" + PATTERN + " }}",
    "SELECT * WHERE {{ BIND(true AS ?x) ?x ?y true{S} {I} " + PATTERN + " }}",
    "SELECT * WHERE {{ {S} # a comment between\n{I} " + PATTERN + " }}",
    "ASK {{ {S} {I} " + PATTERN + " }}",
    "CONSTRUCT {{ ?s ?p ?o }} WHERE {{ {S} {I} " + PATTERN + " }}",
    "DESCRIBE ?s WHERE {{ {S} {I} " + PATTERN + " }}",
    # Escapes that close a string for one reader and not another, and `<` read as an IRI by one and a comparison by
    # the other: the probe that first got through.
    'PREFIX : <{B}> SELECT * WHERE {{ BIND("X\\u0022 AS ?y) \\u0023" AS ?x) BIND((1<2)AS?z){S}:sparql#>\n'
    + PATTERN
    + " }}",
    "SELECT * WHERE {{ BIND('x\\u0027 AS ?y) \\u0023' AS ?x) {S} {I} " + PATTERN + " }}",
    "SELECT * WHERE {{ BIND('''a''' AS ?x) {S} {I} " + PATTERN + " }}",
    "SELECT * WHERE {{ BIND(1 AS ?x) FILTER(?x<'x>') {S} {I} " + PATTERN + " FILTER(?x!='y') }}",
    "SELECT * WHERE {{ BIND(<http://y/'> AS ?q) FILTER(?q<'x>') . {S} {I} " + PATTERN + " }}",
]


def _escaped(text: str, index: int, wide: bool) -> str:
    code = ord(text[index])
    escape = f"\\U{code:08X}" if wide else f"\\u{code:04X}"
    return text[:index] + escape + text[index + 1 :]


def keyword_spellings() -> list[str]:
    """SERVICE in several cases, and with each letter written as a \\u or \\U escape."""
    spellings = ["SERVICE", "service", "Service", "sErViCe", "SERVICEsilent"[:7]]
    for index, wide in itertools.product(range(7), (False, True)):
        spellings.append(_escaped("SERVICE", index, wide))
    return spellings


def iri_spellings(listener: Listener) -> list[str]:
    """The endpoint's IRI, plain and with its brackets escaped."""
    iri = f"<{listener.base}sparql>"
    return [iri, "\\u003C" + iri[1:], iri[:-1] + "\\u003E"]


def queries(listener: Listener) -> list[str]:
    """Every place with every keyword spelling, and with the endpoint's IRI in each spelling."""
    found = []
    for place in PLACES:
        iris = iri_spellings(listener) if "{I}" in place else [""]
        spellings = [(keyword, iris[0]) for keyword in keyword_spellings()] + [("SERVICE", iri) for iri in iris[1:]]
        found += [place.format(S=keyword, I=iri, B=listener.base) for keyword, iri in spellings]
    # Escaped delimiters around the keyword
    found.append(f"SELECT * WHERE {{\\u0020SERVICE\\u0020<{listener.base}sparql>\\u007B ?s ?p ?o }} }}")
    return found


def reaches_network_on_a_bare_engine(query: str, listener: Listener) -> bool:
    """The canary: does an engine with nothing in front of it connect for this query?"""
    before = listener.count
    try:
        result = ox.Store().query(query)
        if isinstance(result, ox.QueryBoolean):
            bool(result)
        else:
            list(result)  # type: ignore[call-overload]
    except (SyntaxError, OSError, RuntimeError, ValueError):
        pass
    # The listener counts a connection before closing it, and the engine returns only once it was closed.
    return listener.count > before


def _settled(listener: Listener, before: int) -> bool:
    for _ in range(20):
        if listener.count > before:
            return True
        threading.Event().wait(0.01)
    return listener.count > before


# --- the tests -------------------------------------------------------------------------------------------------


def test_every_spelling_the_bare_engine_sends_out_is_refused(listener: Listener) -> None:
    """The fuzz means something only if plenty of its queries are ones the bare engine sends out."""
    generated = queries(listener)
    reaching = [q for q in generated if reaches_network_on_a_bare_engine(q, listener)]
    assert len(reaching) >= 60, f"only {len(reaching)} of {len(generated)} spellings reach the network unguarded"
    for query in reaching:
        with pytest.raises(ServiceRefused):
            refuse_service(query)


def _transports(client: TestClient, query: str, every_way: bool) -> Iterator[int]:
    yield client.get("/sparql", params={"query": query}).status_code
    if every_way:
        yield client.post("/sparql", data={"query": query}).status_code
        yield client.post("/sparql", content=query, headers={"Content-Type": "application/sparql-query"}).status_code


@pytest.mark.parametrize("kind", ["on disk", "in memory"])
def test_no_spelling_makes_the_endpoint_connect(listener: Listener, tmp_path: Path, kind: str) -> None:
    generated = queries(listener)
    reaching = {q for q in generated if reaches_network_on_a_bare_engine(q, listener)}
    before = listener.count
    store = OxigraphStore(tmp_path / "store") if kind == "on disk" else MemoryStore()
    app = create_app(Settings(store=str(tmp_path / "store"), seed=False), store=store)
    statuses: dict[str, set[int]] = {}
    with TestClient(app, base_url="http://localhost") as client:
        for number, query in enumerate(generated):
            # Every spelling over GET; the ones that would call out, and every fifth, over both POSTs too.
            statuses[query] = set(_transports(client, query, every_way=query in reaching or number % 5 == 0))
        assert client.get("/sparql", params={"query": "ASK { }"}).status_code == 200
    # Spellings that would call out are refused as SERVICE; the others are not SPARQL the engine accepts (a \\u
    # escape outside a string or IRI) or hide the keyword in a comment under both readings.
    assert all(statuses[q] == {403} for q in reaching)
    assert set().union(*statuses.values()) <= {400, 403}
    assert not _settled(listener, before)


def test_no_spelling_makes_valuemesh_query_connect(
    listener: Listener, tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    store = str(tmp_path / "store")
    assert cli("query", "ASK { }", "--store", store, "--no-seed").exit_code == 0
    reaching = [q for q in queries(listener) if reaches_network_on_a_bare_engine(q, listener)]
    before = listener.count
    for query in reaching[::3]:
        result = cli("query", query, "--store", store, "--no-seed")
        assert result.exit_code == 2, result.stdout
        assert "SERVICE is refused" in result.stderr
    own = cli("query", "SELECT * WHERE { SERVICE ?v { ?s ?p ?o } }", "--param", f"v={listener.base}", "--store", store)
    assert own.exit_code == 2
    assert not _settled(listener, before)


def test_library_parameters_cannot_make_a_query_connect(
    listener: Listener, tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    store = str(tmp_path / "store")
    for entry in library().values():
        params = [f"{p.name}={listener.base}sparql" for p in entry.parameters if p.type == "IRI"]
        if not params:
            continue
        result = cli("query", "--name", entry.name, *(a for p in params for a in ("--param", p)), "--store", store)
        # The catalog knows nothing of the listener's IRI: the question is refused after asking whether it does
        # (a query with that IRI as a term, which must not connect either).
        assert result.exit_code == 2 and "knows nothing of" in result.stderr, result.stderr
    assert listener.count == 0


# --- the wall behind the check: the engine itself cannot connect -------------------------------------------------


def test_a_walled_thread_cannot_connect_even_when_the_check_is_bypassed(listener: Listener) -> None:
    query = f"SELECT * WHERE {{ SERVICE <{listener.base}sparql> {{ ?s ?p ?o }} }}"
    assert reaches_network_on_a_bare_engine(query, listener)  # the same query, unwalled, does connect
    before = listener.count
    with pytest.raises(OSError):
        run_walled_off(lambda: list(ox.Store().query(query)))  # type: ignore[call-overload]
    assert not _settled(listener, before)


def test_a_worker_process_cannot_connect_even_when_the_check_is_bypassed(listener: Listener, tmp_path: Path) -> None:
    store = OxigraphStore(tmp_path / "store")
    workers = QueryWorkers(store, workers=1, memory_limit_bytes=512 * 2**20)
    workers.start()
    try:
        job = QueryJob(
            f"SELECT * WHERE {{ SERVICE <{listener.base}sparql> {{ ?s ?p ?o }} }}",
            "application/sparql-results+json",
            None,
            None,
            timeout_s=10,
            max_rows=10,
        )
        with pytest.raises(Exception, match="failed in the engine"):
            workers.run(job)
        assert workers.run(QueryJob("ASK { }", "application/sparql-results+json", None, None, 10, 10))
    finally:
        workers.close()
        store.close()
    assert listener.count == 0
