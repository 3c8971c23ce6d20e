"""One slow question never freezes the server: a third client's latency while two clients ask heavy questions.

`valuemesh serve --no-seed` (bench_attacks' `Server`: 127.0.0.1, its own process group, under `prlimit --as`) serves
an on-disk synthetic catalog (bench/generate.py's `build_store`). A probe client asks, one request after another
with a short pause, a product lookup (GraphQL `dataProduct(id:) { name domain { name } }` on random products) and
`GET /healthz`, and the latencies it sees are kept. It does so in phases of a fixed window each:

- idle: nothing else runs;
- SPARQL only: one client runs, in a loop, a 3-way cross join that runs until the time limit
  (`VALUEMESH_SPARQL_TIMEOUT`, 10 s by default) on the store's worker processes;
- validation only: one client runs whole-catalog validation (GraphQL `{ validation { conforms } }`) in a loop;
- both: the two heavy clients at once (the issue's target: lookup and /healthz p99 under 50 ms at 100k).

The heavy clients' throughput (requests finished in the window, their statuses and durations), the CPU time the
server's main process and its worker processes (SPARQL and validation) used in the window, and the time the main
process's threads waited for a CPU while runnable are kept too. A heavy request still running at the
end of a window is waited for (bounded) before the next phase starts, so phases do not overlap; after the last
phase the server is simply stopped. Every loop is
bounded in time and in count; only 127.0.0.1 is contacted; the server is stopped at the end whatever happens.

    .venv/bin/python bench/bench_responsive.py                         # 10k products, 30 s per phase
    .venv/bin/python bench/bench_responsive.py --with-100k             # adds 100k (minutes to build)
    .venv/bin/python bench/bench_responsive.py --sizes 1000 --window 10 --phases idle,both

`run(sizes, repeat, workdir)` follows the contract of bench/README.md (`repeat` is ignored: each phase runs once).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/bench_responsive.py`: make `bench` and `server` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import datetime
import json
import os
import random
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from bench.bench_attacks import COUNT_CROSS_PRODUCT, RESULTS, Server, client, log
from bench.generate import build_store, plan_catalog
from bench.timing import machine, machine_line, percentile

SEED = 7
WINDOW_S = 30.0
PROBE_PAUSE_S = 0.025  # between two probe requests: about 15 lookups and 15 health checks a second
PROBE_TIMEOUT_S = 10.0
PROBE_MAX = 10_000  # probe requests per phase, whatever the window
HEAVY_MAX = 1_000  # heavy requests per client and phase
HEAVY_TIMEOUT_S = 900.0  # one validation of 100k products takes minutes on a loaded 2-core machine
DRAIN_S = 900.0  # the longest wait for heavy requests still running when a window ends
MEMORY_LIMIT = 16 * 2**30  # a safety net on a shared machine, not a measured limit
TARGET_P99_MS = 50.0

LOOKUP = "query ($id: ID!) { dataProduct(id: $id) { name domain { name } } }"
VALIDATION = "{ validation { conforms } }"
PHASES = {
    "idle": "idle",
    "sparql": "SPARQL cross join to the time limit, in a loop",
    "validation": "whole-catalog validation, in a loop",
    "both": "both heavy clients at once",
}
HEAVY_OF_PHASE = {"idle": (), "sparql": ("sparql",), "validation": ("validation",), "both": ("validation", "sparql")}


# --- the heavy clients -------------------------------------------------------------------------------------------


def _validate(http: httpx.Client) -> str:
    response = http.post("/graphql", json={"query": VALIDATION})
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    if body.get("errors"):
        return f"{response.status_code} {(body['errors'][0].get('extensions') or {}).get('code', 'error')}"
    return str(response.status_code)


def _cross_join(http: httpx.Client) -> str:
    return str(http.get("/sparql", params={"query": COUNT_CROSS_PRODUCT}).status_code)


HEAVY_CALLS: dict[str, Callable[[httpx.Client], str]] = {"validation": _validate, "sparql": _cross_join}


@dataclass
class HeavyClient:
    """One heavy question asked again and again until the window ends (at most HEAVY_MAX times)."""

    name: str
    url: str
    window_end: float
    started: int = 0
    finished_in_window: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    durations_s: list[float] = field(default_factory=list)
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._loop, name=f"heavy-{self.name}", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        call = HEAVY_CALLS[self.name]
        with client(self.url, HEAVY_TIMEOUT_S) as http:
            while time.monotonic() < self.window_end and self.started < HEAVY_MAX:
                self.started += 1
                began = time.monotonic()
                try:
                    status = call(http)
                except httpx.HTTPError as error:
                    status = f"connection error: {type(error).__name__}"
                ended = time.monotonic()
                self.statuses[status] += 1
                self.durations_s.append(ended - began)
                if ended <= self.window_end:
                    self.finished_in_window += 1

    def drain(self, timeout_s: float) -> bool:
        """Wait for the request still running; whether it ended in time."""
        if self.thread is None:
            return True
        self.thread.join(timeout_s)
        return not self.thread.is_alive()

    def summary(self, window_s: float) -> dict[str, Any]:
        return {
            "started": self.started,
            "finished_in_window": self.finished_in_window,
            "running_at_the_end": self.started - len(self.durations_s),
            "per_minute": round(self.finished_in_window * 60 / window_s, 2),
            "statuses": dict(self.statuses),
            "duration_p50_s": round(percentile(self.durations_s, 50), 2) if self.durations_s else None,
            "duration_max_s": round(max(self.durations_s), 2) if self.durations_s else None,
        }


# --- the probe client --------------------------------------------------------------------------------------------


@dataclass
class Probe:
    """The third client: a product lookup, then /healthz, then again, with a short pause, until the window ends."""

    url: str
    product_ids: list[str]
    lookup_ms: list[float] = field(default_factory=list)
    health_ms: list[float] = field(default_factory=list)
    lookup_failures: Counter[str] = field(default_factory=Counter)
    health_failures: Counter[str] = field(default_factory=Counter)

    def run(self, until: float) -> None:
        rng = random.Random(SEED)
        with client(self.url, PROBE_TIMEOUT_S) as http:
            for i in range(PROBE_MAX):
                if time.monotonic() >= until:
                    return
                if i % 2 == 0:
                    self._timed(lambda: self._lookup(http, rng.choice(self.product_ids)), self.lookup_ms,
                                self.lookup_failures)  # fmt: skip
                else:
                    self._timed(lambda: str(http.get("/healthz").status_code), self.health_ms, self.health_failures)
                time.sleep(PROBE_PAUSE_S)

    @staticmethod
    def _lookup(http: httpx.Client, product: str) -> str:
        response = http.post("/graphql", json={"query": LOOKUP, "variables": {"id": product}})
        body = response.json()
        if body.get("errors") or not (body.get("data") or {}).get("dataProduct"):
            return f"{response.status_code} {str(body.get('errors'))[:60]}"
        return str(response.status_code)

    @staticmethod
    def _timed(call: Callable[[], str], latencies: list[float], failures: Counter[str]) -> None:
        started = time.perf_counter()
        try:
            status = call()
        except httpx.HTTPError as error:
            status = f"connection error: {type(error).__name__}"
        latencies.append((time.perf_counter() - started) * 1000)
        if status != "200":
            failures[status] += 1


def latency_summary(samples: list[float], failures: Counter[str]) -> dict[str, Any]:
    if not samples:
        return {"count": 0, "failures": dict(failures)}
    return {
        "count": len(samples),
        "p50_ms": round(percentile(samples, 50), 1),
        "p95_ms": round(percentile(samples, 95), 1),
        "p99_ms": round(percentile(samples, 99), 1),
        "max_ms": round(max(samples), 1),
        "failures": dict(failures),
    }


# --- CPU time of the server's processes --------------------------------------------------------------------------


def _cpu_s(pid: int, *, reaped_children: bool = False) -> float:
    """utime + stime of `pid`; with `reaped_children`, that of its children it has waited for (cutime + cstime)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    first = 13 if reaped_children else 11
    return (int(fields[first]) + int(fields[first + 1])) / os.sysconf("SC_CLK_TCK")


