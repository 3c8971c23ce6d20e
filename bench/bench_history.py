"""What keeping history costs the live catalog: the same questions on a catalog without history and on the same
catalog carrying a heavy one (every record registered, then `--updates` replacements of every product, each
version holding a snapshot of the record it replaced), side by side on disk; plus the history's own questions.

    .venv/bin/python bench/bench_history.py                         # 10k products, 5 updates each
    .venv/bin/python bench/bench_history.py --sizes 1000 --updates 2 --repeat 3

The versions are written as the write path writes them (`history.version_graphs` through `events.publish`, per chunk
of records), without validating each update, which is what the history holds after that many validated writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/bench_history.py`: make `bench` and `server` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import json
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from bench.generate import build_store, plan_catalog
from bench.timing import machine, machine_line, time_ms
from server.catalog import events, history, lineage, products
from server.catalog.history import Action, Change
from server.identity.principal import SYSTEM
from server.namespaces import sparql_prefixes
from server.store.oxigraph import OxigraphStore
from server.validation import validate_store

SEED = 7
CHUNK = 500

COUNT_PRODUCTS = sparql_prefixes() + "SELECT (COUNT(*) AS ?n) WHERE { ?p a dprod:DataProduct ; rdfs:label ?l }"
SEARCH = (
    sparql_prefixes()
    + 'SELECT ?p WHERE { ?p a dprod:DataProduct ; rdfs:label ?l FILTER (CONTAINS(LCASE(?l), "sales")) }'
)
GRAPHS_OF_PRODUCTS = (
    sparql_prefixes() + "SELECT (COUNT(DISTINCT ?g) AS ?n) WHERE { GRAPH ?g { ?p a dprod:DataProduct } }"
)
EVERY_TRIPLE = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"


def add_history(store: OxigraphStore, iris: list[str], updates: int) -> int:
    """A REGISTER version of every record, then `updates` UPDATE versions of every product; how many versions."""
    written = 0
    for start in range(0, len(iris), CHUNK):
        chunk = iris[start : start + CHUNK]
        keep(store, [Change(i, _empty(), Action.REGISTER) for i in chunk])
        written += len(chunk)
    product_iris = [i for i in iris if "/data-product/" in i]
    for _ in range(updates):
        for start in range(0, len(product_iris), CHUNK):
            chunk = product_iris[start : start + CHUNK]
            keep(store, [Change(i, store.record(i), Action.UPDATE, kind="data-product") for i in chunk])
            written += len(chunk)
    return written


def keep(store: OxigraphStore, changes: list[Change]) -> None:
    def versions(first: int) -> dict[str, list[Any]]:
        return history.version_graphs(store, changes, SYSTEM, first)

    events.publish(store, {}, versions)


def _empty() -> Any:
    from rdflib import Graph

    return Graph()


def questions(store: OxigraphStore, plan_products: list[str], rng: random.Random) -> dict[str, Callable[[], object]]:
    picked = rng.sample(plan_products, 20)
    deep = plan_products[-1]
    return {
        "products page (SPARQL, first 50)": lambda: products.page_of_products(store, first=50, listing=None),
        "20 products by IRI": lambda: products.products_by_iri(store, picked),
        "upstream lineage (SPARQL walk)": lambda: lineage.lineage(store, deep, lineage.Direction.UPSTREAM),
        "SPARQL: count products": lambda: store.select(COUNT_PRODUCTS),
        "SPARQL: label search": lambda: store.select(SEARCH),
        "SPARQL: GRAPH ?g of products": lambda: store.select(GRAPHS_OF_PRODUCTS),
        "SPARQL: every triple of the union": lambda: store.select(EVERY_TRIPLE),
        "whole-catalog validation": lambda: validate_store(store),
    }


def median_ms(call: Callable[[], object], repeat: int) -> float:
    call()  # warm-up
    return statistics.median(time_ms(call) for _ in range(repeat))


def bench_size(n: int, updates: int, repeat: int, workdir: Path) -> list[dict[str, Any]]:
    plan = plan_catalog(n, SEED)
    product_iris = [p.iri for p in plan.products]
    plain = build_store(n, SEED, workdir / f"plain-{n}")
    kept = build_store(n, SEED, workdir / f"history-{n}")
    started = time.perf_counter()
    versions = add_history(kept, kept.record_iris(), updates)
    print(f"{n}: {versions} versions written in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    for store in (plain, kept):  # both compacted, so sizes and reads compare settled stores
        store._store.optimize()
    sizes = {
        name: sum(f.stat().st_size for f in (workdir / name).rglob("*") if f.is_file())
        for name in (f"plain-{n}", f"history-{n}")
    }
    rows = []
    for (name, plain_call), kept_call in zip(
        questions(plain, product_iris, random.Random(1)).items(),
        questions(kept, product_iris, random.Random(1)).values(),
        strict=True,
    ):
        # Interleaved, so both stores see the same machine load.
        a, b = [], []
        for _ in range(repeat):
            a.append(median_ms(plain_call, 1))
            b.append(median_ms(kept_call, 1))
        rows.append({"n": n, "question": name, "without_ms": statistics.median(a), "with_ms": statistics.median(b)})
    some = product_iris[len(product_iris) // 2]
    rows.append(
        {
            "n": n,
            "question": "history(id) of a product",
            "with_ms": median_ms(lambda: history.history(kept, some), repeat),
        }
    )
    tail = events.events_after(kept, None, 1)
    rows.append(
        {
            "n": n,
            "question": "events feed: first page of 100",
            "with_ms": median_ms(lambda: events.events_after(kept, None, 100), repeat),
        }
    )
    last = events.latest_cursor(kept)
    rows.append(
        {
            "n": n,
            "question": "events feed: after the newest (poll)",
            "with_ms": median_ms(lambda: events.events_after(kept, last, 100), repeat),
        }
    )
    assert tail
    rows.append(
        {
            "n": n,
            "question": "store on disk (MB)",
            "without_ms": sizes[f"plain-{n}"] / 1e6,
            "with_ms": sizes[f"history-{n}"] / 1e6,
        }
    )
    plain.close()
    kept.close()
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| size | question | without history | with history | ratio |", "|---|---|---|---|---|"]
    for row in rows:
        without, with_ = row.get("without_ms"), row["with_ms"]
        ratio = f"{with_ / without:.2f}x" if without else ""
        unit = "" if "MB" in row["question"] else " ms"
        shown = f"{without:.1f}{unit}" if without is not None else ""
        lines.append(f"| {row['n']:,} | {row['question']} | {shown} | {with_:.1f}{unit} | {ratio} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000])
    parser.add_argument("--updates", type=int, default=5, help="UPDATE versions of every product")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="valuemesh-bench-history-"))
    try:
        rows = [row for n in args.sizes for row in bench_size(n, args.updates, args.repeat, workdir)]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    info = machine()
    print(machine_line(info))
    print(f"{args.updates} updates of every product, median of {args.repeat}")
    print(table(rows))
    if args.out:
        args.out.write_text(json.dumps({"machine": info, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
