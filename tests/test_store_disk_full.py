"""A store whose disk refuses writes, as the API's clients see it: the write fails with STORE_UNAVAILABLE naming the
cause and no path, `/healthz` answers 503 while the store cannot write, and both recover without a restart.

The disk is made to refuse writes without root: a child process caps the size of the files it writes
(`RLIMIT_FSIZE`, with SIGXFSZ ignored) below the size of the store's write-ahead log, so RocksDB's next append fails
with EFBIG. That is the path a full disk takes (ENOSPC on the same append, checked by hand on a 2 MB tmpfs): RocksDB
records a background error and refuses every later write until the database is reopened, while reads still
answer. Raising the cap again is the space coming back.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from server.store.oxigraph import write_failure_reason

DATA = Path(__file__).parent / "data"
TERRITORY_PLAN = "https://valuemesh.example/data-product/territory-plan"

# Runs in the child: the real app over an on-disk store, driven through HTTP (TestClient), one JSON line per step.
CHILD = r"""
import json, resource, signal, sys, time
from pathlib import Path

from fastapi.testclient import TestClient

from server.catalog.seeding import prepare
from server.settings import Settings
from server.store import OxigraphStore
from server.web.app import create_app
from server.identity.principal import Role

directory, document = Path(sys.argv[1]), Path(sys.argv[2]).read_text()
REGISTER = "mutation($d: String!) { registerDataProduct(document: $d, format: TURTLE) { __typename } }"
REMOVE = 'mutation { removeDataProduct(id: "https://valuemesh.example/data-product/territory-plan") }'
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the cap fails with EFBIG instead of killing us
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)

def report(step, response):
    print(json.dumps({"step": step, "status": response.status_code, "body": response.text}), flush=True)

def cap_writes():  # far below the write-ahead log's size: its next append fails
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))

def register():
    return client.post("/graphql", json={"query": REGISTER, "variables": {"d": document}})

def remove():
    return client.post("/graphql", json={"query": REMOVE})

store = OxigraphStore(directory)
prepare(store, with_seed=True)
settings = Settings(store=str(directory), seed=False, allowed_hosts=("testserver",))
app = create_app(settings, store=store)
secret, _ = app.state.catalog.identity.tokens.create(
    "disk-test", agent="https://example.org/agent/platform-team", domains=[], roles=[Role.ADMIN], expires_in=None
)
with TestClient(app, headers={"Authorization": f"Bearer {secret}"}) as client:
    report("healthy", client.get("/healthz"))
    records = store.record_iris()
    cap_writes()
    report("write on a full disk", register())
    report("health on a full disk", client.get("/healthz"))
    report("a read on a full disk", client.post("/graphql", json={"query": "{ dataProducts(first: 1) { totalCount } }"}))
    report("write again on a full disk", register())
    print(json.dumps({"step": "records unchanged", "value": store.record_iris() == records}), flush=True)
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))  # space is back
    time.sleep(1.1)  # past the interval between reopening attempts that health checks make
    report("health once space is back", client.get("/healthz"))
    report("write once space is back", register())
    # A second failure recovers through the next write alone, without a health check in between.
    cap_writes()
    report("second failure", remove())
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    report("write after the second failure", remove())
"""


def _run_child(tmp_path: Path) -> dict[str, dict[str, object]]:
    directory = tmp_path / "store"
    completed = subprocess.run(
        [sys.executable, "-c", CHILD, str(directory), str(DATA / "territory-plan.ttl")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    steps = {}
    for line in completed.stdout.splitlines():
        entry = json.loads(line)
        steps[entry.pop("step")] = entry
    steps["_log"] = {"stderr": completed.stderr, "store": str(directory)}
    return steps


def _json(step: dict[str, object]) -> dict[str, object]:
    body: dict[str, object] = json.loads(str(step["body"]))
    return body


def test_a_full_disk_refuses_writes_says_so_in_health_and_recovers_without_a_restart(tmp_path: Path) -> None:
    steps = _run_child(tmp_path)
    store_path = str(steps["_log"]["store"])

    assert steps["healthy"]["status"] == 200
    assert _json(steps["healthy"])["store"] == "oxigraph"  # the kind of store, not where it lives

    for name in ("write on a full disk", "write again on a full disk", "second failure"):
        failed = _json(steps[name])
        assert failed["data"] is None, failed
        error = failed["errors"][0]  # type: ignore[index]
        assert error["extensions"]["code"] == "STORE_UNAVAILABLE", error
        assert "cannot write" in error["message"]
    # Nothing the client sees names the store's directory or RocksDB's files; the server log does.
    for step in steps.values():
        text = str(step.get("body", ""))
        assert store_path not in text and ".log" not in text and ".sst" not in text
    assert store_path in str(steps["_log"]["stderr"])

    health = steps["health on a full disk"]
    assert health["status"] == 503
    assert _json(health)["status"] == "unavailable"
    assert "cannot write" in str(_json(health)["detail"])
    assert steps["a read on a full disk"]["status"] == 200
    assert "totalCount" in str(steps["a read on a full disk"]["body"])
    assert steps["records unchanged"]["value"] is True

    assert steps["health once space is back"]["status"] == 200
    assert _json(steps["health once space is back"])["status"] == "ok"
    registered = _json(steps["write once space is back"])
    assert registered["data"] == {"registerDataProduct": {"__typename": "DataProduct"}}, registered
    removed = _json(steps["write after the second failure"])
    assert "errors" not in removed and removed["data"], removed


def test_the_reason_a_client_reads_names_the_cause_and_no_path() -> None:
    # The messages pyoxigraph raised on a full 2 MB tmpfs and under RLIMIT_FSIZE.
    full = OSError("IO error: No space left on device: While appending to file: /srv/catalog/store/000008.log: ...")
    too_large = OSError("IO error: While appending to file: /srv/catalog/store/000008.log: File too large")
    other = OSError("IO error: Input/output error: /srv/catalog/store/MANIFEST-000005")
    assert write_failure_reason(full) == "no space left on the store's disk"
    assert "largest size" in write_failure_reason(too_large)
    for error in (full, too_large, other):
        assert "/srv" not in write_failure_reason(error) and "000" not in write_failure_reason(error)
