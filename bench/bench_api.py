"""The API end to end: GraphQL over HTTP (uvicorn on 127.0.0.1) against the same work done closer to the metal.

For lineage, goal trace and overlap on a generated catalog, side by side on the same inputs:
- GraphQL over HTTP: `valuemesh`'s app (the real `create_app`) under uvicorn in its own process, on disk;
- a bare FastAPI JSON endpoint in the same server doing the same catalog calls (what GraphQL itself costs);
- the same catalog functions (the same SPARQL) on pyoxigraph in this process, read-only on the same store;
- for lineage, the same walk over the derived lineage index the API uses (server/catalog/lineage_index.py);
- rdflib's own SPARQL engine running the same catalog functions (the baseline to beat by 10x);
- a breadth-first search / set arithmetic over dicts built from the generator's plan (the floor).
Then throughput (requests per second, several client threads) of a product lookup and a lineage query through
GraphQL and through the bare JSON endpoint.

    .venv/bin/python bench/bench_api.py                    # 10k products
    .venv/bin/python bench/bench_api.py --with-100k        # adds 100k (minutes: generation, load, rdflib parse)
    .venv/bin/python bench/bench_api.py --sizes 1000 --repeat 2

`run(sizes, repeat, workdir)` follows the contract of bench/README.md, so bench/run.py picks these rows up too.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/bench_api.py`: make `bench` and `server` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import gc
import json
import random
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import httpx
from fastapi import Request
from rdflib import Dataset, Graph
from rdflib.term import Node

from bench.generate import CatalogPlan, build_store, catalog_stream, plan_catalog
from bench.timing import Row, machine, machine_line, markdown_table, percentile, rows_from, side_by_side, time_ms
from server.catalog import domains, goal_trace, lineage, lineage_index, nodes, overlaps, products
from server.store.base import SelectResult
from server.store.oxigraph import OxigraphStore

SEED = 7
INPUTS = 20
OVERLAP_GROUP = 200
THROUGHPUT_SECONDS = 3.0
THROUGHPUT_CLIENTS = 4
RDFLIB_BUDGET_S = 60.0

GRAPHQL = "GraphQL over HTTP"
BARE = "bare FastAPI JSON over HTTP"
DIRECT = "same SPARQL on pyoxigraph (in-process)"
INDEXED = "catalog walk over the derived lineage index (in-process)"
RDFLIB = "rdflib's own SPARQL engine"
FLOOR = "BFS over adjacency dicts (floor)"
ROUND_TRIP = "HTTP round trip alone (GET /healthz)"

LINEAGE_QUERY = """
query ($id: ID!) { lineage(id: $id) {
  nodes { depth node { __typename ... on DataProduct { id name } ... on DataSource { id name } } }
  edges { source target } } }
"""
TRACE_QUERY = """
query ($id: ID!) { goalTrace(id: $id) { useCases { id title } goals { id title } } }
"""
OVERLAP_QUERY = """
query ($ids: [ID!]) { overlaps(ids: $ids) { left { id } right { id } shared { __typename } jaccard } }
"""
PRODUCT_QUERY = """
query ($id: ID!) { dataProduct(id: $id) {
  id name description type domain { name } owner { name } outputPorts { name mechanism } } }
