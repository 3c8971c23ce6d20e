"""The benchmark runner: one command, every catalog size, one table and one JSON file.

    .venv/bin/python bench/run.py [--sizes 1000,10000] [--with-100k] [--repeat 3] [--out FILE]

For each size: generate the catalog; load it into the embedded store (on disk and in memory, each in a fresh
process so peak memory is the load's own); start `valuemesh serve` on the loaded store until /healthz answers;
then ask lineage, overlap and goal trace of the catalog functions, the same SPARQL on pyoxigraph directly,
rdflib's own SPARQL engine (the baseline) and a breadth-first search over adjacency dicts (the floor), side by side.
Bench modules beside this file (`bench_validation.py`, `bench_api.py`, `bench_remote.py`) add their rows.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/run.py`: make `bench` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import datetime as dt
import importlib
import importlib.util
import json
import random
import socket
import statistics
import subprocess
import tempfile
import time
import traceback
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from typing import Any

import pyoxigraph as ox
from rdflib import Dataset, URIRef

from bench.generate import CatalogPlan, plan_catalog, write_catalog
from bench.timing import (
    Row,
    machine,
    machine_line,
    markdown_table,
    peak_rss_mb,
    percentile,
    reset_peak_rss,
    rows_from,
    rss_mb,
    side_by_side,
    time_ms,
)
from server.catalog.goal_trace import GOAL_TRACE, GOAL_TRACE_FROM_GOALS
from server.namespaces import sparql_prefixes
from server.sparql_text import iri_ref
from server.store.oxigraph import OxigraphStore

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
BENCH_MODULES = ("bench_validation", "bench_api", "bench_remote")
RDFLIB_MAX_N = 10_000  # rdflib needs ~1 KB per triple and minutes to parse 100k products: the baseline stops here
ENGINE_BUDGET_S = 20.0  # per engine, question and size: rdflib and slow formulations stop early past it
COLD_START_TARGET_S = 3.0
FLOOR = "BFS over adjacency dicts (floor)"
RAW = "pyoxigraph SPARQL (raw)"
RDFLIB = "rdflib's own SPARQL engine"
COALESCE_FORM = "pyoxigraph SPARQL, OPTIONAL/COALESCE formulation"
GOALS_FIRST = "pyoxigraph SPARQL, goals-first formulation"
INDEXED = "catalog lineage() over LineageIndex (in-memory edges)"

# --- the questions as SPARQL, one formulation each (the same text runs on pyoxigraph and on rdflib) --------------

# Every node upstream of ?root (products and data sources). The optional `^dprod:outputPort` step inside the path
# lets one path reach both; the output ports it also reaches are filtered out. This formulation is ~250x faster on
# Oxigraph than the closure over products joined with OPTIONAL/COALESCE below (measured at 1k products).
UPSTREAM_NODES = (
    sparql_prefixes()
    + """
SELECT DISTINCT ?root ?node WHERE {
  ?root (dprod:inputPort/vm:consumes/(^dprod:outputPort)?)+ ?node .
  FILTER NOT EXISTS { ?node a vm:OutputPort }
}
"""
)

# The same answer as a closure over products, then what feeds each, through OPTIONAL + COALESCE.
UPSTREAM_NODES_BY_COALESCE = (
    sparql_prefixes()
    + """
SELECT DISTINCT ?root ?node WHERE {
  ?root (dprod:inputPort/vm:consumes/^dprod:outputPort)* ?product .
  ?product dprod:inputPort/vm:consumes ?fed .
  OPTIONAL { ?upstream dprod:outputPort ?fed }
  BIND(COALESCE(?upstream, ?fed) AS ?node)
}
"""
)

# A product's direct sources: the products owning the output ports it consumes, or the data sources it consumes.
_DIRECT_SOURCE = "dprod:inputPort/vm:consumes/(^dprod:outputPort)?"

# Products sharing a direct source (an upstream product or a data source) with ?product, and how many.
OVERLAP_ONE = (
    sparql_prefixes()
    + f"""
