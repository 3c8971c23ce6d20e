"""A bulk load keeps the history of what it registers, whichever way it goes (through a scratch store, or in place
into a catalog without records): each record gets a version 1 by the loader, at the load's time, as the event
`<kind>.registered`, numbered on from the events counter, which moves by the number of records."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.generate import generate_catalog
from server.catalog import bulk_load
from server.catalog.bulk_in_place import in_place_applies, load_files_alone
from server.catalog.bulk_load import BulkProgress, load_files
from server.catalog.events import decode_cursor, event_count, events_after, latest_cursor, record_event
from server.catalog.history import Action, history, record_kind
from server.catalog.seeding import ONTOLOGY_GRAPH, prepare
from server.catalog.writes import WriteOutcome
from server.identity.principal import Principal, Role
from server.store.oxigraph import OxigraphStore

PRODUCTS = 40
MIGRATOR = Principal(
    id="https://valuemesh.example/agent/migration", name="Migration job", roles=frozenset({Role.ADMIN}), via="token"
)


@pytest.fixture
def catalog_file(tmp_path: Path) -> Path:
    path = tmp_path / "catalog.nq"
    path.write_text("".join(generate_catalog(PRODUCTS, seed=5)))
    return path


@pytest.fixture
def store(tmp_path: Path) -> Iterator[OxigraphStore]:
    """A catalog without records whose events counter has already moved (an event before the load)."""
    opened = OxigraphStore(tmp_path / "catalog")
    prepare(opened, with_seed=False)
    record_event(opened, "catalog.prepared", "https://valuemesh.example/", MIGRATOR)
    yield opened
    opened.close()


def in_place(store: OxigraphStore, path: Path, monkeypatch: pytest.MonkeyPatch) -> WriteOutcome:
    monkeypatch.setattr(bulk_load, "IN_MEMORY_LIMIT_BYTES", 0)  # the in-place path is for files too large for memory
    assert in_place_applies(store, [path], MIGRATOR)
    silent = BulkProgress(start=lambda phase, total: None, advance=lambda amount: None)
    return load_files_alone(store, [path], actor=MIGRATOR, progress=silent)


def through_scratch(store: OxigraphStore, path: Path, monkeypatch: pytest.MonkeyPatch) -> WriteOutcome:
    return load_files(store, [path], actor=MIGRATOR)


@pytest.mark.parametrize("load", [in_place, through_scratch])
def test_each_record_a_bulk_load_registers_has_version_one_by_the_loader_as_an_event(
    load: Callable[[OxigraphStore, Path, pytest.MonkeyPatch], WriteOutcome],
    store: OxigraphStore,
    catalog_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counted, cursor = event_count(store), latest_cursor(store)
    started = datetime.now(UTC)
    outcome = load(store, catalog_file, monkeypatch)
    finished = datetime.now(UTC)
    records = sorted(set(store.record_iris()) - {ONTOLOGY_GRAPH})
    assert outcome.added == records and len(records) > PRODUCTS

    assert event_count(store) == counted + len(records)
    events = events_after(store, cursor, limit=len(records) + 10)
    assert [decode_cursor(e.cursor) for e in events] == list(range(counted + 1, counted + len(records) + 1))
    assert [e.subject for e in events] == records  # one each, numbered in the order of their IRIs
    by_record = {e.subject: e for e in events}
    kinds = set()
    for record, event in by_record.items():
        kind = record_kind(record, store.record(record))
        kinds.add(kind)
        assert event.kind == f"{kind}.registered", record
        assert (event.actor, event.actor_name) == (MIGRATOR.id, MIGRATOR.name)
        assert event.data == {"version": 1, "action": "REGISTER"}
        assert started <= datetime.fromisoformat(event.at.replace("Z", "+00:00")) <= finished
    assert {"data-product", "domain", "agent"} <= kinds

    for record in records[:: max(1, len(records) // 12)]:  # the history API, for records of every kind
        (version,) = history(store, record)
        assert (version.version, version.action, version.by, version.by_name) == (
            1,
            Action.REGISTER,
            MIGRATOR.id,
            MIGRATOR.name,
        )
        assert version.at is not None and started <= version.at <= finished
