"""Validation against the Data Product MVP checklist (shapes/) as the catalog grows.

Side by side, on catalogs from bench/generate.py (every product conforms):
- one new product (a write): valuemesh's check_write (neighbourhood fetched by SPARQL, compiled checks on Oxigraph)
  and pyshacl over the same neighbourhood; p50/p99 at each size, and valuemesh's p50 relative to the smallest size
  (target: flat, within 1.5x from 1k to 100k, under 100 ms);
- the whole catalog: valuemesh's compiled checks over the store, plain pyshacl over the exported graph (the
  baseline; run in a subprocess with a time budget) and Apache Jena's SHACL (Debian `libapache-jena-java`) over the
  same files, where installed (the anchor; target within 2x). Jena's time is the wall time of its command line,
  which includes starting the JVM and parsing the data; "Jena, less start-up" subtracts the same command on an
  empty data file.

    .venv/bin/python bench/bench_validation.py                     # 1k and 10k
    .venv/bin/python bench/bench_validation.py --sizes 1000 10000 100000
    .venv/bin/python bench/bench_validation.py --sizes 1000 --repeat 3 --out /tmp/validation.json
    .venv/bin/python bench/bench_validation.py --sizes 1000 10000 100000 --writes-only --on-disk
    .venv/bin/python bench/bench_validation.py --sizes 1000 10000 --on-disk --no-pyshacl

With --on-disk the whole catalog is also checked as users check it: `valuemesh validate` on a snapshot of the store
that no other process holds, in a new process (Python start, imports, opening the store for writing and checking its
ontology, the report included), and Jena's ratio is taken against that row.

In memory, a process holding a 100k catalog runs the same small queries on the same scratch store about twice as
slowly as one holding 1k (memory effects, not more work: the write's neighbourhood has the same ~50 triples);
on disk (the default backend) a write's cost is flat.

`run(sizes, repeat, workdir)` follows the contract of bench/README.md, so bench/run.py picks these rows up too.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/bench_validation.py`: make `bench` and `server` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import io
import json
import math
import os
import shutil
import subprocess
import tempfile
import time
from functools import partial
from typing import Any

import pyoxigraph as ox
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDFS

from bench.generate import build_store
from bench.timing import Row, machine, machine_line, markdown_table, percentile, rows_from, side_by_side, time_ms
from server.governance.neighbourhood import neighbourhood
from server.governance.shapes import catalog_shapes, read_shapes
from server.namespaces import DCT
from server.resources import shape_files
from server.store.oxigraph import OxigraphStore
from server.validation import check_write, validate_store

SEED = 7
ORG_SHAPES = Path(__file__).resolve().parent / "data" / "org-shapes.ttl"
VALUEMESH_WRITE_ORG = "valuemesh check_write, packaged + org shapes"
VALUEMESH_FULL_ORG = "valuemesh validate_store, packaged + org shapes"
VALUEMESH_CLI_ORG = "`valuemesh validate --shapes builtin --shapes org-shapes.ttl` (command line, on-disk store)"
INPUTS = 20
JENA_BUDGET_S = 900.0
PYSHACL_BUDGET_S = {1_000: 300.0, 10_000: 600.0}  # larger catalogs: skipped (minutes to hours, see the note)
JENA_JARS = Path("/usr/share/java")
WRITE = "validation: one new product (a write)"
FULL = "validation: the whole catalog"
VALUEMESH_WRITE = "valuemesh (neighbourhood + compiled SPARQL)"
PYSHACL_WRITE = "pyshacl over the same neighbourhood"
VALUEMESH_FULL = "valuemesh (compiled SPARQL on Oxigraph)"
VALUEMESH_CLI = "`valuemesh validate` (command line, on-disk store)"
PYSHACL_FULL = "pyshacl over the exported graph (baseline)"
JENA_FULL = "Apache Jena SHACL (command line)"
JENA_NET = "Apache Jena SHACL, less start-up"

PRODUCTS = """
PREFIX dprod: <https://ekgf.github.io/dprod/>
SELECT ?product WHERE { ?product a dprod:DataProduct } ORDER BY ?product LIMIT 200"""


# --- inputs ------------------------------------------------------------------------------------------------------


def new_products(store: OxigraphStore, count: int) -> list[dict[str, Graph]]:
    """New, conforming products: copies of stored ones under a new IRI and a new name (same domain, owner, inputs)."""
    stored = [str(row[0]) for row in store.select(PRODUCTS).rows][:count]
    made = []
    for i, iri in enumerate(stored):
        new_iri = f"{iri}-copy-{i}"
        rename = {URIRef(iri): URIRef(new_iri)}
        graph = Graph(identifier=new_iri)
        for s, p, o in store.record(iri):
            s = URIRef(str(s).replace(iri, new_iri, 1)) if isinstance(s, URIRef) else s
            o = URIRef(str(o).replace(iri + "/", new_iri + "/", 1)) if isinstance(o, URIRef) else rename.get(o, o)  # type: ignore[call-overload]
            if p in (RDFS.label, DCT.title) and s == URIRef(new_iri):
                o = Literal(f"{o} (copy {i})")
            graph.add((s, p, o))  # type: ignore[arg-type]
        made.append({new_iri: graph})
    return made


def _shapes_graph() -> Graph:
    graph = Graph()
    for path in shape_files():
        graph.parse(path, format="turtle")
    return graph


# --- the whole catalog in other validators -------------------------------------------------------------------------


def export_graph(store: OxigraphStore, path: Path) -> None:
    """The union of every record as N-Triples (what a governance team would validate)."""
    dumped = io.BytesIO()
    store.dump(dumped, "application/n-quads")
    union = ox.Store()
    union.bulk_extend(
        ox.Quad(q.subject, q.predicate, q.object) for q in ox.parse(dumped.getvalue(), ox.RdfFormat.N_QUADS)
    )
    union.dump(str(path), ox.RdfFormat.N_TRIPLES, from_graph=ox.DefaultGraph())


_PYSHACL_SCRIPT = """
import json, sys, time
from rdflib import Graph
from pyshacl import validate
data = Graph().parse(sys.argv[1], format="nt")
shapes = Graph().parse(sys.argv[2], format="turtle")
start = time.perf_counter()
conforms, report, _ = validate(data, shacl_graph=shapes, allow_warnings=True)
seconds = time.perf_counter() - start
sh = "http://www.w3.org/ns/shacl#"
from rdflib import URIRef
violations = len(list(report.subjects(URIRef(sh + "resultSeverity"), URIRef(sh + "Violation"))))
print(json.dumps({"seconds": seconds, "conforms": conforms, "violations": violations}))
"""


def pyshacl_full(data: Path, shapes: Path, budget_s: float) -> dict[str, Any]:
    """pyshacl's validate() over the parsed export (parse time excluded), in a subprocess stopped at the budget."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PYSHACL_SCRIPT, str(data), str(shapes)],
            capture_output=True,
            text=True,
            timeout=budget_s,
            check=True,
        )
    except subprocess.TimeoutExpired:
        return {"over_budget": True}
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def jena_classpath(workdir: Path) -> str | None:
    """Debian's Jena jars, made runnable (see notes: the relocated Xerces looks for its messages elsewhere)."""
    if shutil.which("java") is None or not (JENA_JARS / "jena-shacl.jar").exists():
        return None
    fix = workdir / "jena-fix"
    if not fix.exists():
        subprocess.run(
            [
                "unzip",
                "-o",
                "-q",
                str(JENA_JARS / "jena-core.jar"),
                "org/apache/jena/ext/xerces/impl/*",
                "-d",
                str(fix),
            ],
            check=False,
            capture_output=True,
        )
        source = fix / "org/apache/jena/ext/xerces/impl"
        if source.exists():
            shutil.copytree(source, fix / "xerces/impl", dirs_exist_ok=True)
    jars = [str(p) for p in sorted(JENA_JARS.glob("jena-*.jar")) if "-4." not in p.name]
    for name in [
        "commons-cli",
        "commons-codec",
        "commons-compress",
        "commons-csv",
        "commons-io",
        "commons-lang3",
        "dexx.collection",
        "gson",
        "guava",
        "httpclient",
        "httpcore",
        "jackson-core",
        "jackson-databind",
        "jakarta.json-api",
        "jsonld-java",
        "protobuf",
        "slf4j-api",
        "slf4j-nop",
        "thrift",
        "titanium-json-ld",
        "caffeine",
    ]:
        if (JENA_JARS / f"{name}.jar").exists():
            jars.append(str(JENA_JARS / f"{name}.jar"))
    return ":".join([str(fix), *jars])


