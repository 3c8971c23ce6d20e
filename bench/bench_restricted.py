"""Restricted records: what the public view costs a SPARQL lineage question, and what keeping it costs.

A synthetic catalog with every tenth product marked `vm:restricted true`, loaded on disk. The question is the one
SPARQL question of upstream lineage (`?product (dprod:inputPort/vm:consumes/^dprod:outputPort)+ ?upstream`) from products 12 levels deep, run
as the `/sparql` worker processes run it (`query_serialized` on a read-only checkpoint):

- `all records (unrestricted)`: the main store, as GOVERNANCE and ADMIN query it, which is also what every caller
  queried before restricted records existed: the reference;
- `public view (outsider)`: the public view's checkpoint (catalog/public_view.py), where an outsider's query runs;
- `reader copy (+10 restricted records)`: a copy of the view with ten restricted records added (a domain member).

Target (issue 14): the outsider at most 1.3x the unrestricted time. Beside them, one-off costs: rebuilding the view
at open, mirroring one product write, and making a reader's copy.

    .venv/bin/python bench/bench_restricted.py                      # 1k and 10k
    .venv/bin/python bench/bench_restricted.py --sizes 100000 --repeat 3
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/bench_restricted.py`: make `bench` and `server` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import json
import random
import shutil
import tempfile
import time
from typing import Any

from bench.generate import generate_catalog, plan_catalog
from bench.timing import Row, rows_from, side_by_side
from server.catalog.public_view import PublicView, readable_records_store
from server.namespaces import VM
from server.store.oxigraph import OxigraphStore

RESTRICTED_SHARE = 10  # every tenth product
INPUTS = 20
TSV = "text/tab-separated-values"
# Every product upstream of one, in one property path: the lineage question an architect asks /sparql.
QUERY = """PREFIX dprod: <https://ekgf.github.io/dprod/> PREFIX vm: <https://w3id.org/valuemesh/ontology#>
SELECT DISTINCT ?upstream WHERE { <$product> (dprod:inputPort/vm:consumes/^dprod:outputPort)+ ?upstream }"""


def _catalog(n: int, seed: int, out: Path) -> tuple[list[str], list[str]]:
    """Write the catalog with every tenth product restricted; (restricted products, deep unrestricted roots)."""
    plan = plan_catalog(n, seed)
    restricted = [p.iri for i, p in enumerate(plan.products) if i % RESTRICTED_SHARE == RESTRICTED_SHARE // 2]
    with out.open("w") as file:
        for line in generate_catalog(n, seed):
            file.write(line if line.endswith("\n") else line + "\n")
        for iri in restricted:
            file.write(f'<{iri}> <{VM.restricted}> "true"^^<http://www.w3.org/2001/XMLSchema#boolean> <{iri}> .\n')
    hidden = set(restricted)
    deep = [iri for iri in plan.products_at_depth(plan.max_depth) if iri not in hidden]  # max_depth scans: once
    return restricted, random.Random(seed).sample(deep, min(INPUTS, len(deep)))


def _checkpoint(store: OxigraphStore, directory: Path) -> OxigraphStore:
    store.snapshot(directory)
    return OxigraphStore(directory, read_only=True)


def run(sizes: list[int], repeat: int, workdir: Path, seed: int = 1) -> list[dict[str, Any]]:
    rows: list[Row] = []
    for n in sizes:
        here = workdir / f"restricted-{n}"
        shutil.rmtree(here, ignore_errors=True)
        here.mkdir(parents=True)
        restricted, roots = _catalog(n, seed, here / "catalog.nq")
        main = OxigraphStore(here / "store")
        with (here / "catalog.nq").open("rb") as data:
            main.bulk_load(data, "application/n-quads")
        started = time.perf_counter()
        view = PublicView(main)
        rebuild_ms = (time.perf_counter() - started) * 1000
        rows.append(
            Row("public view: rebuild at open", "checkpoint, hidden graphs dropped", n, rebuild_ms, rebuild_ms, 1)
        )

        record = main.record(restricted[0])
        started = time.perf_counter()
        main.replace_records({restricted[0]: list(record)})  # type: ignore[dict-item]
        view.mirror({restricted[0]: list(record)}, [])  # type: ignore[dict-item]
        mirror_ms = (time.perf_counter() - started) * 1000
        rows.append(Row("public view: one product write", "main write + mirror", n, mirror_ms, mirror_ms, 1))

        started = time.perf_counter()
        reader = readable_records_store(view.store, main, restricted[:10], here / "reader")
        reader_ms = (time.perf_counter() - started) * 1000
        reader.close()
        del reader
        rows.append(Row("public view: a reader's copy", "checkpoint + 10 records", n, reader_ms, reader_ms, 1))

        stores = {
            "all records (unrestricted)": _checkpoint(main, here / "main-checkpoint"),
            "public view (outsider)": _checkpoint(view.store, here / "view-checkpoint"),
            "reader copy (+10 restricted records)": OxigraphStore(here / "reader", read_only=True),
        }

        def engine(store: OxigraphStore) -> Any:
            return lambda root: store.query_serialized(QUERY.replace("$product", root), TSV)

        timings = side_by_side(
            {name: engine(store) for name, store in stores.items()},
            roots,
            repeat,
            answer_size={name: lambda answer: answer.count(b"\n") - 1 for name in stores},
        )
        rows += rows_from(timings, "SPARQL upstream lineage (property path)", n, "all records (unrestricted)")
        view.close()
        main.close()
        del stores, view, main
    return [row.as_dict() for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="valuemesh-restricted-"))
    try:
        rows = run(args.sizes, args.repeat, workdir, args.seed)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    for row in rows:
        ratio = f"{row['ratio']:.2f}x" if row.get("ratio") is not None else ""
        p50 = f"{row['p50_ms']:.1f}" if row.get("p50_ms") is not None else "-"
        p99 = f"{row['p99_ms']:.1f}" if row.get("p99_ms") is not None else "-"
        size = row.get("answer_size", "")
        print(
            f"{row['n']:>7} | {row['question']:<42} | {row['engine']:<38} | {p50:>9} | {p99:>9} | {ratio:>6} | {size}",
            flush=True,
        )
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
