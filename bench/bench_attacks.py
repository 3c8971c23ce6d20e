"""Every attack of the security review, replayed against the real server under a memory limit.

The server (`valuemesh serve`, in its own process group, under `prlimit --as`) serves an on-disk catalog: the
seeded example plus N synthetic products from bench/generate.py (their IRIs moved under `…/<kind>/bench-…` so none
collides with a seeded record). Each attack runs alone, bounded in requests and in time (ATTACK_BUDGET_S); while
it runs one thread polls `GET /healthz` every 50 ms and another sums the resident memory of the server's process
tree (the server and its SPARQL worker processes) from /proc every 50 ms. After each attack the server must still
answer `/healthz` with 200 ("survived"); a server that died is started again for the next attack.
Only 127.0.0.1 is ever contacted; the server is stopped at the end whatever happens.

    .venv/bin/python bench/bench_attacks.py                          # 4,000 products, 4 GiB address space
    .venv/bin/python bench/bench_attacks.py --products 500 --memory-limit 2G --only sparql-cross-product
    .venv/bin/python bench/bench_attacks.py --list                   # the attacks' names

`run(sizes, repeat, workdir)` follows the contract of bench/README.md (`repeat` is ignored: every attack runs
once); bench/run.py runs it only when `bench_attacks` is in its BENCH_MODULES.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/bench_attacks.py`: make `bench` and `server` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import contextlib
import datetime
import functools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from bench.generate import catalog_stream
from bench.timing import machine, machine_line, percentile

SEED = 7
DEFAULT_PRODUCTS = 4000
DEFAULT_MEMORY_LIMIT = 4 * 2**30
ATTACK_BUDGET_S = 60.0
POLL_S = 0.05
HEALTH_TIMEOUT_S = 5.0
SURVIVAL_WAIT_S = 15.0
HOST = "localhost"  # the server refuses Host headers it does not serve; the loopback names are served by default

ROOT = Path(__file__).resolve().parents[1]
TESTS_DATA = ROOT / "tests" / "data"
RESULTS = Path(__file__).resolve().parent / "results"
BASE = "https://valuemesh.example/"
DIGITAL_ENGAGEMENT = BASE + "data-product/digital-engagement"
DPROD_OWNER = "https://ekgf.github.io/dprod/dataProductOwner"

CROSS_PRODUCT = "SELECT * WHERE {?a ?b ?c . ?d ?e ?f . ?g ?h ?i} ORDER BY ?i LIMIT 1"
COUNT_CROSS_PRODUCT = "SELECT (COUNT(*) AS ?n) WHERE {?a ?b ?c . ?d ?e ?f . ?g ?h ?i}"
NORMAL_QUERY = "SELECT ?s WHERE { ?s a <https://ekgf.github.io/dprod/DataProduct> } LIMIT 1"
# `\u0022` and `\u0023` are written literally: the spec unescapes them before parsing, an engine may not.
SERVICE_PROBE = (
    'PREFIX : <http://127.0.0.1:{port}/> SELECT * WHERE {{ BIND("X\\u0022 AS ?y) \\u0023" AS ?x) '
    "BIND((1<2)AS?z)SERVICE:internal#>\n{{ ?s ?p ?o }} }}"
)
OWNERS_QUERY = (
    f"SELECT DISTINCT ?owner WHERE {{ {{ <{DIGITAL_ENGAGEMENT}> <{DPROD_OWNER}> ?owner }} "
    f"UNION {{ GRAPH ?g {{ <{DIGITAL_ENGAGEMENT}> <{DPROD_OWNER}> ?owner }} }} }}"
)
REGISTER = """
mutation ($doc: String!, $format: DocumentFormat) {
  registerDataProduct(document: $doc, format: $format) {
    __typename
    ... on DataProduct { id }
    ... on RegistrationRefused { report { conforms results { message } } }
  }
}
"""
# Domain.dataProducts is a plain list (optionally paged with first/after): four levels of lists under 500 products.
NESTED = (
    "dataProducts(first: 500) { edges { node { domain { dataProducts { domain { dataProducts { domain { "
    "dataProducts { domain { dataProducts { name } } } } } } } } } } }"
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the catalog and the server ----------------------------------------------------------------------------------


def _rebased(lines: Iterator[bytes]) -> Iterator[bytes]:
    """The synthetic catalog with every IRI `…/<kind>/x` moved to `…/<kind>/bench-x` (no seeded record is hit)."""
    pattern = re.compile(rb"<https://valuemesh\.example/([a-z-]+)/")
    for line in lines:
        yield pattern.sub(rb"<https://valuemesh.example/\1/bench-", line)


def build_catalog(store_dir: Path, products: int) -> None:
    """The seeded example (`prepare`, as `valuemesh load` and `serve` do), then `products` synthetic ones."""
    from server.catalog.seeding import prepare
    from server.store.oxigraph import OxigraphStore

    store = OxigraphStore(store_dir)
    try:
        prepare(store, with_seed=True)
        if products:
            stream = catalog_stream(products, SEED)
            data = b"".join(_rebased(iter(stream.readline, b"")))
            store.bulk_load(data)
    finally:
        store.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _valuemesh_command() -> list[str]:
    script = Path(sys.executable).with_name("valuemesh")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from server.cli.main import main; main()"]


class Server:
    """`valuemesh serve --no-seed` on 127.0.0.1, under `prlimit --as`, in its own process group."""

    def __init__(self, store_dir: Path, memory_limit: int, log_path: Path) -> None:
        self.store_dir = store_dir
        self.memory_limit = memory_limit
        self.log_path = log_path
        self.port = 0
        self.url = ""
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = ["prlimit", f"--as={self.memory_limit}", "--", *_valuemesh_command()]
        command += ["serve", "--no-seed", "--host", "127.0.0.1", "--port", str(self.port)]
        # The code of this tree, not whichever tree the environment's `valuemesh` was installed from (editable).
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, "VALUEMESH_STORE": str(self.store_dir), "PYTHONPATH": path}
        with self.log_path.open("a") as out:
            out.write(f"--- start {self.starts + 1}: {' '.join(command)}\n")
            out.flush()
            # A session of its own: stopping it can reach its worker processes by the group id, and only them.
            self.process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True
            )
        self.starts += 1
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if httpx.get(self.url + "/healthz", headers={"Host": HOST}, timeout=2).status_code == 200:
                    self._warm_up()
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the server did not start; see {self.log_path}")

    def _warm_up(self) -> None:
        """One GraphQL request starts the lineage index build; wait for it, so no attack shares the CPU with it."""
        with client(self.url, 60) as http:
            http.post("/graphql", json={"query": "{ dataProducts(first: 1) { edges { node { id } } } }"})
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                health = http.get("/healthz")
                if health.status_code == 200 and health.json().get("lineage_index") != "building":
                    return
                time.sleep(0.2)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is None:
            return
        group = self.process.pid  # the session leader's pid is its group id
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)  # worker processes left behind by a server that died
        self.process = None


def client(url: str, timeout: float) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Host": HOST}, timeout=timeout)


# --- what runs beside each attack --------------------------------------------------------------------------------


def tree_rss_mb(root: int) -> float:
    """The resident memory of `root` and all its descendants, from /proc, in MB."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry))
    total_pages = 0
    pending = [root]
    while pending:
        pid = pending.pop()
        pending.extend(children.get(pid, ()))
        try:
            total_pages += int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total_pages * os.sysconf("SC_PAGE_SIZE") / 2**20


