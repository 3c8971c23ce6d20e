"""The article's instruments as pages: server time of `/value-tree` (whole, and one goal's branch), `/use-cases`
(its first and third page), `/interaction-map` (the whole catalog, cut at its first 200 products, and one domain)
and `/overlaps` on synthetic catalogs (bench/generate.py).

Each page is asked through the ASGI app in-process (httpx under TestClient, as the HTTP tests do), after one warm-up
request and with the lineage index built, so the time is what the server spends: the store's questions, the
page's assembly and the template.

    .venv/bin/python bench/bench_ui_instruments.py                  # 1k and 10k
    .venv/bin/python bench/bench_ui_instruments.py --sizes 100000 --repeat 5
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/bench_ui_instruments.py`: make `bench` and `server` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import shutil
import tempfile
from collections import Counter
from functools import partial
from urllib.parse import quote

from fastapi.testclient import TestClient

from bench.generate import build_store, plan_catalog
from bench.timing import machine, machine_line, percentile, time_ms
from server.settings import Settings
from server.web.app import create_app


def pages(n: int, seed: int) -> dict[str, str]:
    plan = plan_catalog(n, seed)
    domain = plan.domains[0]
    domain_iri = domain if isinstance(domain, str) else domain.iri
    busiest = Counter(u.goal for u in plan.use_cases).most_common(1)[0][0]  # the goal most use cases help achieve
    return {
        "value tree": "/value-tree",
        "value tree (the branch of the busiest goal)": "/value-tree?goal=" + quote(busiest, safe=""),
        "use cases (sorted by reach)": "/use-cases?sort=reach&order=asc",
        "use cases (sorted by reach, page 3)": "/use-cases?sort=reach&order=asc&page=3",
        "interaction map (first 200 products)": "/interaction-map",
        "interaction map (one domain)": f"/interaction-map?domain={quote(domain_iri)}",
        "overlaps": "/overlaps",
    }


def run(n: int, seed: int, repeat: int) -> list[tuple[str, int, float, float, int]]:
    folder = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    try:
        store = build_store(n, seed, folder / "store")
        app = create_app(Settings(store=str(folder / "store"), seed=False), store=store)
        rows = []
        with TestClient(app, base_url="http://localhost") as client:
            index = app.state.catalog.index
            if index is not None:
                index.refresh()
            for name, path in pages(n, seed).items():
                first = client.get(path)
                assert first.status_code == 200, (path, first.status_code, first.text[:500])
                times = [time_ms(partial(client.get, path)) for _ in range(repeat)]
                rows.append((name, n, percentile(times, 50), percentile(times, 99), len(first.content)))
        store.close()
        return rows
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    print(machine_line(machine()))
    print("| page | N | p50 ms | p99 ms | page KiB |")
    print("|---|---:|---:|---:|---:|")
    for n in args.sizes:
        for name, size, p50, p99, length in run(n, args.seed, args.repeat):
            print(f"| {name} | {size} | {p50:.0f} | {p99:.0f} | {length / 1024:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