def jena_seconds(classpath: str, data: Path, shapes: Path) -> tuple[float, str]:
    """Wall time of Jena's `shacl validate` and what it found; (inf, note) when stopped at the budget."""
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [
                "java",
                "-cp",
                classpath,
                "shacl.shacl",
                "validate",
                "--text",
                "--shapes",
                str(shapes),
                "--data",
                str(data),
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=JENA_BUDGET_S,
        )
    except subprocess.TimeoutExpired:
        return math.inf, f"stopped after {JENA_BUDGET_S:.0f} s (budget)"
    seconds = time.perf_counter() - start
    lines = done.stdout.strip().splitlines() or [""]
    if lines[-1] == "Conforms":
        return seconds, "Conforms"
    # Its text report starts each result with the focus node, whatever the severity: the count to hold beside ours.
    return seconds, f"{sum(1 for line in lines if line.startswith('Node='))} result(s)"


# --- the benchmark -------------------------------------------------------------------------------------------------


def _one_write(store: OxigraphStore, n: int, repeat: int, shapes_graph: Graph) -> list[Row]:
    from pyshacl import validate

    inputs = new_products(store, INPUTS)

    def ours(records: dict[str, Graph]) -> object:
        report = check_write(store, records)
        assert report.conforms, [r.message for r in report.violations]
        return report.results

    def theirs(records: dict[str, Graph]) -> object:
        data = neighbourhood(store, records)
        for graph in records.values():
            data += graph
        conforms, _, _ = validate(data, shacl_graph=shapes_graph, allow_warnings=True)
        return [] if conforms else [conforms]

    timings = side_by_side({VALUEMESH_WRITE: ours, PYSHACL_WRITE: theirs}, inputs, repeat)
    return rows_from(timings, WRITE, n, VALUEMESH_WRITE)