@dataclass
class Monitor:
    """Health checks every POLL_S and the process tree's RSS every POLL_S, on two threads, until stopped."""

    url: str
    pid: int
    latencies_ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> Monitor:
        self._threads = [threading.Thread(target=self._poll_health), threading.Thread(target=self._sample_rss)]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _poll_health(self) -> None:
        limit = int((ATTACK_BUDGET_S + 30) / POLL_S)  # bounded even if never stopped
        with client(self.url, HEALTH_TIMEOUT_S) as http:
            for _ in range(limit):
                if self._stop.is_set():
                    return
                started = time.perf_counter()
                try:
                    status = http.get("/healthz").status_code
                    if status != 200:
                        self.failures.append(str(status))
                except httpx.HTTPError as error:
                    self.failures.append(type(error).__name__)
                self.latencies_ms.append((time.perf_counter() - started) * 1000)
                self._stop.wait(POLL_S)

    def _sample_rss(self) -> None:
        limit = int((ATTACK_BUDGET_S + 30) / POLL_S)
        for _ in range(limit):
            if self._stop.is_set():
                return
            self.peak_rss_mb = max(self.peak_rss_mb, tree_rss_mb(self.pid))
            self._stop.wait(POLL_S)


# --- the attacks -------------------------------------------------------------------------------------------------


