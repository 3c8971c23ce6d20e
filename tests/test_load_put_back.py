"""A bulk load through a scratch store (a batch into a catalog that holds records) whose write fails and whose undo
fails too (the disk still full) keeps the copy of what it took out (the records it replaces, the events counter) and
says how to put the store back: `valuemesh load --put-back` then puts every quad back, and event numbers go on from
where they were. Through the API the client learns that an operator must act, without the server's paths; the
server's log names the copy and the command.

The disk fills for real: a child process caps the size of the files it writes (RLIMIT_FSIZE, SIGXFSZ ignored: the
write fails with EFBIG, as on a full disk; see tests/test_store_disk_full.py) once the batch starts going into the
store, after the graphs it replaces were dropped: nothing more fits in any file, so putting them back fails too.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bench.generate import generate_catalog, plan_catalog
from server.catalog.events import event_count
from server.catalog.put_back import PENDING_GRAPH
from server.identity.tokens import ApiTokens
from server.store.base import MARKER_GRAPH
from server.store.oxigraph import OxigraphStore
from tests.conftest import CliResult
from tests.test_bulk_in_place import everything
from tests.test_bulk_load import CAT, PRODUCTS, one_replaced_and_a_domain_added

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")
CHANGED = plan_catalog(PRODUCTS, seed=3).products[0].iri
EVENT_NUMBER = "https://w3id.org/valuemesh/ontology#eventNumber"
NUMBERS_USED_TWICE = f"SELECT ?n WHERE {{ GRAPH ?e {{ ?e <{EVENT_NUMBER}> ?n }} }} GROUP BY ?n HAVING (COUNT(?e) > 1)"

# Shared by both children: a catalog on disk with an API token and the first file loaded; `fill_the_disk()` makes
# every later write fail.
SETUP = r"""
import io, json, resource, signal, sys
from pathlib import Path
from server.catalog.bulk_load import dump_everything, load_files
from server.catalog.seeding import prepare
from server.identity.principal import SYSTEM, Role
from server.identity.tokens import ApiTokens
from server.store.oxigraph import OxigraphStore

directory, first, second = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)

def fill_the_disk():
    resource.setrlimit(resource.RLIMIT_FSIZE, (512, hard))

def free_the_disk():
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))

def everything(store):
    out = io.BytesIO()
    dump_everything(store, out)
    return sorted(out.getvalue().decode().splitlines())

def prepared(store):
    prepare(store, with_seed=False)
    ApiTokens(store).create("pipeline", agent="https://example.org/agent/platform", domains=[], roles=[Role.ADMIN],
                            expires_in=None)
    load_files(store, [first], actor=SYSTEM)
    return store
"""

# `valuemesh load` of the second file, as the CLI runs it (the disk fills as the batch is read into the store).
BY_CLI = (
    SETUP
    + r"""
from server.catalog.bulk_in_place import load_files_alone
from server.catalog.bulk_load import BulkProgress
from server.errors import StoreUnavailable

store = prepared(OxigraphStore(directory))
phases = []

def advance(amount):
    if phases[-1:] == ["writing"]:
        fill_the_disk()

before = everything(store)
try:
    load_files_alone(store, [second], actor=SYSTEM, progress=BulkProgress(start=lambda p, t: phases.append(p),
                                                                          advance=advance))
    error = None
except StoreUnavailable as refused:
    error = str(refused)
free_the_disk()
print(json.dumps({"error": error, "before": before, "after": everything(store)}))
"""
)

# `POST /api/v1/load` of the second file through the real app (the disk fills as the batch goes into the store).
BY_API = (
    SETUP
    + r"""
from fastapi.testclient import TestClient
from server.settings import Settings
from server.web.app import create_app

class FillingDisk(OxigraphStore):
    armed = False

    def bulk_load(self, data, media_type="application/n-quads"):
        if self.armed:
            fill_the_disk()
        return super().bulk_load(data, media_type)

    def bulk_extend(self, quads):  # the scratch path writes the batch's quads straight from its scratch store
        if self.armed:
            fill_the_disk()
        return super().bulk_extend(quads)

store = prepared(FillingDisk(directory))
app = create_app(Settings(store=str(directory), seed=False, allowed_hosts=("testserver",)), store=store)
secret, _ = app.state.catalog.identity.tokens.create(
    "loader", agent="https://example.org/agent/loader", domains=[], roles=[Role.ADMIN], expires_in=None
)
with TestClient(app, headers={"Authorization": f"Bearer {secret}"}) as client:
    store.armed = True
    answer = client.post("/api/v1/load", content=second.read_bytes(), headers={"Content-Type": "application/n-quads"})
    free_the_disk()
    # The disk has room again, but the store may hold part of that load: no write until the operator puts it back.
    again = client.post("/api/v1/load", content=second.read_bytes(), headers={"Content-Type": "application/n-quads"})
    health = client.get("/healthz")