def cli_validate_ms(store_dir: Path, shapes: tuple[str, ...] = (), cache_home: Path | None = None) -> tuple[float, str]:
    """Wall time of `valuemesh validate` on the store, as a user runs it (the store opened for writing, so the
    ontology is checked as on every open; `store_dir` must not be held by this process); `shapes`: --shapes;
    `cache_home`: the user's `$XDG_CACHE_HOME` (where shapes that passed the start checks are remembered)."""
    command = [sys.executable, "-m", "server.cli.main", "validate", "--store", str(store_dir), "--no-seed"]
    command += [arg for given in shapes for arg in ("--shapes", given)]
    env = None if cache_home is None else {**os.environ, "XDG_CACHE_HOME": str(cache_home)}
    started = time.perf_counter()
    done = subprocess.run(
        [*command, "--format", "json"], capture_output=True, text=True, timeout=JENA_BUDGET_S, env=env
    )
    elapsed = (time.perf_counter() - started) * 1000
    if done.returncode not in (0, 1):
        raise RuntimeError(f"valuemesh validate failed ({done.returncode}): {done.stderr[-500:]}")
    report = json.loads(done.stdout)
    return elapsed, f"{report['violations']} violation(s), {report['warnings']} warning(s)"


def _cli_row(store: OxigraphStore, store_dir: Path, n: int, repeat: int) -> Row:
    # A snapshot the bench does not hold: on the bench's own store the command could only read a snapshot of it,
    # which skips what opening a store for writing does.
    users_store = store_dir.with_name(store_dir.name + "-cli")
    shutil.rmtree(users_store, ignore_errors=True)
    store.snapshot(users_store)
    runs = [cli_validate_ms(users_store) for _ in range(max(1, min(repeat, 3)))]
    shutil.rmtree(users_store, ignore_errors=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "server.cli.main", "--version"], capture_output=True, check=True)
    startup = (time.perf_counter() - started) * 1000
    return Row(
        FULL,
        VALUEMESH_CLI,
        n,
        p50_ms=percentile([ms for ms, _ in runs], 50),
        samples=len(runs),
        note=f"{runs[0][1]}; the command's start-up (`valuemesh --version`): {startup:.0f} ms",
    )