@dataclass
class Target:
    """What an attack may use: the server's URL and the end of its time budget."""

    url: str
    deadline: float

    def remaining(self) -> float:
        return max(1.0, self.deadline - time.monotonic())


@dataclass
class Outcome:
    status: str  # the HTTP status (and what the answer said), or the connection error
    detail: dict[str, Any] = field(default_factory=dict)


def _describe(response: httpx.Response) -> str:
    """The status and, briefly, what the answer said: a GraphQL error code, a problem's title, a union's type."""
    text = str(response.status_code)
    try:
        body = response.json()
    except ValueError:
        return text
    if isinstance(body, dict):
        errors = body.get("errors")
        if errors:
            code = (errors[0].get("extensions") or {}).get("code")
            return f"{text}, error {code or ''}: {str(errors[0].get('message', ''))[:70]}".replace("|", "/")
        if body.get("title"):
            return f"{text} {body['title']}"
        data = body.get("data") or {}
        registered = data.get("registerDataProduct") if isinstance(data, dict) else None
        if isinstance(registered, dict):
            return f"{text}, {registered.get('__typename')}"
    return text


def _request(call: Callable[[], httpx.Response]) -> tuple[str, httpx.Response | None]:
    try:
        response = call()
    except httpx.HTTPError as error:
        return f"connection error: {type(error).__name__}", None
    return _describe(response), response


def _graphql(target: Target, query: str, **variables: Any) -> Outcome:
    with client(target.url, target.remaining()) as http:
        status, _ = _request(lambda: http.post("/graphql", json={"query": query, "variables": variables}))
    return Outcome(status)


def _sparql(target: Target, query: str) -> Outcome:
    with client(target.url, target.remaining()) as http:
        status, _ = _request(lambda: http.get("/sparql", params={"query": query}))
    return Outcome(status)


def billion_laughs(target: Target) -> Outcome:
    document = (TESTS_DATA / "billion-laughs.yaml").read_text()
    return _graphql(target, REGISTER, doc=document, format="YAML")


def sparql_cross_product(target: Target) -> Outcome:
    return _sparql(target, CROSS_PRODUCT)


def sparql_four_timeouts(target: Target) -> Outcome:
    """Four queries past the time limit at once; meanwhile a normal query, again and again until one answers 200."""
    sent = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as pool:
        heavy = [pool.submit(_sparql, target, COUNT_CROSS_PRODUCT) for _ in range(4)]
        time.sleep(0.5)  # the four reach the server first
        answered_after: float | None = None
        attempts = 0
        with client(target.url, target.remaining()) as http:
            while time.monotonic() < target.deadline and attempts < 200:
                attempts += 1
                try:
                    if http.get("/sparql", params={"query": NORMAL_QUERY}).status_code == 200:
                        answered_after = time.monotonic() - sent
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
        statuses = [future.result().status for future in heavy]
    detail = {
        "heavy_statuses": statuses,
        "normal_query_200_after_s": round(answered_after, 2) if answered_after is not None else None,
        "normal_query_attempts": attempts,
    }
    after = f"{answered_after:.1f} s" if answered_after is not None else "never"
    return Outcome(f"4 × {_summary(statuses)}; normal query 200 after {after}", detail)


def _summary(statuses: list[str]) -> str:
    distinct = sorted(set(statuses))
    return ", ".join(f"{statuses.count(s)}× {s}" if len(distinct) > 1 else s for s in distinct)


def graphql_nested(target: Target) -> Outcome:
    return _graphql(target, "{ " + NESTED + " }")


def graphql_nested_8_aliases(target: Target) -> Outcome:
    return _graphql(target, "{ " + " ".join(f"a{i}: {NESTED}" for i in range(8)) + " }")


def graphql_30_validations(target: Target) -> Outcome:
    return _graphql(target, "{ " + " ".join(f"v{i}: validation {{ conforms }}" for i in range(30)) + " }")