SELECT ?product ?other (COUNT(DISTINCT ?source) AS ?shared) WHERE {{
  ?product {_DIRECT_SOURCE} ?source .
  FILTER NOT EXISTS {{ ?source a vm:OutputPort }}
  ?other {_DIRECT_SOURCE} ?source .
  FILTER(?other != ?product)
}}
GROUP BY ?product ?other
"""
)

# The same through OPTIONAL + COALESCE (the catalog's overlaps.py style): ~50x slower on Oxigraph at 1k.
OVERLAP_ONE_BY_COALESCE = (
    sparql_prefixes()
    + """
SELECT ?product ?other (COUNT(DISTINCT ?source) AS ?shared) WHERE {
  ?product dprod:inputPort/vm:consumes ?fed .
  OPTIONAL { ?upstream dprod:outputPort ?fed }
  BIND(COALESCE(?upstream, ?fed) AS ?source)
  ?source dprod:outputPort? ?consumed .
  ?other dprod:inputPort/vm:consumes ?consumed .
  FILTER(?other != ?product)
}
GROUP BY ?product ?other
"""
)

# Every pair among a list of products ($nodes, written with iri_ref) sharing direct sources, and how many.
OVERLAP_PAIRS = (
    sparql_prefixes()
    + f"""
SELECT ?a ?b (COUNT(*) AS ?shared) WHERE {{
  {{ SELECT DISTINCT ?a ?source WHERE {{
      VALUES ?a {{ $nodes }}
      ?a {_DIRECT_SOURCE} ?source .
      FILTER NOT EXISTS {{ ?source a vm:OutputPort }} }} }}
  {{ SELECT DISTINCT ?b ?source WHERE {{
      VALUES ?b {{ $nodes }}
      ?b {_DIRECT_SOURCE} ?source .
      FILTER NOT EXISTS {{ ?source a vm:OutputPort }} }} }}
  FILTER(STR(?a) < STR(?b))
}}
GROUP BY ?a ?b
"""
)


# --- the floor: the same answers from adjacency dicts built once from the generator's plan -----------------------


class Floor:
    """Breadth-first search and set arithmetic over dicts: the least any engine could cost."""

    def __init__(self, plan: CatalogPlan) -> None:
        self.direct: dict[str, list[str]] = {}  # product -> direct sources (upstream products, data sources)
        for product, consumed in plan.consumed.items():
            self.direct[product] = list(dict.fromkeys(x.split("/port/", 1)[0] for x in consumed))
        self.fed: dict[str, list[str]] = {}
        for product, sources in self.direct.items():
            for source in sources:
                self.fed.setdefault(source, []).append(product)
        self.use_cases_of = plan.use_cases_of
        self.goal_of = plan.goal_of
        self.parent_goal = plan.parent_goal

    def upstream(self, root: str) -> set[str]:
        seen: set[str] = set()
        frontier = [root]
        while frontier:
            following = []
            for node in frontier:
                for source in self.direct.get(node, ()):
                    if source not in seen:
                        seen.add(source)
                        following.append(source)
            frontier = following
        return seen

    def overlap_one(self, product: str) -> Counter[str]:
        shared: Counter[str] = Counter()
        for source in self.direct[product]:
            shared.update(other for other in self.fed[source] if other != product)
        return shared

    def overlap_pairs(self, products: list[str]) -> Counter[tuple[str, str]]:
        wanted = set(products)
        by_source: dict[str, list[str]] = {}
        for product in products:
            for source in self.direct[product]:
                by_source.setdefault(source, []).append(product)
        pairs: Counter[tuple[str, str]] = Counter()
        for members in by_source.values():
            ordered = sorted(m for m in set(members) if m in wanted)
            for i, left in enumerate(ordered):
                for right in ordered[i + 1 :]:
                    pairs[(left, right)] += 1
        return pairs

    def goal_trace(self, product: str) -> list[str]:
        use_cases = self.use_cases_of.get(product, [])
        goals: dict[str, None] = {}
        for use_case in use_cases:
            goal: str | None = self.goal_of[use_case]
            while goal is not None and goal not in goals:
                goals[goal] = None
                goal = self.parent_goal[goal]
        return [*use_cases, *goals]


# --- engines over the stores ----------------------------------------------------------------------------------------


def raw_select(store: ox.Store, query: str, **bound: str) -> list[ox.QuerySolution]:
    substitutions = {ox.Variable(name): ox.NamedNode(iri) for name, iri in bound.items()}
    return list(store.query(query, use_default_graph_as_union=True, substitutions=substitutions))  # type: ignore[arg-type]


def rdflib_select(dataset: Dataset, query: str, **bound: str) -> list[Any]:
    return list(dataset.query(query, initBindings={name: URIRef(iri) for name, iri in bound.items()}))


def pairs_query(products: list[str]) -> str:
    return OVERLAP_PAIRS.replace("$nodes", " ".join(iri_ref(p) for p in products))


def distinct_trace(rows: list[Any]) -> int:
    """Distinct use cases plus distinct goals in (product, useCase, goal) rows: comparable with the floor's answer."""
    return len({row[1] for row in rows}) + len({row[2] for row in rows if row[2] is not None})