print(json.dumps({"status": answer.status_code, "media_type": answer.headers["content-type"], "body": answer.json(),
                  "again": again.status_code, "health": health.status_code, "health_detail": health.json()["detail"],
                  "secret": secret}))
"""
)


# `valuemesh serve` started again on that store (its secret as the fourth argument), before anyone put it back.
RESTARTED = r"""
import json, logging, sys
from pathlib import Path
from fastapi.testclient import TestClient
from server.settings import Settings
from server.web.app import create_app

logging.basicConfig(level=logging.ERROR)
directory, second, secret = Path(sys.argv[1]), Path(sys.argv[3]), sys.argv[4]
app = create_app(Settings(store=str(directory), seed=False, allowed_hosts=("testserver",)))
with TestClient(app, headers={"Authorization": f"Bearer {secret}"}) as client:
    load = client.post("/api/v1/load", content=second.read_bytes(), headers={"Content-Type": "application/n-quads"})
    health = client.get("/healthz")
    products = client.post("/graphql", json={"query": "{ dataProducts(first: 1) { totalCount } }"})
print(json.dumps({"load": load.status_code, "load_detail": load.json()["detail"], "health": health.status_code,
                  "health_detail": health.json()["detail"],
                  "products": products.json()["data"]["dataProducts"]["totalCount"]}))
"""


@pytest.fixture(scope="module")
def catalog_lines() -> list[str]:
    return list(generate_catalog(PRODUCTS, seed=3))


@pytest.fixture
def two_files(tmp_path: Path, catalog_lines: list[str]) -> tuple[Path, Path]:
    """A catalog, and a second batch that replaces one of its products and adds a domain's worth of new ones."""
    first = tmp_path / "first.nq"
    first.write_text("".join(catalog_lines))
    second = tmp_path / "second.nq"
    second.write_text("".join(one_replaced_and_a_domain_added(catalog_lines)))
    return first, second