"""


# --- the server: the real app plus bare JSON routes doing the same store work ------------------------------------


def bare_routes(app: Any) -> None:
    """JSON endpoints doing exactly the catalog calls the GraphQL resolvers make, without GraphQL."""

    @app.get("/bare/product")
    def bare_product(request: Request, id: str) -> dict[str, Any]:
        store = request.app.state.store
        row = products.products_by_iri(store, [id])[id]
        if row is None:
            return {"dataProduct": None}
        domain = domains.domains_by_iri(store, [row.domain])[row.domain] if row.domain else None
        owner = nodes.labels(store, [row.owner])[row.owner] if row.owner else None
        ports = products.ports_of(store, [id])[id]
        return {
            "dataProduct": {
                "id": row.iri,
                "name": row.name,
                "description": row.description,
                "type": row.type,
                "domain": {"name": domain.name if domain else None},
                "owner": {"name": owner},
                "outputPorts": [{"name": p.name, "mechanism": p.mechanism} for p in ports if not p.is_input],
            }
        }

    @app.get("/bare/lineage")
    def bare_lineage(request: Request, id: str) -> dict[str, Any]:
        store = request.app.state.store
        index = request.app.state.catalog.index
        answer = lineage.lineage(store, id, index=index)
        iris = [n.iri for n in answer.nodes]
        names: dict[str, str | None] = dict(index.names(iris)) if index is not None else {}
        if len(names) < len(iris):
            names.update(nodes.labels(store, [iri for iri in iris if iri not in names]))
        hops = []
        for n in answer.nodes:
            kind = "DataProduct" if n.is_product else "DataSource"
            name = names.get(n.iri) or n.iri.rsplit("/", 1)[-1]
            hops.append({"depth": n.depth, "node": {"__typename": kind, "id": n.iri, "name": name}})
        edges = [{"source": s, "target": t} for s, t in answer.edges]
        return {"lineage": {"nodes": hops, "edges": edges}}


def serve(store_dir: Path, port: int) -> None:
    """Run the app over the on-disk store (what `valuemesh serve` runs), with the bare routes added."""
    import uvicorn

    from server.settings import Settings
    from server.web.app import create_app

    store = OxigraphStore(store_dir)
    app = create_app(Settings(store=str(store_dir), seed=False), store=store)
    bare_routes(app)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """The API in its own process, as in production: the client's work does not share its interpreter."""

    def __init__(self, store_dir: Path, log: Path, startup_s: float = 300) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log.open("w")
        command = [sys.executable, str(Path(__file__).resolve()), "--serve", str(store_dir), "--port", str(self.port)]
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + startup_s
        while time.monotonic() < deadline:
            try:
                health = httpx.get(self.url + "/healthz", timeout=1)
                # Timing starts once the server's lineage index is built, so no request shares the CPU with it.
                if health.status_code == 200 and health.json().get("lineage_index") != "building":
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)  # not asked again at once: a busy poll takes CPU from the index being built
            if self.process.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"the API server did not start; see {log}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self._log.close()


# --- rdflib running the same catalog functions -------------------------------------------------------------------


class RdflibStore:
    """Enough of the Store protocol for the catalog's questions, answered by rdflib's own SPARQL engine."""

    location = "rdflib:"

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self.queries_run = 0

    def select(self, query: str, bindings: Mapping[str, Node] | None = None) -> SelectResult:
        self.queries_run += 1
        result = self.dataset.query(query, initBindings=dict(bindings or {}))  # type: ignore[arg-type]
        variables = [str(v) for v in result.vars or []]
        return SelectResult(variables, [tuple(row) for row in result])  # type: ignore[arg-type,misc]

    def ask(self, query: str, bindings: Mapping[str, Node] | None = None) -> bool:
        self.queries_run += 1
        return bool(self.dataset.query(query, initBindings=dict(bindings or {})).askAnswer)  # type: ignore[arg-type]

    def construct(self, query: str, bindings: Mapping[str, Node] | None = None) -> Graph:
        raise NotImplementedError


def rdflib_dataset(n: int) -> Dataset:
    dataset = Dataset(default_union=True)
    dataset.parse(catalog_stream(n, SEED), format="nquads")  # type: ignore[arg-type]
    return dataset


# --- the floor ---------------------------------------------------------------------------------------------------


class Floor:
    """The questions over plain dicts built from the generator's plan: the least any engine could cost."""

    def __init__(self, plan: CatalogPlan) -> None:
        self.direct = {p: list(dict.fromkeys(x.split("/port/", 1)[0] for x in c)) for p, c in plan.consumed.items()}
        self.plan = plan

    def upstream(self, root: str) -> dict[str, int]:
        depth = {root: 0}
        frontier = [root]
        while frontier:
            following = []
            for node in frontier:
                for source in self.direct.get(node, ()):
                    if source not in depth:
                        depth[source] = depth[node] + 1
                        following.append(source)
            frontier = following
        del depth[root]
        return depth

    def goal_trace(self, product: str) -> list[str]:
        use_cases = self.plan.use_cases_of.get(product, [])
        goals: dict[str, None] = {}
        for use_case in use_cases:
            goal: str | None = self.plan.goal_of[use_case]
            while goal is not None and goal not in goals:
                goals[goal] = None
                goal = self.plan.parent_goal[goal]
        return [*use_cases, *goals]

    def overlap_pairs(self, group: list[str]) -> dict[tuple[str, str], int]:
        by_source: dict[str, list[str]] = {}
        for product in group:
            for source in self.direct[product]:
                by_source.setdefault(source, []).append(product)
        pairs: dict[tuple[str, str], int] = {}
        for members in by_source.values():
            ordered = sorted(set(members))
            for i, left in enumerate(ordered):
                for right in ordered[i + 1 :]:
                    pairs[(left, right)] = pairs.get((left, right), 0) + 1
        return pairs


