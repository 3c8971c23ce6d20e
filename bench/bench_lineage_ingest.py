"""OpenLineage ingest over HTTP: `POST /api/v1/lineage` of the real app under uvicorn in its own process, on disk.

Runs of the seed's jobs (START then COMPLETE, each reading two datasets and writing one): four in five write a
dataset a seed product publishes (attributed: the product's observed-lineage record is rewritten, at most every 5 s),
one in five writes datasets nobody publishes (kept unattributed). Sent in batches (a JSON array per request, one
client after the other, in the order the events happened), as an API token of ADMIN. Per batch size: events per
second over the whole run, the server process's CPU time per event (what the shared machine's load does not
change), and the latency of one request (p50, p99). Target (issue 16): at least 2,000 events/s on the 2-core
machine.

    .venv/bin/python bench/bench_lineage_ingest.py                       # batches of 100 and 1000, 20,000 events each
    .venv/bin/python bench/bench_lineage_ingest.py --batches 10 100 --events 5000
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/bench_lineage_ingest.py`: make `bench` and `server` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import json
import os
import random
import socket
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bench.timing import Row, machine, machine_line, percentile

WAREHOUSE = "postgres://warehouse.roche.example:5432"
PUBLISHED = [
    "commercial.crm.interactions",
    "commercial.f2f.meetings",
    "commercial.mdm.hcp",
    "commercial.hcp360.profiles",
]
PRODUCER = "https://github.com/valuemesh/valuemesh/bench"
SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


def serve(store_dir: Path, port: int, token_file: Path) -> None:
    """The app over a seeded on-disk store, as `valuemesh serve` runs it, with an ADMIN token written to a file."""
    import uvicorn

    from server.catalog.seeding import prepare
    from server.identity.principal import Role
    from server.settings import Settings
    from server.store import open_store
    from server.web.app import create_app

    store = open_store(str(store_dir))
    prepare(store, with_seed=True)
    app = create_app(Settings(store=str(store_dir), seed=False), store=store)
    secret, _ = app.state.catalog.identity.tokens.create(
        "bench-pipeline", agent="https://valuemesh.example/agent/bench", domains=[], roles=[Role.ADMIN], expires_in=None
    )
    token_file.write_text(secret)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """The API in its own process: the client's work does not share its interpreter."""

    summary_wait_s = 6.0  # the server rewrites a product's summary at most every 5 s (server/openlineage/observed.py)

    def __init__(self, workdir: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        token_file = workdir / "token"
        self._log = (workdir / "server.log").open("w")
        command = [sys.executable, str(Path(__file__).resolve()), "--serve", str(workdir / "store")]
        command += ["--port", str(self.port), "--token-file", str(token_file)]
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                health = httpx.get(self.url + "/healthz", timeout=1)
                if health.status_code == 200 and health.json().get("lineage_index") != "building":
                    self.token = token_file.read_text()
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the API server did not start; see {workdir / 'server.log'}")

    def cpu_s(self) -> float:
        """CPU time the server process has used so far (all its threads), from /proc."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self._log.close()


def run_events(count: int, rng: random.Random) -> list[dict[str, Any]]:
    """`count` events: runs of START then COMPLETE over the last week, in the order they happened (as producers
    send them)."""
    events: list[dict[str, Any]] = []
    now = datetime.now(UTC)
    while len(events) < count:
        run_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        known = rng.random() < 0.8
        writes = [(WAREHOUSE, rng.choice(PUBLISHED))] if known else [("s3://landing", f"curated/{rng.randrange(500)}")]
        reads = [(WAREHOUSE, f"commercial.raw.t{rng.randrange(50)}") for _ in range(2)]
        started = now - timedelta(minutes=rng.randrange(60 * 24 * 7))
        for state, at in (("START", started), ("COMPLETE", started + timedelta(minutes=rng.randrange(1, 60)))):
            events.append(
                {
                    "eventType": state,
                    "eventTime": at.isoformat(),
                    "producer": PRODUCER,
                    "schemaURL": SCHEMA_URL,
                    "run": {"runId": run_id, "facets": {}},
                    "job": {"namespace": "airflow://bench", "name": f"job_{rng.randrange(200)}", "facets": {}},
                    "inputs": [{"namespace": ns, "name": n, "facets": {}} for ns, n in reads],
                    "outputs": [{"namespace": ns, "name": n, "facets": {}} for ns, n in writes],
                }
            )
    events.sort(key=lambda e: e["eventTime"])
    return events[:count]


def ingest(server: Server, events: list[dict[str, Any]], batch: int) -> Row:
    """Post `events` in batches of `batch`, one request after the other; events/s and per-request latency."""
    headers = {"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"}
    bodies = [json.dumps(events[i : i + batch]).encode() for i in range(0, len(events), batch)]
    latencies: list[float] = []
    stored = 0
    with httpx.Client(base_url=server.url, headers=headers, timeout=120) as client:
        client.post("/api/v1/lineage", content=bodies[0])  # warm-up (its events then count as duplicates)
        began, cpu_began = time.perf_counter(), server.cpu_s()
        for content in bodies:
            start = time.perf_counter()
            answer = client.post("/api/v1/lineage", content=content)
            latencies.append((time.perf_counter() - start) * 1000)
            if answer.status_code != 201:
                raise RuntimeError(f"{answer.status_code}: {answer.text[:500]}")
            stored += answer.json()["stored"]
        elapsed = time.perf_counter() - began
        time.sleep(server.summary_wait_s)  # the summaries still pending are written: their cost counts too
        cpu = server.cpu_s() - cpu_began
    rate = len(events) / elapsed
    return Row(
        question=f"ingest, batches of {batch}",
        engine="POST /api/v1/lineage over HTTP",
        n=len(events),
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
        samples=len(latencies),
        note=f"{rate:,.0f} events/s ({stored} stored anew); {len(events) / cpu:,.0f} events per CPU second",
        extra={"events_per_s": rate, "events_per_cpu_s": len(events) / cpu},
    )


def run(batches: list[int], events: int, workdir: Path) -> list[Row]:
    rows = []
    rng = random.Random(16)
    for batch in batches:
        directory = workdir / f"batch-{batch}"
        directory.mkdir(parents=True, exist_ok=True)
        server = Server(directory)
        try:
            rows.append(ingest(server, run_events(events, rng), batch))
        finally:
            server.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--token-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.token_file)
        return
    with tempfile.TemporaryDirectory(prefix="valuemesh-bench-lineage-") as workdir:
        rows = run(args.batches, args.events, Path(workdir))
    print(machine_line(machine()))
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("| batch | events | events/s | server: events per CPU second | p50 per request | p99 per request |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        rate, per_cpu = row.extra["events_per_s"], row.extra["events_per_cpu_s"]
        print(
            f"| {row.question} | {row.n:,} | {rate:,.0f} | {per_cpu:,.0f} | {row.p50_ms:.1f} ms | {row.p99_ms:.1f} ms |"
        )


if __name__ == "__main__":
    main()
