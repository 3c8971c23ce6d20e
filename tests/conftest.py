"""Shared fixtures: stores (empty or holding the seed) and the ASGI app over them."""

from __future__ import annotations

import io
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pyoxigraph as ox
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from server.catalog.seeding import prepare
from server.cli.main import main
from server.errors import StoreUnavailable
from server.identity.principal import Role
from server.settings import Settings
from server.store import MemoryStore, Store, open_store
from server.store.base import SERVICE_PREFIX
from server.store.terms import to_rdflib
from server.web.app import create_app

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[1]
# The team's shared folder (the GraphQL contract, the descriptor standards' schemas and examples) sits beside the
# repository; VALUEMESH_SHARED points elsewhere.
SHARED = Path(os.environ.get("VALUEMESH_SHARED") or REPO.parent / "shared")


@pytest.fixture(autouse=True)
def own_cache_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test its own `$XDG_CACHE_HOME`: shapes are judged afresh in every test (nothing remembered from another)
    and nothing is written to the cache of the user running the tests."""
    home = tmp_path_factory.mktemp("cache-home")
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def seed_nquads() -> bytes:
    """The seeded catalog as N-Quads, built once per test run through the real, validated write path."""
    store = MemoryStore()
    prepare(store, with_seed=True)
    out = io.BytesIO()
    store.dump(out, "application/n-quads")
    return out.getvalue()


# Remote SPARQL servers the store tests also run against, each configured by one environment variable
# (scripts/sparql-servers.sh starts both and prints them). A configured server that does not answer fails the
# tests that use it; with an unconfigured one they are skipped, saying so (one line each in pytest's -rs summary,
# since the skip comes from one place: the `backend` fixture), and it is named in the pytest header and summary.
REMOTE_BACKENDS = {"oxigraph-server": "VALUEMESH_TEST_OXIGRAPH_URL", "virtuoso": "VALUEMESH_TEST_VIRTUOSO_URL"}


def configured_backends() -> dict[str, str]:
    """Remote backend name -> store location, for those whose variable is set."""
    return {name: os.environ[var] for name, var in REMOTE_BACKENDS.items() if os.environ.get(var)}


DIGEST_BACKEND = "VALUEMESH_TEST_VIRTUOSO_DIGEST_URL"


def not_configured(name: str, variable: str) -> str:
    """Why the tests of a remote backend did not run, as pytest's skip summary prints it."""
    return f"{name} not configured: set {variable} (scripts/sparql-servers.sh starts one and prints it)"


def skip_suite(reason: str) -> NoReturn:
    """Skip this test, which belongs to a suite that cannot run here (a backend, the browser), for `reason`: pytest's
    -rs summary gives the suite one line, not one per test."""
    skipped = pytest.skip.Exception(reason)
    skipped.whole_suite = True  # type: ignore[attr-defined]  # read by pytest_runtest_makereport
    raise skipped


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A suite's skips are reported at the suite's folder rather than at each test, so -rs folds them into one line."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    whole_suite = call.excinfo is not None and getattr(call.excinfo.value, "whole_suite", False)
    if report.skipped and whole_suite and isinstance(report.longrepr, tuple):
        report.longrepr = (str(item.path.parent), None, report.longrepr[2])


def _backends_line() -> str:
    parts = ["memory"]
    for name, var in REMOTE_BACKENDS.items():
        location = os.environ.get(var)
        parts.append(f"{name} ({location})" if location else f"{name}: NOT CONFIGURED (set {var})")
    if not os.environ.get(DIGEST_BACKEND):
        parts.append(f"digest authentication: NOT CONFIGURED (set {DIGEST_BACKEND})")
    return "store backends: " + ", ".join(parts)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "all_backends: run with the store on memory and on every configured remote SPARQL server"
    )


