"""`valuemesh load` of a whole synthetic catalog, validated and all or nothing, against what it cannot beat.

At each size, on the same N-Quads file from bench/generate.py, each in a fresh process on a fresh on-disk store:
- `raw bulk_load`: `OxigraphStore.bulk_load` of the file (no checks at all; the floor for writing);
- `whole-catalog validate`: `server.validation.validate_store` on that loaded store (the compiled shapes over the
  catalog, what `valuemesh validate` runs), timed inside its process: no start-up, no printing of the report;
- `valuemesh load (CLI)`: `valuemesh load --no-seed FILE` as a user runs it (parse, record and ownership checks,
  normalisation, the compiled shapes, the bulk write); its ratio is to raw bulk_load plus validate (target: <= 2).

Load times are wall times of the whole process, starting Python included; peak RSS is the process's own
(`ru_maxrss` of the child).

    .venv/bin/python bench/bench_load.py                        # 1k and 10k
    .venv/bin/python bench/bench_load.py --sizes 1000 10000 30000 --repeat 1 --out /tmp/load.json

`run(sizes, repeat, workdir)` follows the contract of bench/README.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/bench_load.py`: make `bench` and `server` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from typing import Any

from bench.generate import write_catalog
from bench.timing import Row, machine, machine_line, markdown_table, percentile

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

RAW = "raw bulk_load"
VALIDATE = "whole-catalog validate"
LOAD = "valuemesh load (CLI)"

VALIDATE_SCRIPT = (
    "import sys, time; from server.store.oxigraph import OxigraphStore; "
    "from server.catalog.seeding import install_ontology; from server.validation import validate_store; "
    "s = OxigraphStore(sys.argv[1]); install_ontology(s); t = time.perf_counter(); r = validate_store(s); "
    "print((time.perf_counter() - t) * 1000, r.conforms); s.close()"
)

RAW_LOAD_SCRIPT = (
    "import sys; from server.store.oxigraph import OxigraphStore; "
    "s = OxigraphStore(sys.argv[2]); s.bulk_load(open(sys.argv[1], 'rb')); s.close()"
)


def timed_process(args: list[str]) -> tuple[float, float, int, str]:
    """Run a command; its wall time in ms, its peak RSS in MB, its exit code and what it printed."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, open(os.devnull, "wb") as sink:
        process = subprocess.Popen(args, cwd=REPO, stdout=out, stderr=sink)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = (time.perf_counter() - start) * 1000
        out.seek(0)
        printed = out.read().decode()
    return elapsed, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), printed


def measure(n: int, nquads: Path, workdir: Path, repeat: int) -> dict[str, tuple[list[float], float, str]]:
    """Per engine: wall times (ms), the highest peak RSS (MB), a note."""
    results: dict[str, tuple[list[float], float, str]] = {}
    commands = {
        RAW: lambda store: [PYTHON, "-c", RAW_LOAD_SCRIPT, str(nquads), store],
        VALIDATE: lambda store: [PYTHON, "-c", VALIDATE_SCRIPT, store],
        LOAD: lambda store: [PYTHON, "-m", "server.cli.main", "load", "--no-seed", "--store", store, str(nquads)],
    }
    for _ in range(repeat):
        raw_store, load_store = workdir / f"raw-{n}", workdir / f"load-{n}"
        for engine, store in ((RAW, raw_store), (VALIDATE, raw_store), (LOAD, load_store)):
            if engine != VALIDATE:
                shutil.rmtree(store, ignore_errors=True)
            ms, rss, code, printed = timed_process(commands[engine](str(store)))
            times, peak, note = results.get(engine, ([], 0.0, ""))
            if code != 0:
                note = f"exit code {code}"
            if engine == VALIDATE and code == 0:
                validate_ms, conforms = printed.split()
                ms = float(validate_ms)
                note = note if conforms == "True" else "the generated catalog does not conform"
            times.append(ms)
            results[engine] = (times, max(peak, rss), note)
        shutil.rmtree(raw_store, ignore_errors=True)
        shutil.rmtree(load_store, ignore_errors=True)
    return results


def run(sizes: list[int], repeat: int, workdir: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for n in sizes:
        nquads = workdir / f"catalog-{n}.nq"
        if not nquads.exists():
            with nquads.open("w") as out:
                write_catalog(n, 7, out)
        results = measure(n, nquads, workdir, repeat)
        floor = percentile(results[RAW][0], 50) + percentile(results[VALIDATE][0], 50)
        for engine, (times, peak, note) in results.items():
            p50 = percentile(times, 50)
            row = Row(
                question="load the whole catalog",
                engine=engine,
                n=n,
                p50_ms=p50,
                p99_ms=percentile(times, 99),
                samples=len(times),
                note=note,
                extra={"peak_rss_mb": round(peak, 1), "file_mb": round(nquads.stat().st_size / 1e6, 1)},
            )
            if engine == LOAD:
                row.ratio, row.ratio_to = p50 / floor, f"{RAW} + {VALIDATE}"
            rows.append(row.as_dict())
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-load-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        rows = run(args.sizes, args.repeat, workdir)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    info = machine()
    table = markdown_table(rows, args.sizes)
    print(machine_line(info))
    print(table)
    for row in rows:
        print(
            f"{row['n']:>7} {row['engine']:<24} {row['p50_ms'] / 1000:8.1f} s  peak {row['peak_rss_mb']:7.0f} MB"
            + (f"  ratio {row['ratio']:.2f}" if row.get("ratio") else "")
        )
    if args.out:
        args.out.write_text(json.dumps({"command": sys.argv, "machine": info, "rows": rows, "table": table}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