def run_child(script: str, directory: Path, files: tuple[Path, Path], *more: str) -> tuple[dict[str, Any], str]:
    child = subprocess.run(
        [sys.executable, "-c", script, str(directory), *map(str, files), *more],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert child.returncode == 0, child.stderr[-4000:]
    return json.loads(child.stdout.splitlines()[-1]), child.stderr


def reading(directory: Path, read: Callable[[OxigraphStore], T]) -> T:
    """What `read` finds in the store at `directory`, opened for it alone (and let go after: its lock too)."""
    store = OxigraphStore(directory)
    try:
        return read(store)
    finally:
        store.close()


def without_marker(quads: list[str]) -> list[str]:
    """Every quad but the store's marker, which a put-back renews (what follows the store reads it again)."""
    return [quad for quad in quads if f"<{MARKER_GRAPH}>" not in quad]


def graphs_of(quads: list[str]) -> set[str]:
    return {quad.rsplit(" ", 2)[-2] for quad in quads}


PUT_BACK_SAID = re.compile(
    r"the store failed while loading the batch and could not be put back \((?P<reason>[^)]*)\); it may hold part of "
    r"the batch and lack the stored versions of the records the batch replaces and the events counter, kept in "
    r"(?P<kept>\S+)\. Once the store can write again \(space freed\), put it back as it was before this load with: "
    r"(?P<command>valuemesh load --put-back .*)"
)


def test_the_command_a_failed_load_prints_puts_every_quad_back_and_events_number_on(
    cli: Callable[..., CliResult], tmp_path: Path, two_files: tuple[Path, Path]
) -> None:
    directory = tmp_path / "catalog"
    seen, _ = run_child(BY_CLI, directory, two_files)
    said = PUT_BACK_SAID.fullmatch(seen["error"] or "")
    assert said is not None, seen["error"]
    assert "largest size" in said["reason"]
    # What the failed write took out is missing from the store: the product it replaces, the events counter.
    missing = graphs_of(seen["before"]) - graphs_of(seen["after"])
    assert {f"<{CHANGED}>", "<urn:valuemesh:events>"} <= missing
    kept = Path(said["kept"])
    assert kept.is_file() and sorted(p.name for p in kept.parent.iterdir()) == [kept.name]  # the batch's copy is gone
    program, *arguments = shlex.split(said["command"])
    assert program == "valuemesh" and arguments[-1] == str(kept) and str(directory) in arguments

    # The failed load's process is gone; no later one writes onto that store, and each says how to put it back.
    refused = cli("load", str(two_files[1]), "--store", str(directory))
    assert refused.exit_code == 2
    assert "may hold part of a load that did not finish" in refused.stderr
    assert said["command"] in refused.stderr
    read = cli("export", "--store", str(directory), "--format", "nquads")
    assert read.exit_code == 0 and said["command"] in read.stderr  # reading it still works, with the same warning
    assert reading(directory, everything) == seen["after"]

    done = cli(*arguments)
    assert done.exit_code == 0, done.stderr
    assert "is back as it was before the failed load" in done.stderr
    assert PENDING_GRAPH not in " ".join(reading(directory, everything))
    quads, tokens, events_before = reading(
        directory, lambda store: (everything(store), [t.name for t in ApiTokens(store).all()], event_count(store))
    )
    assert without_marker(quads) == without_marker(seen["before"])
    assert tokens == ["pipeline"] and events_before > PRODUCTS
    shutil.rmtree(kept.parent)

    # Loading the batch again now numbers its events on from where they were: none is used twice.
    again = cli("load", str(two_files[1]), "--store", str(directory))
    assert again.exit_code == 0, again.stderr
    events, used_twice = reading(directory, lambda store: (event_count(store), store.select(NUMBERS_USED_TWICE).rows))
    assert events > events_before and used_twice == []


def test_a_client_of_the_api_is_told_an_operator_must_act_and_the_server_log_says_how(
    cli: Callable[..., CliResult], tmp_path: Path, two_files: tuple[Path, Path]
) -> None:
    directory = tmp_path / "catalog"
    seen, log = run_child(BY_API, directory, two_files)
    assert seen["status"] == 500 and seen["media_type"] == "application/problem+json"
    body = seen["body"]
    assert body["code"] == "STORE_NOT_PUT_BACK" and body["title"] == "Store not put back"
    assert "could not be put back" in body["detail"] and "operator must put it back" in body["detail"]
    assert "largest size" in body["detail"]
    assert str(tmp_path) not in json.dumps(body) and "valuemesh load" not in body["detail"]
    assert seen["again"] == 503 and seen["health"] == 503  # refused until put back, with room on the disk again
    assert "operator must put it back" in seen["health_detail"] and str(tmp_path) not in seen["health_detail"]

    said = PUT_BACK_SAID.search(log)
    assert said is not None, log[-4000:]
    kept = Path(said["kept"])
    assert kept.is_file()

    # The server restarted before the operator acted: it still refuses every write, and its log names the command.
    after, restart_log = run_child(RESTARTED, directory, two_files, seen["secret"])
    assert after["load"] == 503 and "did not finish" in after["load_detail"]
    assert str(tmp_path) not in after["load_detail"]
    assert after["health"] == 503 and "operator must put it back" in after["health_detail"]
    assert after["products"] > 0  # reads go on
    assert said["command"].splitlines()[0] in restart_log

    done = cli(*shlex.split(said["command"].splitlines()[0])[1:])
    assert done.exit_code == 0, done.stderr
    records, events, used_twice = reading(
        directory,
        lambda store: (store.record_iris(), event_count(store), store.select(NUMBERS_USED_TWICE).rows),
    )
    assert f"{CAT}domain/commercial-2" not in records and f"{CAT}domain/commercial" in records  # the batch is gone
    assert events > PRODUCTS and used_twice == []
    shutil.rmtree(kept.parent)


def test_a_lost_copy_can_be_abandoned_and_the_store_taken_as_it_is(
    cli: Callable[..., CliResult], tmp_path: Path, two_files: tuple[Path, Path]
) -> None:
    directory = tmp_path / "catalog"
    seen, _ = run_child(BY_CLI, directory, two_files)
    said = PUT_BACK_SAID.fullmatch(seen["error"] or "")
    assert said is not None, seen["error"]
    shutil.rmtree(Path(said["kept"]).parent)  # the copy is lost (a reboot cleared /tmp)
    done = cli(*shlex.split(said["command"])[1:])
    assert done.exit_code == 2  # the command the error named cannot run now
    assert cli("load", str(two_files[1]), "--store", str(directory)).exit_code == 2  # nor any write

    abandoned = cli("load", "--abandon-put-back", "--store", str(directory))
    assert abandoned.exit_code == 0, abandoned.stderr
    assert "takes writes again as it is" in abandoned.stderr
    # Nothing put back, nothing taken out: only the note is gone.
    assert reading(directory, everything) == [quad for quad in seen["after"] if PENDING_GRAPH not in quad]
    again = cli("load", str(two_files[1]), "--store", str(directory))
    assert again.exit_code == 0, again.stderr
    nothing = cli("load", "--abandon-put-back", "--store", str(directory))
    assert nothing.exit_code == 2 and "holds no unfinished load" in nothing.stderr