def _waited_s(pid: int) -> float:
    """Seconds the threads of `pid` have spent runnable but waiting for a CPU (schedstat's run delay), summed."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0
    for task in tasks:
        try:
            total += int(Path(f"/proc/{pid}/task/{task}/schedstat").read_text().split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total / 1e9


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    return found


@dataclass
class CpuClock:
    """CPU seconds of the server's main process and of its worker processes (its children) since `start`, and the
    seconds the main process's threads waited for a CPU while runnable (a machine busy with other work shows here).

    A worker killed at the time limit leaves /proc; its time then counts in the server's reaped-children total."""

    pid: int
    main_s: float = 0.0
    waited_s: float = 0.0
    reaped_s: float = 0.0
    workers: dict[int, float] = field(default_factory=dict)

    def start(self) -> None:
        self.main_s = _cpu_s(self.pid)
        self.waited_s = _waited_s(self.pid)
        self.reaped_s = _cpu_s(self.pid, reaped_children=True)
        self.workers = {child: _cpu_s(child) for child in _children(self.pid)}

    def shares(self, window_s: float) -> dict[str, float]:
        """Cores used on average over the window: 1.0 is one core busy all the time."""
        main = _cpu_s(self.pid) - self.main_s
        reaped = _cpu_s(self.pid, reaped_children=True) - self.reaped_s
        # A worker reaped in the window counted its time before the window too: subtract what it had at the start.
        live = _children(self.pid)
        gone_before = sum(used for child, used in self.workers.items() if child not in live)
        workers = reaped - gone_before + sum(_cpu_s(child) - self.workers.get(child, 0.0) for child in live)
        waited = _waited_s(self.pid) - self.waited_s
        return {
            "server_main_cores": round(main / window_s, 2),
            "sparql_workers_cores": round(workers / window_s, 2),
            "server_main_waiting_for_cpu": round(waited / window_s, 2),
        }