def _catalog_module(name: str) -> Any | None:
    try:
        return importlib.import_module(f"server.catalog.{name}")
    except ImportError:
        return None


def query_rows(
    plan: CatalogPlan,
    store_dir: Path,
    dataset: Dataset | None,
    repeat: int,
    inputs: int,
    seed: int,
    too_slow: dict[tuple[str, str], str],
) -> list[Row]:
    """Lineage, overlap and goal trace on every engine, side by side, with paired ratios to the floor.

    `too_slow` carries over sizes: an engine that needed more than half its budget for one answer at a smaller
    catalog is not run on larger ones (one run could take many minutes), and its row says so.
    """
    n = plan.n
    rng = random.Random(seed)
    floor = Floor(plan)
    raw = ox.Store.read_only(str(store_dir))
    catalog_store = OxigraphStore(store_dir, read_only=True)
    lineage_mod, overlaps_mod, trace_mod, index_mod = (
        _catalog_module(m) for m in ("lineage", "overlaps", "goal_trace", "lineage_index")
    )
    rdflib_note = {} if dataset is not None else {RDFLIB: f"not run above {RDFLIB_MAX_N:,} products"}
    rows: list[Row] = []
    built: dict[str, str] = {}  # engine -> what it cost to prepare, said in its note

    def measure(
        question: str,
        engines: dict[str, Callable[[Any], object]],
        sizes: dict[str, Callable[[Any], int]],
        items: list[Any],
        passes: int,
        missing: dict[str, str],
    ) -> None:
        if dataset is None:
            engines.pop(RDFLIB, None)
        for engine in list(engines):
            if (question, engine) in too_slow:
                engines.pop(engine)
                missing[engine] = f"not run: {too_slow[(question, engine)]}"
        timings = side_by_side(
            engines, items, passes, budget_s=dict.fromkeys(engines, ENGINE_BUDGET_S), answer_size=sizes
        )
        notes = dict(built)
        expected = timings.answers.get(FLOOR)
        for engine, size in timings.answers.items():
            if expected is not None and size != expected:
                wrong = f"answer size {size} on the first input, floor has {expected}"
                notes[engine] = f"{notes[engine]}; {wrong}" if engine in notes else wrong
        rows.extend(rows_from(timings, question, n, FLOOR, notes))
        for engine, samples in timings.samples.items():
            slowest = max(samples.values(), default=0.0) / 1000
            if slowest > ENGINE_BUDGET_S / 2:
                too_slow[(question, engine)] = f"one answer took {slowest:.0f} s at {n:,} products"
        for engine, why in {**missing, **rdflib_note}.items():
            rows.append(Row(question, engine, n, note=why))

    deep = plan.products_at_depth(plan.max_depth)
    lineage_inputs = rng.sample(deep, min(inputs, len(deep)))
    engines: dict[str, Callable[[Any], object]] = {
        FLOOR: floor.upstream,
        RAW: lambda p: raw_select(raw, UPSTREAM_NODES, root=p),
        COALESCE_FORM: lambda p: raw_select(raw, UPSTREAM_NODES_BY_COALESCE, root=p),
        RDFLIB: lambda p: rdflib_select(dataset, UPSTREAM_NODES, root=p),  # type: ignore[arg-type]
    }
    missing: dict[str, str] = {}
    if lineage_mod is not None:
        engines["catalog lineage() (one query per depth level)"] = lambda p: lineage_mod.lineage(catalog_store, p).nodes
        engines["catalog lineage_by_closure() (one path query)"] = lambda p: (
            lineage_mod.lineage_by_closure(catalog_store, p).nodes
        )
    else:
        missing["catalog lineage()"] = "server/catalog/lineage.py absent"
    if lineage_mod is not None and index_mod is not None:
        # The API walks this derived copy of the lineage edges; it is built by the first walk.
        index = index_mod.LineageIndex(catalog_store)
        built_ms = time_ms(lambda: lineage_mod.lineage(catalog_store, lineage_inputs[0], index=index))
        engines[INDEXED] = lambda p: lineage_mod.lineage(catalog_store, p, index=index).nodes
        built[INDEXED] = f"index built by the first walk in {built_ms / 1000:.2f} s (not in these numbers)"
    measure(f"upstream lineage from a depth-{plan.max_depth} product", engines, {}, lineage_inputs, repeat, missing)

    members = [iri for pair in plan.overlap_pairs for iri in pair]
    others = [p.iri for p in plan.products if p.layer > 0]
    overlap_inputs = rng.sample(members, min(inputs // 2, len(members)))
    overlap_inputs += rng.sample(others, min(inputs - len(overlap_inputs), len(others)))
    engines = {
        FLOOR: floor.overlap_one,
        RAW: lambda p: raw_select(raw, OVERLAP_ONE, product=p),
        COALESCE_FORM: lambda p: raw_select(raw, OVERLAP_ONE_BY_COALESCE, product=p),
        RDFLIB: lambda p: rdflib_select(dataset, OVERLAP_ONE, product=p),  # type: ignore[arg-type]
    }
    missing = {}
    if overlaps_mod is not None and hasattr(overlaps_mod, "overlaps_with"):
        engines["catalog overlaps_with()"] = lambda p: overlaps_mod.overlaps_with(catalog_store, p).pairs
    else:
        missing["catalog overlaps_with()"] = "server/catalog/overlaps.py has no overlaps_with() yet"
    measure("overlap, one product against all", engines, {}, overlap_inputs, repeat, missing)

    group = _overlap_group(plan, rng, 200)
    engines = {
        FLOOR: floor.overlap_pairs,
        RAW: lambda ps: raw_select(raw, pairs_query(ps)),
        RDFLIB: lambda ps: rdflib_select(dataset, pairs_query(ps)),  # type: ignore[arg-type]
    }
    missing = {}
    if overlaps_mod is not None:
        engines["catalog overlaps(ids)"] = lambda ps: overlaps_mod.overlaps(catalog_store, ps).pairs
    else:
        missing["catalog overlaps(ids)"] = "server/catalog/overlaps.py absent"
    measure(f"overlap, all pairs among {len(group)} products", engines, {}, [group] * 5, repeat, missing)

    trace_inputs = rng.sample([p.iri for p in plan.products], min(inputs, n))
    engines = {
        FLOOR: floor.goal_trace,
        RAW: lambda p: raw_select(raw, GOAL_TRACE, product=p),
        GOALS_FIRST: lambda p: raw_select(raw, GOAL_TRACE_FROM_GOALS, product=p),
        RDFLIB: lambda p: rdflib_select(dataset, GOAL_TRACE, product=p),  # type: ignore[arg-type]
    }
    sizes: dict[str, Callable[[Any], int]] = {
        RAW: distinct_trace,
        GOALS_FIRST: distinct_trace,
        RDFLIB: distinct_trace,
    }
    missing = {}
    if trace_mod is not None:
        engines["catalog goal_trace()"] = lambda p: trace_mod.goal_trace(catalog_store, p)
        sizes["catalog goal_trace()"] = lambda t: len(t.use_cases) + len(t.goals)
    else:
        missing["catalog goal_trace()"] = "server/catalog/goal_trace.py absent"
    measure("goal trace (use cases and every goal above them)", engines, sizes, trace_inputs, repeat, missing)
    catalog_store.close()
    return rows


def _overlap_group(plan: CatalogPlan, rng: random.Random, size: int) -> list[str]:
    """A domain team's view: the planted overlap pairs first, then products of the same domains."""
    members = [iri for pair in plan.overlap_pairs[: size // 4] for iri in pair]
    by_iri = {p.iri: p for p in plan.products}
    domains = list(dict.fromkeys(by_iri[m].domain for m in members)) or [0]
    nearby = [p.iri for p in plan.products if p.domain in domains[:5] and p.iri not in members]
    rng.shuffle(nearby)
    group = members + nearby[: size - len(members)]
    if len(group) < size:
        rest = [p.iri for p in plan.products if p.iri not in set(group)]
        group += rng.sample(rest, min(size - len(group), len(rest)))
    return group


# --- load and cold start ------------------------------------------------------------------------------------------


def probe_load(nquads: Path, target: str, install: bool) -> dict[str, float | None]:
    """In a fresh process: bulk-load the file, report seconds and peak RSS (then install the ontology, untimed)."""
    from server.catalog.seeding import install_ontology

    before = rss_mb()
    reset_peak_rss()
    start = time.perf_counter()
    store = OxigraphStore(None if target == "memory:" else target)
    with nquads.open("rb") as data:
        store.bulk_load(data)
    seconds = time.perf_counter() - start
    peak = peak_rss_mb()
    quads = store.quad_count()
    if install:
        install_ontology(store)
    store.close()
    return {"seconds": seconds, "peak_rss_mb": peak, "rss_before_mb": before, "quads": quads}


def load_in_subprocess(nquads: Path, target: str, install: bool) -> dict[str, float | None]:
    command = [sys.executable, str(BENCH / "run.py"), "--probe-load", str(nquads), "--target", target]
    if install:
        command.append("--install-ontology")
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def load_rows(n: int, nquads: Path, workdir: Path, repeat: int) -> tuple[list[Row], Path]:
    """Load time and peak memory on disk and in memory; the last on-disk store is kept for what follows."""
    rows = []
    times = max(1, repeat if n <= 10_000 else 1)
    on_disk = [load_in_subprocess(nquads, str(workdir / f"store-{k}"), install=k == times - 1) for k in range(times)]
    in_memory = [load_in_subprocess(nquads, "memory:", install=False) for _ in range(times)]
    for engine, runs in (("pyoxigraph on disk (bulk_load)", on_disk), ("pyoxigraph in memory (bulk_load)", in_memory)):
        seconds = [r["seconds"] or 0.0 for r in runs]
        peak = statistics.median(r["peak_rss_mb"] or 0.0 for r in runs)
        growth = statistics.median((r["peak_rss_mb"] or 0.0) - (r["rss_before_mb"] or 0.0) for r in runs)
        p50 = statistics.median(seconds)
        rows.append(
            Row(
                "load the catalog (N-Quads file → store)",
                engine,
                n,
                p50_ms=p50 * 1000,
                p99_ms=percentile(seconds, 99) * 1000,
                samples=len(runs),
                note="" if n <= 10_000 else "one run at this size",
                extra={
                    "peak_rss_mb": peak,
                    "rss_growth_mb": growth,
                    "quads": runs[0]["quads"],
                    "display": f"{p50:.2f} s, peak RSS {peak:.0f} MB (+{growth:.0f} MB)",
                },
            )
        )
    return rows, workdir / f"store-{times - 1}"


def rdflib_load(n: int, nquads: Path) -> tuple[Row, Dataset | None]:
    if n > RDFLIB_MAX_N:
        return Row("load the catalog (N-Quads file → store)", "rdflib Dataset (parse)", n, note="not run"), None
    before = rss_mb()
    reset_peak_rss()
    dataset = Dataset(default_union=True)
    ms = time_ms(lambda: dataset.parse(str(nquads), format="nquads"))
    peak = peak_rss_mb()
    growth = (peak or 0.0) - (before or 0.0)
    row = Row(
        "load the catalog (N-Quads file → store)",
        "rdflib Dataset (parse)",
        n,
        p50_ms=ms,
        samples=1,
        note="one run, in the bench process (memory is the peak's growth there)",
        extra={"rss_growth_mb": growth, "display": f"{ms / 1000:.2f} s, +{growth:.0f} MB"},
    )
    return row, dataset


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cold_start_s(store_dir: Path, log: Path, timeout_s: float = 120.0) -> float:
    """Seconds from starting `valuemesh serve` on the loaded store until /healthz answers 200."""
    port = _free_port()
    command = [str(Path(sys.executable).parent / "valuemesh"), "serve", "--store", str(store_dir)]
    command += ["--port", str(port), "--no-seed"]
    with log.open("ab") as out:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=out)
        try:
            while time.perf_counter() - start < timeout_s:
                if process.poll() is not None:
                    raise RuntimeError(f"valuemesh serve exited with {process.returncode}; see {log}")
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:
                        if answer.status == 200:
                            return time.perf_counter() - start
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    time.sleep(0.02)
            raise RuntimeError(f"valuemesh serve did not answer /healthz within {timeout_s:.0f} s; see {log}")
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def cold_start_row(n: int, store_dir: Path, workdir: Path, repeat: int) -> Row:
    seconds = [cold_start_s(store_dir, workdir / "serve.log") for _ in range(max(1, repeat))]
    p50 = statistics.median(seconds)
    verdict = "within" if p50 < COLD_START_TARGET_S else "over"
    return Row(
        "cold start of `valuemesh serve` (process start → /healthz 200)",
        "embedded store on disk, already loaded",
        n,
        p50_ms=p50 * 1000,
        p99_ms=percentile(seconds, 99) * 1000,
        samples=len(seconds),
        note=f"{verdict} the {COLD_START_TARGET_S:.0f} s target" if n >= 100_000 else "",
    )


# --- one size, the bench modules, the whole run ----------------------------------------------------------------------


def bench_size(
    n: int, seed: int, repeat: int, inputs: int, workdir: Path, too_slow: dict[tuple[str, str], str]
) -> list[Row]:
    workdir.mkdir(parents=True, exist_ok=True)
    nquads = workdir / f"catalog-{n}.nq"
    plan = plan_catalog(n, seed)

    def write() -> None:
        with nquads.open("w", encoding="utf-8", newline="\n") as out:
            write_catalog(n, seed, out)

    ms = time_ms(write)
    lines = sum(1 for _ in nquads.open("rb"))
    rows = [
        Row(
            "generate the catalog (bench/generate.py)",
            "Python",
            n,
            p50_ms=ms,
            samples=1,
            extra={"quads": lines, "display": f"{ms / 1000:.1f} s, {lines:,} quads"},
        )
    ]
    log(f"  {n:,}: generated {lines:,} quads in {ms / 1000:.1f} s; loading")
    loaded, store_dir = load_rows(n, nquads, workdir, repeat)
    rows += loaded
    log(f"  {n:,}: rdflib load")
    rdflib_row, dataset = rdflib_load(n, nquads)
    rows.append(rdflib_row)
    log(f"  {n:,}: cold start of valuemesh serve")
    rows.append(cold_start_row(n, store_dir, workdir, repeat))
    log(f"  {n:,}: questions")
    rows += query_rows(plan, store_dir, dataset, repeat, inputs, seed, too_slow)
    return rows


def module_rows(sizes: list[int], repeat: int, workdir: Path, only: list[str] | None) -> list[dict[str, Any]]:
    """Rows from every bench module that exists (bench/README.md: run(sizes, repeat, workdir) -> list[dict])."""
    rows: list[dict[str, Any]] = []
    for name in BENCH_MODULES:
        if only is not None and name not in only:
            continue
        if importlib.util.find_spec(f"bench.{name}") is None:
            rows.append(Row(name, "(module)", sizes[0], note=f"bench/{name}.py not written yet").as_dict())
            continue
        log(f"{name}.run({sizes}, {repeat})")
        try:
            module = importlib.import_module(f"bench.{name}")
            directory = workdir / name
            directory.mkdir(parents=True, exist_ok=True)
            rows += [dict(row) for row in module.run(sizes, repeat, directory)]
        except Exception as error:  # a broken module must not lose the other measurements
            traceback.print_exc()
            rows.append(Row(name, "(module)", sizes[0], note=f"failed: {error!r}").as_dict())
    return rows


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run the valuemesh benchmarks and save a table and JSON.")
    parser.add_argument("--sizes", default="1000,10000", help="catalog sizes, comma-separated (default 1000,10000)")
    parser.add_argument("--with-100k", action="store_true", help="add a 100,000-product catalog (several minutes)")
    parser.add_argument("--repeat", type=int, default=3, help="passes over the inputs per question (default 3)")
    parser.add_argument("--inputs", type=int, default=20, help="products asked about per question (default 20)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic catalogs (default 1)")
    parser.add_argument("--out", type=Path, help="JSON file to write (default bench/results/<UTC time>.json)")
    parser.add_argument("--modules", help="only these bench modules, comma-separated (default: all present)")
    parser.add_argument("--no-modules", action="store_true", help="skip the bench modules")
    parser.add_argument("--only-modules", action="store_true", help="run only the bench modules")
    parser.add_argument("--workdir", type=Path, help="keep generated files and stores here (default: a temp dir)")
    parser.add_argument("--probe-load", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    parser.add_argument("--install-ontology", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.probe_load is not None:
        print(json.dumps(probe_load(args.probe_load, args.target, args.install_ontology)))
        return 0
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if args.with_100k and 100_000 not in sizes:
        sizes.append(100_000)
    started = dt.datetime.now(dt.UTC)
    info = machine()
    log(f"valuemesh bench: sizes {sizes}, repeat {args.repeat}, on {machine_line(info)}")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="valuemesh-bench-") as temporary:
        workdir = args.workdir or Path(temporary)
        too_slow: dict[tuple[str, str], str] = {}
        for n in sorted(sizes) if not args.only_modules else ():
            measured = bench_size(n, args.seed, args.repeat, args.inputs, workdir / str(n), too_slow)
            rows += [row.as_dict() for row in measured]
        if not args.no_modules:
            only = args.modules.split(",") if args.modules else None
            rows += module_rows(sizes, args.repeat, workdir / "modules", only)
    finished = dt.datetime.now(dt.UTC)
    table = markdown_table(rows, sorted({row["n"] for row in rows} | set(sizes)))
    print(table)
    print(f"\nMachine: {machine_line(info)}")
    result = {
        "started": started.isoformat(timespec="seconds"),
        "seconds": round((finished - started).total_seconds(), 1),
        "command": " ".join(["bench/run.py", *(argv if argv is not None else sys.argv[1:])]),
        "sizes": sizes,
        "repeat": args.repeat,
        "inputs": args.inputs,
        "seed": args.seed,
        "machine": info,
        "rows": rows,
        "table": table,
    }
    out = args.out or RESULTS / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    log(f"saved {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