def _whole_catalog(
    store: OxigraphStore, n: int, repeat: int, workdir: Path, store_dir: Path | None, *, pyshacl: bool = True
) -> list[Row]:
    rows = []
    samples = [time_ms(lambda: validate_store(store)) for _ in range(max(repeat, 3))]
    report = validate_store(store)
    ours = percentile(samples, 50)
    rows.append(
        Row(
            FULL,
            VALUEMESH_FULL,
            n,
            p50_ms=ours,
            p99_ms=percentile(samples, 99),
            samples=len(samples),
            note=f"{len(catalog_shapes().queries)} queries; {len(report.violations)} violation(s), "
            f"{len(report.warnings)} warning(s)",
        )
    )
    if store_dir is not None:
        cli = _cli_row(store, store_dir, n, repeat)
        rows.append(cli)
        ours = cli.p50_ms or ours  # the baselines are compared with what users run
    anchor = VALUEMESH_CLI if store_dir is not None else VALUEMESH_FULL
    data, shapes, empty = workdir / f"catalog-{n}.nt", workdir / "shapes.ttl", workdir / "empty.nt"
    export_graph(store, data)
    shapes.write_text("\n".join(p.read_text() for p in shape_files()))
    empty.write_text("")

    budget = PYSHACL_BUDGET_S.get(n)
    if not pyshacl:
        rows.append(Row(FULL, PYSHACL_FULL, n, note="not run (--no-pyshacl)"))
    elif budget is None:
        rows.append(Row(FULL, PYSHACL_FULL, n, note="skipped: at 10k it already takes minutes and grows faster than N"))
    else:
        found = pyshacl_full(data, shapes, budget)
        if found.get("over_budget"):
            rows.append(Row(FULL, PYSHACL_FULL, n, note=f"stopped after {budget:.0f} s (budget)"))
        else:
            ms = found["seconds"] * 1000
            rows.append(
                Row(
                    FULL,
                    PYSHACL_FULL,
                    n,
                    p50_ms=ms,
                    samples=1,
                    ratio=ms / ours,
                    ratio_to=anchor,
                    note=f"parse excluded; {found['violations']} violation(s)",
                )
            )

    classpath = jena_classpath(workdir)
    if classpath is None:
        rows.append(
            Row(FULL, JENA_FULL, n, note="not measured: Apache Jena (libapache-jena-java) or java not installed")
        )
        return rows
    first = jena_seconds(classpath, data, shapes)  # warms the JVM's class data and the files in the page cache
    if math.isinf(first[0]):
        rows.append(Row(FULL, JENA_FULL, n, note=first[1]))
        return rows
    # A run of more than a minute is its own warm-up: repeating it only makes the benchmark longer.
    runs = [first] if first[0] > 60 else [jena_seconds(classpath, data, shapes) for _ in range(max(1, min(repeat, 3)))]
    startup = min(jena_seconds(classpath, empty, shapes)[0] for _ in range(2))
    wall = percentile([s for s, _ in runs], 50) * 1000
    net = max(wall - startup * 1000, 1.0)
    rows.append(
        Row(FULL, JENA_FULL, n, p50_ms=wall, samples=len(runs), note=f"includes JVM start and parsing; {runs[0][1]}")
    )
    rows.append(
        Row(
            FULL,
            JENA_NET,
            n,
            p50_ms=net,
            samples=len(runs),
            note=f"start-up on an empty graph: {startup * 1000:.0f} ms; {anchor} / Jena = {ours / net:.2f}",
            extra={"valuemesh_over_jena": ours / net},
        )
    )
    return rows


def _timed_row(task: str, engine: str, n: int, samples: list[float], note: str = "") -> Row:
    return Row(
        task, engine, n, p50_ms=percentile(samples, 50), p99_ms=percentile(samples, 99), samples=len(samples), note=note
    )


def _cli_org_row(store: OxigraphStore, store_dir: Path, n: int, repeat: int) -> Row:
    """`valuemesh validate` with the organisation's shapes beside the packaged ones, and without, alternately on
    the same snapshot: the ratio as users see it."""
    users_store = store_dir.with_name(store_dir.name + "-cli-org")
    cache_home = store_dir.with_name(store_dir.name + "-cache-home")
    shutil.rmtree(users_store, ignore_errors=True)
    shutil.rmtree(cache_home, ignore_errors=True)
    store.snapshot(users_store)
    given = ("builtin", str(ORG_SHAPES))
    # The first start with shapes nothing remembers judges them against SHACL-for-SHACL; later starts do not.
    first = cli_validate_ms(users_store, given, cache_home)[0]
    packaged, org = [], []
    for _ in range(max(1, min(repeat, 3))):
        packaged.append(cli_validate_ms(users_store, (), cache_home)[0])
        org.append(cli_validate_ms(users_store, given, cache_home)[0])
    shutil.rmtree(users_store, ignore_errors=True)
    shutil.rmtree(cache_home, ignore_errors=True)
    ratio = percentile(org, 50) / percentile(packaged, 50)
    note = f"{ratio:.2f}x the packaged shapes alone, same command; the first start with these shapes {first:.0f} ms"
    row = _timed_row(FULL, VALUEMESH_CLI_ORG, n, org, note)
    row.extra["over_packaged"] = ratio
    row.extra["first_start_ms"] = first
    return row