def _shared_line() -> str | None:
    if (SHARED / "contract" / "schema.graphql").is_file():
        return None
    return (
        f"shared folder NOT FOUND at {SHARED}: the GraphQL contract and descriptor-standard tests will fail; "
        "put the project's shared/ beside the repository or set VALUEMESH_SHARED"
    )


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [line for line in (_backends_line(), _shared_line()) if line]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.write_line(_backends_line())
    missing = _shared_line()
    if missing:
        terminalreporter.write_line(missing)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--all-backends",
        action="store_true",
        help="run every test that uses a store on every configured backend, not only those marked all_backends",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    everywhere = metafunc.config.getoption("--all-backends")
    if "backend" in metafunc.fixturenames and (everywhere or metafunc.definition.get_closest_marker("all_backends")):
        # every remote backend, configured or not: an unconfigured one's tests show up as skipped, with the reason
        metafunc.parametrize("backend", ["memory", *REMOTE_BACKENDS], indirect=True)
    if "authenticated_location" in metafunc.fixturenames:
        metafunc.parametrize("authenticated_location", ["virtuoso-digest"], indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """Which store the store fixtures build: memory, unless the test is marked `all_backends`."""
    name: str = getattr(request, "param", "memory")
    if name != "memory" and name not in configured_backends():
        skip_suite(not_configured(name, REMOTE_BACKENDS[name]))
    return name


@pytest.fixture
def authenticated_location(request: pytest.FixtureRequest) -> str:
    """The store location of a SPARQL server behind digest authentication (CI's Virtuoso), if one is configured."""
    location = os.environ.get(DIGEST_BACKEND)
    if not location:
        skip_suite(not_configured("virtuoso with digest authentication", DIGEST_BACKEND))
    return location


def _open_remote(name: str) -> Store:
    """A configured remote store, emptied of every record; fails loudly when its server does not answer."""
    location = configured_backends()[name]
    store = open_store(location)
    try:
        store.replace_records({}, drop=store.record_iris())
        # The catalog's own data a previous test left: claims of a killed process, API tokens, change notes, versions.
        rows = store.select(
            f'SELECT DISTINCT ?g WHERE {{ GRAPH ?g {{ ?s ?p ?o }} FILTER(STRSTARTS(STR(?g), "{SERVICE_PREFIX}")) }}'
        )
        left = [str(row["g"]) for row in rows]
        if left:
            store.update(" ;\n".join(f"DROP SILENT GRAPH <{graph}>" for graph in left))
    except StoreUnavailable as error:
        store.close()
        pytest.fail(f"backend {name} is configured ({REMOTE_BACKENDS[name]}={location}) but unusable: {error}")
    return store


def _records_from_nquads(nquads: bytes) -> dict[str, list[tuple]]:
    records: dict[str, list[tuple]] = {}
    for quad in ox.parse(nquads, ox.RdfFormat.N_QUADS):
        triple = (to_rdflib(quad.subject), to_rdflib(quad.predicate), to_rdflib(quad.object))
        records.setdefault(quad.graph_name.value, []).append(triple)
    return records


@pytest.fixture
def empty_store(backend: str) -> Iterator[Store]:
    """A catalog with the ontology and no records."""
    store = MemoryStore() if backend == "memory" else _open_remote(backend)
    prepare(store, with_seed=False)
    yield store
    store.close()


@pytest.fixture
def seeded_store(seed_nquads: bytes, backend: str) -> Iterator[Store]:
    """A fresh catalog holding the article's landscape; each test may change it freely."""
    if backend == "memory":
        store: Store = MemoryStore()
        store.bulk_load(seed_nquads, "application/n-quads")  # type: ignore[attr-defined]
    else:
        store = _open_remote(backend)
        store.replace_records(_records_from_nquads(seed_nquads))
    yield store
    store.close()


@pytest.fixture
def settings() -> Settings:
    """Settings for an in-process app: nothing on disk, no seeding (fixtures bring their own store). Run events are
    kept for good: the OpenLineage fixtures carry fixed dates (tests of the retention set their own)."""
    return Settings(store="memory:", seed=False, lineage_retention_days=36500)


def admin_token(app: FastAPI, name: str = "test-admin") -> dict[str, str]:
    """Headers carrying a fresh ADMIN API token of `app`'s catalog, as a platform team's pipeline would send."""
    secret, _ = app.state.catalog.identity.tokens.create(
        name, agent="https://example.org/agent/platform-team", domains=[], roles=[Role.ADMIN], expires_in=None
    )
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def client(seeded_store: Store, settings: Settings) -> Iterator[TestClient]:
    """The real ASGI app over the seeded catalog, driven through HTTP (httpx under TestClient), as an ADMIN's
    pipeline (its API token on every request)."""
    app = create_app(settings, store=seeded_store)
    with TestClient(app, base_url="http://localhost", headers=admin_token(app)) as test_client:
        yield test_client


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliResult]:
    """Run the real `valuemesh` entry point in-process, as a user's shell would, and capture what it prints."""

    def run(*args: str) -> CliResult:
        monkeypatch.setattr(sys, "argv", ["valuemesh", *args])
        capfd.readouterr()
        code = 0
        try:
            main()
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        out, err = capfd.readouterr()
        return CliResult(code, out, err)

    return run


def ready_app(settings: Settings, store: Store) -> FastAPI:
    """The app over `store` with its lineage index built and the checklist verdicts filled ahead after it, so no
    background work asks the store anything later (tests that count the store's queries per request)."""
    app = create_app(settings, store=store)
    index = app.state.catalog.index
    assert index is not None
    index.refresh()
    deadline = time.monotonic() + 60
    while app.state.catalog.checklists.state == "filling" and time.monotonic() < deadline:
        time.sleep(0.02)
    return app


def free_port() -> int:
    """A TCP port of 127.0.0.1 nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(app: FastAPI, port: int) -> Iterator[str]:
    """`app` under uvicorn on `port` of 127.0.0.1, as `valuemesh serve` runs it; yields its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the uvicorn test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
