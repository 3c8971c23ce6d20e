"""Shared fixtures: stores (empty or holding the seed) and the ASGI app over them."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server.catalog.seeding import prepare
from server.cli.main import main
from server.settings import Settings
from server.store import MemoryStore, Store
from server.web.app import create_app

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def seed_nquads() -> bytes:
    """The seeded catalog as N-Quads, built once per test run through the real, validated write path."""
    store = MemoryStore()
    prepare(store, with_seed=True)
    out = io.BytesIO()
    store.dump(out, "application/n-quads")
    return out.getvalue()


@pytest.fixture
def empty_store() -> Iterator[Store]:
    """A catalog with the ontology and no records."""
    store = MemoryStore()
    prepare(store, with_seed=False)
    yield store
    store.close()


@pytest.fixture
def seeded_store(seed_nquads: bytes) -> Iterator[Store]:
    """A fresh catalog holding the article's landscape; each test may change it freely."""
    store = MemoryStore()
    store.bulk_load(seed_nquads, "application/n-quads")
    yield store
    store.close()


@pytest.fixture
def settings() -> Settings:
    """Settings for an in-process app: nothing on disk, no seeding (fixtures bring their own store)."""
    return Settings(store="memory:", seed=False)


@pytest.fixture
def client(seeded_store: Store, settings: Settings) -> Iterator[TestClient]:
    """The real ASGI app over the seeded catalog, driven through HTTP (httpx under TestClient)."""
    with TestClient(create_app(settings, store=seeded_store)) as test_client:
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