# --- one phase, one size -----------------------------------------------------------------------------------------


@dataclass
class PhaseResult:
    n: int
    phase: str
    title: str
    window_s: float
    lookup: dict[str, Any]
    health: dict[str, Any]
    heavy: dict[str, dict[str, Any]]
    cpu: dict[str, float]
    load_average: tuple[float, float, float]
    drained: bool


def run_phase(
    server: Server, n: int, phase: str, window_s: float, product_ids: list[str], *, last: bool = False
) -> PhaseResult:
    assert server.process is not None
    log(f"bench_responsive: {n:,} products, {PHASES[phase]} ({window_s:.0f} s)")
    clock = CpuClock(server.process.pid)  # `prlimit` execs the server: the launched pid is the server's own
    began = time.monotonic()
    heavy_end = began + 1.0 + window_s
    heavy = [HeavyClient(name, server.url, heavy_end) for name in HEAVY_OF_PHASE[phase]]
    for worker in heavy:
        worker.start()
    if heavy:
        time.sleep(1.0)  # the heavy requests reach the server before the probe starts
    clock.start()
    probe = Probe(server.url, product_ids)
    probe_start = time.monotonic()
    probe.run(until=probe_start + window_s)
    measured_s = time.monotonic() - probe_start
    cpu = clock.shares(measured_s)
    load = os.getloadavg()
    # After the last phase the server is stopped, which ends what still runs; before another, it must end first.
    drained = all(worker.drain(0.0 if last else DRAIN_S) for worker in heavy)
    if not drained and not last:
        log("bench_responsive: a heavy request outlived the drain; the next phase shares the server with it")
    return PhaseResult(
        n=n,
        phase=phase,
        title=PHASES[phase],
        window_s=round(measured_s, 1),
        lookup=latency_summary(probe.lookup_ms, probe.lookup_failures),
        health=latency_summary(probe.health_ms, probe.health_failures),
        heavy={worker.name: worker.summary(window_s) for worker in heavy},
        cpu=cpu,
        load_average=(round(load[0], 2), round(load[1], 2), round(load[2], 2)),
        drained=drained,
    )


def run_size(n: int, phases: list[str], window_s: float, workdir: Path, memory_limit: int) -> list[PhaseResult]:
    store_dir = workdir / f"responsive-{n}"
    if store_dir.exists():
        shutil.rmtree(store_dir)
    log(f"bench_responsive: generating and loading {n:,} products into {store_dir}")
    started = time.monotonic()
    build_store(n, SEED, store_dir).close()
    log(f"bench_responsive: built in {time.monotonic() - started:.0f} s")
    plan = plan_catalog(n, SEED)
    product_ids = [p.iri for p in random.Random(SEED).sample(plan.products, min(200, len(plan.products)))]
    del plan
    server = Server(store_dir, memory_limit, workdir / f"responsive-{n}.log")
    results: list[PhaseResult] = []
    try:
        server.start()
        for i, phase in enumerate(phases):
            if not server.alive():
                raise RuntimeError(f"the server died; see {server.log_path}")
            results.append(run_phase(server, n, phase, window_s, product_ids, last=i == len(phases) - 1))
    finally:
        server.stop()
    return results