def _with_org_shapes(
    store: OxigraphStore, n: int, repeat: int, whole_catalog: bool, store_dir: Path | None = None
) -> list[Row]:
    """One write and the whole catalog with an organisation's 20 extra constraints (bench/data/org-shapes.ttl)
    beside the packaged ones (targets: a write under 100 ms and flat; the catalog within 1.5x the packaged time)."""
    shapes = read_shapes([*shape_files(), ORG_SHAPES])
    writes = [time_ms(partial(check_write, store, records, shapes)) for records in new_products(store, INPUTS) * repeat]
    rows = [_timed_row(WRITE, VALUEMESH_WRITE_ORG, n, writes)]
    if whole_catalog:
        full = [time_ms(partial(validate_store, store, shapes)) for _ in range(max(repeat, 3))]
        packaged = [time_ms(partial(validate_store, store)) for _ in range(max(repeat, 3))]
        report = validate_store(store, shapes)
        ratio = percentile(full, 50) / percentile(packaged, 50)
        note = f"{ratio:.2f}x packaged alone; {len(report.violations)} violation(s), {len(report.warnings)} warning(s)"
        rows.append(_timed_row(FULL, VALUEMESH_FULL_ORG, n, full, note))
        rows[-1].extra["over_packaged"] = ratio
        if store_dir is not None:
            rows.append(_cli_org_row(store, store_dir, n, repeat))
    return rows


def run(
    sizes: list[int],
    repeat: int,
    workdir: Path,
    *,
    whole_catalog: bool = True,
    on_disk: bool = False,
    pyshacl: bool = True,
) -> list[dict[str, Any]]:
    """The bench/README.md contract: rows for one write and (unless told not to) the whole catalog at each size."""
    shapes_graph = _shapes_graph()
    rows: list[Row] = []
    first_p50: float | None = None
    for n in sizes:
        # In memory by default, like the other benches; --on-disk uses the embedded default (RocksDB), where the
        # catalog does not sit in the process's memory.
        store_dir = workdir / f"store-{n}" if on_disk else None
        store = build_store(n, SEED, store_dir)
        write_rows = _one_write(store, n, repeat, shapes_graph)
        for row in write_rows:
            if row.engine == VALUEMESH_WRITE and row.p50_ms is not None:
                first_p50 = first_p50 or row.p50_ms
                row.extra["p50_vs_smallest"] = row.p50_ms / first_p50
                row.note = f"p50 is {row.p50_ms / first_p50:.2f}x that at {sizes[0]:,}"
        rows.extend(write_rows)
        if whole_catalog:
            rows.extend(_whole_catalog(store, n, repeat, workdir, store_dir, pyshacl=pyshacl))
        rows.extend(_with_org_shapes(store, n, repeat, whole_catalog, store_dir))
        del store
    return [row.as_dict() for row in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--writes-only", action="store_true", help="only the one-write question (fast)")
    parser.add_argument("--on-disk", action="store_true", help="catalogs in on-disk stores (the default backend)")
    parser.add_argument(
        "--no-pyshacl", action="store_true", help="skip pyshacl over the whole catalog (minutes at 1k, over 10 at 10k)"
    )
    parser.add_argument("--out", type=Path, help="JSON file (default bench/results/validation-<time>.json)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="valuemesh-bench-") as workdir:
        rows = run(
            args.sizes,
            args.repeat,
            Path(workdir),
            whole_catalog=not args.writes_only,
            on_disk=args.on_disk,
            pyshacl=not args.no_pyshacl,
        )
    info = machine()
    print(machine_line(info))
    print(markdown_table(rows, args.sizes))
    out = (
        args.out
        or Path(__file__).parent / "results" / f"validation-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": info, "sizes": args.sizes, "rows": rows}, indent=2, default=str))
    print(f"saved {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