# --- measuring ---------------------------------------------------------------------------------------------------


def graphql_call(client: httpx.Client, query: str, **variables: Any) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query, "variables": variables})
    body: dict[str, Any] = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"GraphQL error: {body}")
    return body["data"]  # type: ignore[no-any-return]


def round_trip(client: httpx.Client) -> None:
    """What any request costs on this machine: the client, the loopback and uvicorn, with no catalog work."""
    client.get("/healthz").raise_for_status()


# The round trip has no answer to compare; the floor's goal trace is a list of goals.
NO_ANSWER: dict[str, Callable[[Any], int]] = {ROUND_TRIP: lambda _answer: 0, FLOOR: len}


def back_to_back(
    question: str, n: int, inputs: list[str], repeat: int, calls: dict[str, Callable[[Any], object]]
) -> list[Row]:
    """The same requests again, each engine's in one run with no pause between them (a busy server).

    Interleaved with the in-process engines, each request reaches a server that has been idle for a while; on
    this kind of shared machine that alone costs a millisecond or more, which the round-trip row shows.
    """
    rows = []
    for engine, call in calls.items():
        call(inputs[0])
        samples = [time_ms(partial(call, item)) for _ in range(repeat) for item in inputs]
        rows.append(
            Row(
                question + ", requests back to back",
                engine,
                n,
                p50_ms=percentile(samples, 50),
                p99_ms=percentile(samples, 99),
                samples=len(samples),
            )
        )
    return rows


def bare_call(client: httpx.Client, path: str, **params: str) -> dict[str, Any]:
    response = client.get(path, params=params)
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


def throughput(url: str, call: Callable[[httpx.Client, str], object], ids: list[str]) -> tuple[float, list[float]]:
    """Requests per second with THROUGHPUT_CLIENTS threads for THROUGHPUT_SECONDS, and the latencies seen."""
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + THROUGHPUT_SECONDS

    def worker(offset: int) -> None:
        mine = []
        with httpx.Client(base_url=url, timeout=30) as client:
            i = offset
            while time.monotonic() < stop:
                start = time.perf_counter()
                call(client, ids[i % len(ids)])
                mine.append((time.perf_counter() - start) * 1000)
                i += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(THROUGHPUT_CLIENTS)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(latencies) / (time.monotonic() - began), latencies