# --- reporting ---------------------------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def _latency_cell(summary: dict[str, Any]) -> str:
    if not summary.get("count"):
        return "—"
    text = " / ".join(_ms(summary[k]) for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms"))
    failed = sum(summary["failures"].values())
    return f"{text} ms ({summary['count']}{f', {failed} failed' if failed else ''})"


def _heavy_cell(summary: dict[str, Any] | None) -> str:
    if summary is None:
        return "—"
    statuses = [f"{count}× {status}" for status, count in summary["statuses"].items()]
    if summary["running_at_the_end"]:
        statuses.append(f"{summary['running_at_the_end']} still running when the server stopped")
    return f"{summary['finished_in_window']} in the window ({summary['per_minute']}/min); {', '.join(statuses)}"


def table(results: list[PhaseResult]) -> str:
    lines = [
        "| products | phase | lookup p50 / p95 / p99 / max (count) | /healthz p50 / p95 / p99 / max (count) "
        "| validations in the window | SPARQL cross joins in the window | server CPU: main / workers (cores) "
        "| main waiting for a CPU (s/s) | p99 < 50 ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        holds = all(s.get("count") and s["p99_ms"] < TARGET_P99_MS for s in (r.lookup, r.health))
        lines.append(
            f"| {r.n:,} | {r.title} | {_latency_cell(r.lookup)} | {_latency_cell(r.health)} | "
            f"{_heavy_cell(r.heavy.get('validation'))} | {_heavy_cell(r.heavy.get('sparql'))} | "
            f"{r.cpu['server_main_cores']:.2f} / {r.cpu['sparql_workers_cores']:.2f} | "
            f"{r.cpu.get('server_main_waiting_for_cpu', 0.0):.2f} | {'yes' if holds else '**no**'} |"
        )
    return "\n".join(lines)


def run(sizes: list[int], repeat: int, workdir: Path) -> list[dict[str, Any]]:
    """The bench/README.md contract: per size and phase, a lookup row and a /healthz row (`repeat` is ignored)."""
    if shutil.which("prlimit") is None:
        return [{"question": "responsiveness", "engine": "valuemesh serve", "n": n, "note": "prlimit not installed"}
                for n in sizes]  # fmt: skip
    rows: list[dict[str, Any]] = []
    for n in sizes:
        for r in run_size(n, list(PHASES), WINDOW_S, workdir, MEMORY_LIMIT):
            for what, summary in (("product lookup", r.lookup), ("GET /healthz", r.health)):
                rows.append(
                    {
                        "question": f"responsiveness: {what}",
                        "engine": f"valuemesh serve, {r.title}",
                        "n": n,
                        "p50_ms": summary.get("p50_ms"),
                        "p99_ms": summary.get("p99_ms"),
                        "samples": summary.get("count", 0),
                        **{k: v for k, v in asdict(r).items() if k not in ("n", "lookup", "health")},
                        **{k: v for k, v in summary.items() if k not in ("p50_ms", "p99_ms")},
                    }
                )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Lookup and /healthz latency while heavy questions run.")
    parser.add_argument("--sizes", default="10000", help="catalog sizes, comma-separated (default 10000)")
    parser.add_argument("--with-100k", action="store_true", help="add a 100,000-product catalog")
    parser.add_argument("--window", type=float, default=WINDOW_S, help="seconds per phase (default 30)")
    parser.add_argument(
        "--phases", default=",".join(PHASES), help=f"comma-separated, of {', '.join(PHASES)} (default: all)"
    )
    parser.add_argument("--workdir", type=Path, help="keep the catalogs and the server logs here")
    parser.add_argument("--out", type=Path, help="the JSON file (default bench/results/responsive-<time>.json)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.with_100k and 100_000 not in sizes:
        sizes.append(100_000)
    phases = [p for p in args.phases.split(",") if p]
    unknown = [p for p in phases if p not in PHASES]
    if unknown:
        parser.error(f"unknown phase(s): {', '.join(unknown)}")
    if not 1 <= args.window <= 600:
        parser.error("--window must be between 1 and 600 seconds")
    if shutil.which("prlimit") is None:
        parser.error("prlimit (util-linux) is needed to limit the server's memory")
    results: list[PhaseResult] = []
    with tempfile.TemporaryDirectory(prefix="valuemesh-bench-responsive-") as temporary:
        workdir = args.workdir or Path(temporary)
        workdir.mkdir(parents=True, exist_ok=True)
        for n in sizes:
            results += run_size(n, phases, args.window, workdir, MEMORY_LIMIT)
    info = machine()
    text = table(results)
    print(machine_line(info))
    print(f"load average (1, 5, 15 min) at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(text)
    now = datetime.datetime.now(datetime.UTC)
    out = args.out or RESULTS / f"responsive-{now:%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "command": " ".join(sys.argv),
        "date": now.isoformat(timespec="seconds"),
        "machine": info,
        "window_s": args.window,
        "sparql_timeout_s": os.environ.get("VALUEMESH_SPARQL_TIMEOUT", "10 (default)"),
        "results": [asdict(r) for r in results],
        "table": text,
    }
    out.write_text(json.dumps(record, indent=2) + "\n")
    log(f"bench_responsive: saved {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