@functools.cache
def _typename_body(size: int) -> bytes:
    """A JSON GraphQL request of `size` bytes: `{ __typename }` and a long comment."""
    head, tail = b'{"query": "{ __typename } #', b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


@functools.cache
def _turtle_body(size: int) -> bytes:
    """A JSON registerDataProduct request of about `size` bytes whose Turtle document is one product plus filler."""
    product = (TESTS_DATA / "conforming-product.ttl").read_text()
    line = '<data-product/territory-planning> <https://w3id.org/valuemesh/ontology#note> "filler" .\n'
    document = product + line * ((size - len(product)) // len(line) + 1)
    return json.dumps({"query": REGISTER, "variables": {"doc": document, "format": "TURTLE"}}).encode()


def _chunks(body: bytes, size: int = 1 << 20) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def _post_body(target: Target, body: bytes, chunked: bool) -> Outcome:
    headers = {"Content-Type": "application/json"}
    with client(target.url, target.remaining()) as http:
        # A generator has no length, so httpx sends it with Transfer-Encoding: chunked and no Content-Length.
        content: bytes | Iterator[bytes] = _chunks(body) if chunked else body
        status, _ = _request(lambda: http.post("/graphql", content=content, headers=headers))
    return Outcome(status, {"body_bytes": len(body), "chunked": chunked})


def big_typename(target: Target) -> Outcome:
    return _post_body(target, _typename_body(45 * 10**6), chunked=False)


def big_typename_chunked(target: Target) -> Outcome:
    return _post_body(target, _typename_body(45 * 10**6), chunked=True)


def big_turtle(target: Target) -> Outcome:
    return _post_body(target, _turtle_body(50 * 10**6), chunked=False)


def big_turtle_chunked(target: Target) -> Outcome:
    return _post_body(target, _turtle_body(50 * 10**6), chunked=True)


def service_probe(target: Target) -> Outcome:
    """The SERVICE probe aimed at a loopback listener of ours, which counts every connection it receives."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.1)
    port = listener.getsockname()[1]
    connections = 0
    done = threading.Event()

    def count() -> None:
        nonlocal connections
        while not done.is_set():
            try:
                accepted, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connections += 1
            accepted.close()

    counter = threading.Thread(target=count)
    counter.start()
    try:
        outcome = _sparql(target, SERVICE_PROBE.format(port=port))
        time.sleep(1.0)  # a connection the query started late still counts
    finally:
        done.set()
        counter.join()
        listener.close()
    outcome.detail["connections"] = connections
    outcome.status += f"; {connections} connection(s) to the listener"
    return outcome


def _owners(url: str) -> list[str] | str:
    with client(url, 30) as http:
        try:
            response = http.get(
                "/sparql", params={"query": OWNERS_QUERY}, headers={"Accept": "application/sparql-results+json"}
            )
        except httpx.HTTPError as error:
            return f"connection error: {type(error).__name__}"
    if response.status_code != 200:
        return f"status {response.status_code}"
    return sorted(row["owner"]["value"] for row in response.json()["results"]["bindings"])


def rewrite_another_owner(target: Target) -> Outcome:
    """A new product's Turtle with one line giving Digital Engagement another owner; its owners before and after."""
    before = _owners(target.url)
    document = (TESTS_DATA / "product-rewriting-another-owner.ttl").read_text()
    outcome = _graphql(target, REGISTER, doc=document, format="TURTLE")
    after = _owners(target.url)
    unchanged = isinstance(before, list) and before == after
    outcome.detail = {"owners_before": before, "owners_after": after, "owner_unchanged": unchanged}
    outcome.status += "; owner " + ("unchanged" if unchanged else f"CHANGED: {before} -> {after}")
    return outcome


def idle(target: Target) -> Outcome:
    """No attack: the health checks and memory of the idle server, for comparison."""
    time.sleep(3)
    return Outcome("—")


ATTACKS: dict[str, tuple[str, Callable[[Target], Outcome]]] = {
    "idle": ("no attack (3 s idle, for comparison)", idle),
    "billion-laughs": ("1. YAML billion laughs via registerDataProduct", billion_laughs),
    "sparql-cross-product": ("2. SPARQL 3-way cross product, ORDER BY, LIMIT 1", sparql_cross_product),
    "sparql-four-timeouts": ("3. 4 SPARQL queries past the time limit at once, then a normal one", sparql_four_timeouts),
    "graphql-nested": ("4a. GraphQL: lists nested 4 deep under 500 products", graphql_nested),
    "graphql-nested-8": ("4b. the same with 8 aliases", graphql_nested_8_aliases),
    "graphql-30-validations": ("4c. 30 aliases of validation { conforms }", graphql_30_validations),
    "body-45mb": ("5a. 45 MB `{ __typename }` body", big_typename),
    "body-45mb-chunked": ("5b. the same, chunked (no Content-Length)", big_typename_chunked),
    "turtle-50mb": ("5c. 50 MB Turtle via registerDataProduct", big_turtle),
    "turtle-50mb-chunked": ("5d. the same, chunked (no Content-Length)", big_turtle_chunked),
    "service-probe": ("6. SERVICE probe at a loopback listener", service_probe),
    "rewrite-owner": ("7. product document rewriting Digital Engagement's owner", rewrite_another_owner),
}  # fmt: skip


# --- running them ------------------------------------------------------------------------------------------------


@dataclass
class AttackResult:
    name: str
    attack: str
    status: str
    duration_s: float
    peak_rss_mb: float
    health_p50_ms: float | None
    health_p99_ms: float | None
    health_max_ms: float | None
    health_checks: int
    health_failed: int
    survived: bool
    detail: dict[str, Any] = field(default_factory=dict)


def _survives(server: Server) -> bool:
    """Still running and answering /healthz with 200 within SURVIVAL_WAIT_S."""
    deadline = time.monotonic() + SURVIVAL_WAIT_S
    with client(server.url, HEALTH_TIMEOUT_S) as http:
        while time.monotonic() < deadline and server.alive():
            try:
                if http.get("/healthz").status_code == 200:
                    return server.alive()
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
    return False


# Bodies built before the attack starts, so building them does not share the CPU with the measured requests.
PREPARE: dict[str, Callable[[], object]] = {
    "body-45mb": lambda: _typename_body(45 * 10**6),
    "body-45mb-chunked": lambda: _typename_body(45 * 10**6),
    "turtle-50mb": lambda: _turtle_body(50 * 10**6),
    "turtle-50mb-chunked": lambda: _turtle_body(50 * 10**6),
}


def replay(server: Server, name: str) -> AttackResult:
    title, attack = ATTACKS[name]
    assert server.process is not None
    log(f"bench_attacks: {title}")
    if name in PREPARE:
        PREPARE[name]()
    started = time.monotonic()
    with Monitor(server.url, server.process.pid) as monitor:
        try:
            outcome = attack(Target(server.url, started + ATTACK_BUDGET_S))
        except Exception as error:  # an attack that breaks is a result too, not the end of the run
            outcome = Outcome(f"bench error: {type(error).__name__}: {error}")
    duration = time.monotonic() - started
    latencies = monitor.latencies_ms
    survived = _survives(server)
    result = AttackResult(
        name=name,
        attack=title,
        status=outcome.status,
        duration_s=round(duration, 2),
        peak_rss_mb=round(monitor.peak_rss_mb, 1),
        health_p50_ms=round(percentile(latencies, 50), 1) if latencies else None,
        health_p99_ms=round(percentile(latencies, 99), 1) if latencies else None,
        health_max_ms=round(max(latencies), 1) if latencies else None,
        health_checks=len(latencies),
        health_failed=len(monitor.failures),
        survived=survived,
        detail={**outcome.detail, "health_failures": sorted(set(monitor.failures))},
    )
    log(f"bench_attacks:   {result.status} in {duration:.1f} s; survived: {survived}")
    return result


def run_attacks(products: int, memory_limit: int, workdir: Path, only: list[str] | None = None) -> list[AttackResult]:
    store_dir = workdir / f"attacks-{products}"
    if store_dir.exists():
        shutil.rmtree(store_dir)
    log(f"bench_attacks: building the catalog (seed + {products:,} products) in {store_dir}")
    build_catalog(store_dir, products)
    server = Server(store_dir, memory_limit, workdir / f"attacks-{products}.log")
    results: list[AttackResult] = []
    try:
        server.start()
        for name in only or list(ATTACKS):
            if not server.alive():
                log("bench_attacks: the server is down; starting it again")
                server.stop()
                server.start()
            results.append(replay(server, name))
    finally:
        server.stop()
    return results


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def attack_table(results: list[AttackResult]) -> str:
    lines = [
        "| attack | answer | duration | peak RSS (tree) | /healthz p50 / p99 / max | failed checks | survived |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        health = f"{_ms(r.health_p50_ms)} / {_ms(r.health_p99_ms)} / {_ms(r.health_max_ms)} ms"
        lines.append(
            f"| {r.attack} | {r.status} | {r.duration_s:.1f} s | {r.peak_rss_mb:,.0f} MB | {health} | "
            f"{r.health_failed} of {r.health_checks} | {'yes' if r.survived else '**NO**'} |"
        )
    return "\n".join(lines)


def run(sizes: list[int], repeat: int, workdir: Path) -> list[dict[str, Any]]:
    """The bench/README.md contract: one row per attack and catalog size (`repeat` is ignored)."""
    if shutil.which("prlimit") is None:
        return [{"question": "attacks", "engine": "valuemesh serve", "n": n, "note": "prlimit not installed"}
                for n in sizes]  # fmt: skip
    rows: list[dict[str, Any]] = []
    for n in sizes:
        for r in run_attacks(n, DEFAULT_MEMORY_LIMIT, workdir):
            rows.append(
                {
                    "question": f"attack: {r.attack}",
                    "engine": "valuemesh serve under prlimit --as=4 GiB",
                    "n": n,
                    "p50_ms": r.health_p50_ms,
                    "p99_ms": r.health_p99_ms,
                    "samples": r.health_checks,
                    "display": f"{r.status}; survived: {'yes' if r.survived else 'NO'}",
                    **{k: v for k, v in asdict(r).items() if k not in ("attack", "name")},
                }
            )
    return rows


def _bytes(text: str) -> int:
    units = {"K": 2**10, "M": 2**20, "G": 2**30}
    text = text.strip().upper().removesuffix("IB").removesuffix("B")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Replay the security review's attacks against the real server.")
    parser.add_argument("--products", type=int, default=DEFAULT_PRODUCTS, help="synthetic products (default 4000)")
    parser.add_argument(
        "--memory-limit", type=_bytes, default=DEFAULT_MEMORY_LIMIT, help="address-space limit, e.g. 4G (default)"
    )
    parser.add_argument("--only", action="append", choices=list(ATTACKS), help="this attack only (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the attacks and exit")
    parser.add_argument("--workdir", type=Path, help="keep the catalog and the server log here")
    parser.add_argument("--out", type=Path, help="the JSON file (default bench/results/attacks-<time>.json)")
    args = parser.parse_args(argv)
    if args.list:
        for name, (title, _) in ATTACKS.items():
            print(f"{name:24} {title}")
        return 0
    if shutil.which("prlimit") is None:
        parser.error("prlimit (util-linux) is needed to limit the server's memory")
    with tempfile.TemporaryDirectory(prefix="valuemesh-bench-attacks-") as temporary:
        workdir = args.workdir or Path(temporary)
        workdir.mkdir(parents=True, exist_ok=True)
        results = run_attacks(args.products, args.memory_limit, workdir, args.only)
    info = machine()
    table = attack_table(results)
    limit = f"prlimit --as={args.memory_limit} ({args.memory_limit / 2**30:g} GiB)"
    print(machine_line(info))
    print(f"{args.products:,} synthetic products + the seeded example; server under {limit}")
    print(table)
    now = datetime.datetime.now(datetime.UTC)
    out = args.out or RESULTS / f"attacks-{now:%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "command": " ".join(sys.argv),
        "date": now.isoformat(timespec="seconds"),
        "machine": info,
        "products": args.products,
        "memory_limit_bytes": args.memory_limit,
        "results": [asdict(r) for r in results],
        "table": table,
    }
    out.write_text(json.dumps(record, indent=2) + "\n")
    log(f"bench_attacks: saved {out}")
    return 0 if all(r.survived for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