def _overlap_group(plan: CatalogPlan, rng: random.Random) -> list[str]:
    members = [iri for pair in plan.overlap_pairs[: OVERLAP_GROUP // 4] for iri in pair]
    rest = [p.iri for p in plan.products if p.iri not in set(members)]
    return members + rng.sample(rest, OVERLAP_GROUP - len(members))


def _with_speedups(rows: list[Row], timings: Any) -> list[Row]:
    """Add, to the GraphQL row, how many times faster than rdflib it was (paired, median of per-input ratios)."""
    for row in rows:
        versus = timings.paired_ratio(RDFLIB, row.engine) if RDFLIB in timings.samples else None
        if versus is not None and row.engine not in (RDFLIB, ROUND_TRIP):
            row.extra["times_faster_than_rdflib"] = round(versus, 1)
    return rows


def _question_rows(
    question: str,
    n: int,
    engines: dict[str, Callable[[Any], object]],
    busy: dict[str, Callable[[Any], object]],
    inputs: list[str],
    repeat: int,
) -> list[Row]:
    """Every engine interleaved on each input, then the HTTP ones (`busy`) again back to back."""
    timings = side_by_side(engines, inputs, repeat, budget_s={RDFLIB: RDFLIB_BUDGET_S}, answer_size=NO_ANSWER)
    return _with_speedups(rows_from(timings, question, n, FLOOR), timings) + back_to_back(
        question, n, inputs, repeat, busy
    )


def bench_size(n: int, repeat: int, workdir: Path, rdflib_max: int) -> list[Row]:
    rng = random.Random(SEED)
    plan = plan_catalog(n, SEED)
    store_dir = workdir / f"api-{n}"
    log(f"bench_api: generating and loading {n:,} products into {store_dir}")
    build_store(n, SEED, store_dir).close()
    floor = Floor(plan)
    dataset = None
    if n <= rdflib_max:
        log(f"bench_api: parsing {n:,} products with rdflib")
        dataset = RdflibStore(rdflib_dataset(n))
    # The client's own millions of long-lived objects (rdflib's copy, the plan) are moved out of the collector's
    # reach, so its full collections do not land inside the HTTP timings.
    gc.collect()
    gc.freeze()
    server = Server(store_dir, workdir / f"api-{n}.log")
    rows: list[Row] = []
    direct = OxigraphStore(store_dir, read_only=True)
    index = lineage_index.LineageIndex(direct)
    started = time.perf_counter()
    index.refresh()
    build_s = time.perf_counter() - started
    log(f"bench_api: lineage index built in {build_s:.1f} s")
    rows.append(
        Row(
            "API: building the lineage index (once per process, in the background)",
            INDEXED,
            n,
            p50_ms=build_s * 1000,
            samples=1,
        )
    )
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            # The first GraphQL request starts the server's own index build; until it is done, SPARQL answers.
            graphql_call(client, PRODUCT_QUERY, id=plan.products[0].iri)
            time.sleep(build_s * 1.5 + 1)
            deep = plan.products_at_depth(plan.max_depth)
            lineage_inputs = rng.sample(deep, min(INPUTS, len(deep)))
            engines: dict[str, Callable[[Any], object]] = {
                FLOOR: floor.upstream,
                DIRECT: lambda p: lineage.lineage(direct, p).nodes,
                INDEXED: lambda p: lineage.lineage(direct, p, index=index).nodes,
                GRAPHQL: lambda p: graphql_call(client, LINEAGE_QUERY, id=p)["lineage"]["nodes"],
                BARE: lambda p: bare_call(client, "/bare/lineage", id=p)["lineage"]["nodes"],
                ROUND_TRIP: lambda _p: round_trip(client),
            }
            if dataset is not None:
                engines[RDFLIB] = lambda p: lineage.lineage(dataset, p).nodes  # type: ignore[arg-type]
            log(f"bench_api: lineage at {n:,}")
            question = f"API: upstream lineage from a depth-{plan.max_depth} product"
            busy = {name: engines[name] for name in (GRAPHQL, BARE, ROUND_TRIP)}
            rows += _question_rows(question, n, engines, busy, lineage_inputs, repeat)

            traced = [p.iri for p in plan.products if plan.use_cases_of[p.iri]]
            trace_inputs = rng.sample(traced, min(INPUTS, len(traced)))
            engines = {
                FLOOR: floor.goal_trace,
                DIRECT: lambda p: goal_trace.goal_trace(direct, p).goals,
                GRAPHQL: lambda p: graphql_call(client, TRACE_QUERY, id=p)["goalTrace"]["goals"],
                ROUND_TRIP: lambda _p: round_trip(client),
            }
            if dataset is not None:
                engines[RDFLIB] = lambda p: goal_trace.goal_trace(dataset, p).goals  # type: ignore[arg-type]
            log(f"bench_api: goal trace at {n:,}")
            question = "API: goal trace (use cases and goals up to the vision)"
            busy = {name: engines[name] for name in (GRAPHQL, ROUND_TRIP)}
            rows += _question_rows(question, n, engines, busy, trace_inputs, repeat)

            group = _overlap_group(plan, rng)
            engines = {
                FLOOR: floor.overlap_pairs,
                DIRECT: lambda g: overlaps.overlaps(direct, g).pairs,
                GRAPHQL: lambda g: graphql_call(client, OVERLAP_QUERY, ids=g)["overlaps"],
            }
            if dataset is not None:
                engines[RDFLIB] = lambda g: overlaps.overlaps(dataset, g).pairs  # type: ignore[arg-type]
            log(f"bench_api: overlap at {n:,}")
            timings = side_by_side(engines, [group] * 5, repeat, budget_s={RDFLIB: RDFLIB_BUDGET_S})
            rows += _with_speedups(
                rows_from(timings, f"API: overlap, all pairs among {OVERLAP_GROUP} products", n, FLOOR), timings
            )

        log(f"bench_api: throughput at {n:,}")
        product_ids = [p.iri for p in rng.sample(plan.products, 200)]
        calls: dict[tuple[str, str], tuple[Callable[[httpx.Client, str], object], list[str]]] = {
            ("product lookup", GRAPHQL): (lambda c, p: graphql_call(c, PRODUCT_QUERY, id=p), product_ids),
            ("product lookup", BARE): (lambda c, p: bare_call(c, "/bare/product", id=p), product_ids),
            ("lineage", GRAPHQL): (lambda c, p: graphql_call(c, LINEAGE_QUERY, id=p), lineage_inputs),
            ("lineage", BARE): (lambda c, p: bare_call(c, "/bare/lineage", id=p), lineage_inputs),
        }
        rates: dict[tuple[str, str], float] = {}
        for (what, engine), (call, ids) in calls.items():
            rate, latencies = throughput(server.url, call, ids)
            rates[(what, engine)] = rate
            rows.append(
                Row(
                    f"API throughput: {what} ({THROUGHPUT_CLIENTS} clients)",
                    engine,
                    n,
                    p50_ms=percentile(latencies, 50),
                    p99_ms=percentile(latencies, 99),
                    samples=len(latencies),
                    extra={"requests_per_s": round(rate, 1)},
                )
            )
        for what in ("product lookup", "lineage"):
            share = rates[(what, GRAPHQL)] / rates[(what, BARE)]
            rows.append(
                Row(
                    f"API throughput: {what} ({THROUGHPUT_CLIENTS} clients)",
                    "GraphQL / bare (target >= 0.5)",
                    n,
                    ratio=round(share, 2),
                    ratio_to=BARE,
                    note=f"{rates[(what, GRAPHQL)]:.0f} vs {rates[(what, BARE)]:.0f} requests/s",
                )
            )
    finally:
        direct.close()
        server.stop()
        gc.unfreeze()
    return rows


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(sizes: list[int], repeat: int, workdir: Path, rdflib_max: int = 100_000) -> list[dict[str, Any]]:
    """The bench/README.md contract: rows for each catalog size."""
    rows: list[dict[str, Any]] = []
    for n in sizes:
        rows += [row.as_dict() for row in bench_size(n, repeat, workdir, rdflib_max)]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="GraphQL over HTTP vs the same work closer to the metal.")
    parser.add_argument("--sizes", default="10000", help="catalog sizes, comma-separated (default 10000)")
    parser.add_argument("--with-100k", action="store_true", help="add a 100,000-product catalog")
    parser.add_argument("--repeat", type=int, default=3, help="passes over the inputs (default 3)")
    parser.add_argument(
        "--rdflib-max", type=int, default=100_000, help="largest catalog rdflib parses (100k: minutes, ~10 GB)"
    )
    parser.add_argument("--out", type=Path, help="write the rows as JSON here too")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)  # internal: run the server over this store
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is not None:
        serve(args.serve, args.port)
        return 0
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.with_100k and 100_000 not in sizes:
        sizes.append(100_000)
    with tempfile.TemporaryDirectory(prefix="valuemesh-bench-api-") as workdir:
        rows = run(sizes, args.repeat, Path(workdir), args.rdflib_max)
    print(machine_line(machine()))
    print(markdown_table(rows, sizes))
    for row in rows:
        extra = {k: row[k] for k in ("times_faster_than_rdflib", "requests_per_s") if row.get(k) is not None}
        if extra:
            print(f"{row['question']} | {row['engine']} | n={row['n']:,} | {extra}")
    if args.out:
        args.out.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
