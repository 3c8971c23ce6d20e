"""The checklist fill on an on-disk store: every product's verdict and what it read, judged at once from the
whole-catalog validation (server/catalog/checklist_catalog.py, what the filler runs) and, with `--one-by-one`,
product by product in chunks of 100 (checklist_reads.py `judge`, what the filler ran before), checked equal.

Run on a copy of the store (the copy is opened read-only, as the validation worker opens its snapshot); CPU time
is this process's (the engine's threads included), wall time beside it.

    .venv/bin/python bench/bench_checklist_fill.py /tmp/d10k              # a store made by bench_home.py or load
    .venv/bin/python bench/bench_checklist_fill.py /tmp/d10k --one-by-one
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/bench_checklist_fill.py`: make `bench` and `server` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable

from server.catalog.checklist_catalog import CHUNK, judge_catalog, judge_in_chunks
from server.catalog.checklist_reads import Judgement
from server.governance.shapes import catalog_shapes
from server.store.oxigraph import OxigraphStore

PRODUCTS = "SELECT DISTINCT ?p WHERE { GRAPH ?p { ?p a <https://ekgf.github.io/dprod/DataProduct> } }"


def timed(what: str, work: Callable[[], Judgement | None]) -> Judgement:
    wall, cpu = time.perf_counter(), time.process_time()
    found = work()
    assert found is not None
    print(
        f"{what}: {len(found.judged)} verdicts ({found.apart} judged one by one) in "
        f"{time.perf_counter() - wall:.1f} s wall, {time.process_time() - cpu:.1f} s CPU",
        flush=True,
    )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("store", type=Path, help="an on-disk store (copied; the original is not opened)")
    parser.add_argument("--one-by-one", action="store_true", help="also judge product by product, and compare")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-fill-") as directory:
        copy = Path(directory) / "store"
        shutil.copytree(args.store, copy)
        store = OxigraphStore(copy, read_only=True)
        try:
            shapes = catalog_shapes()
            products = sorted(str(row[0]) for row in store.select(PRODUCTS).rows)
            print(f"{len(products)} products", flush=True)
            at_once = timed("at once (whole-catalog validation)", lambda: judge_catalog(store, products, shapes))
            if args.one_by_one:
                apart = timed(f"one by one (chunks of {CHUNK})", lambda: judge_in_chunks(store, products, shapes))
                same = at_once.judged.keys() == apart.judged.keys() and all(
                    found.verdict == apart.judged[iri].verdict
                    and all(
                        set(getattr(found.reads, kind)) == set(getattr(apart.judged[iri].reads, kind))
                        for kind in ("records", "subjects", "targets", "keys")
                    )
                    for iri, found in at_once.judged.items()
                )
                print("verdicts and what each read: " + ("equal" if same else "DIFFERENT"), flush=True)
                if not same:
                    return 1
        finally:
            store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
