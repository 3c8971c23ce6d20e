"""The home page `/` over HTTP on the on-disk store: how long a person waits for the first page of the catalog.

The real app (`create_app`, as `valuemesh serve` runs it) under uvicorn in its own process, on a generated catalog
bulk-loaded on disk; timing starts once the lineage index is built. Each request is timed at the client on
loopback, so the figures are the server's time plus one local round trip (`GET /healthz`, timed beside them).

- `home, first page (verdicts remembered)`: `GET /`, 50 products with domain, owner, completeness and checklist
  badge, and the counts; the checklist verdicts were judged by an earlier request (they are kept until the next
  write of records);
- `home, a page not seen since the last write`: `GET /?after=<cursor>` at random places, each asked once: its 50
  products are judged against the checklist during the request (what the first visitor after a write waits);
- `home search, htmx results`: `GET /?q=<word>` with `HX-Request` (what typing in the search box asks);
- `home, one domain`: `GET /?domain=<iri>`;
- `GraphQL dataProducts, first page` (the reference): the same 50 products with the same fields
  (`name domain { name } owner { name } completeness` and `totalCount`), as a client of the API asks for them.

Target (issue 15): the first page under 200 ms server time at 100k products.

    .venv/bin/python bench/bench_home.py                        # 1k and 10k
    .venv/bin/python bench/bench_home.py --sizes 100000 --repeat 10
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/bench_home.py`: make `bench` and `server` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import json
import random
import shutil
import tempfile
import time
from functools import partial
from typing import Any

import httpx

from bench.bench_api import Server
from bench.generate import build_store, plan_catalog
from bench.timing import Row, machine, machine_line, markdown_table, rows_from, side_by_side, time_ms
from server.catalog.products import encode_cursor

GRAPHQL = """
query { dataProducts(first: 50) {
  totalCount
  edges { node { id name domain { id name } owner { id name } completeness } }
} }
"""
FIRST_PAGE = "home, first page (verdicts remembered)"
UNSEEN_PAGE = "home, a page not seen since the last write"
SEARCH = "home search, htmx results"
DOMAIN = "home, one domain"
REFERENCE = "GraphQL dataProducts, first page"
ROUND_TRIP = "HTTP round trip alone (GET /healthz)"
UNSEEN_INPUTS = 10
STARTUP_S = 1800  # at 100k the lineage index takes minutes to build on a busy machine


def _get(client: httpx.Client, path: str, **headers: str) -> str:
    response = client.get(path, headers=headers)
    response.raise_for_status()
    return response.text


def _get_ignoring(client: httpx.Client, path: str, _: object) -> str:
    return _get(client, path)


def _graphql(client: httpx.Client) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": GRAPHQL})
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    if body.get("errors"):
        raise RuntimeError(body["errors"])
    return body


def _rows(page: str) -> int:
    return page.count('<tr>\n      <td><a href="/data-product/')


def run(sizes: list[int], repeat: int, workdir: Path, seed: int = 7, done: Any = None) -> list[dict[str, Any]]:
    """The rows of every size; `done(rows so far)` is called after each size (a long run keeps what it measured)."""
    rows: list[Row] = []
    for n in sizes:
        here = workdir / f"home-{n}"
        shutil.rmtree(here, ignore_errors=True)
        here.mkdir(parents=True)
        started = time.perf_counter()
        build_store(n, seed, here / "store").close()
        load_ms = (time.perf_counter() - started) * 1000
        rows.append(Row("(setup) bulk load of the catalog on disk", "OxigraphStore.bulk_load", n, load_ms, load_ms, 1))
        plan = plan_catalog(n, seed)
        rng = random.Random(seed)
        iris = sorted(p.iri for p in plan.products)
        places = [encode_cursor(iri) for iri in rng.sample(iris[:-60], min(UNSEEN_INPUTS, len(iris) - 60))]
        words = [str(p.name).split()[-2] for p in rng.sample(plan.products, 5)]  # a word of a subject
        domain = plan.domains[0].iri
        server = Server(here / "store", here / "server.log", startup_s=STARTUP_S)
        try:
            with httpx.Client(base_url=server.url, timeout=120) as client:
                first_ms = time_ms(lambda: _get(client, "/"))  # the very first page: nothing judged yet
                rows.append(Row("home, first page, first request after start", "GET /", n, first_ms, first_ms, 1))
                assert _rows(_get(client, "/")) == 50
                unseen = side_by_side(
                    {"GET /?after=…": lambda cursor: _get(client, f"/?after={cursor}")}, places[1:], 1
                )
                rows += rows_from(unseen, UNSEEN_PAGE, n, "GET /?after=…")
                timings = side_by_side(
                    {
                        FIRST_PAGE: lambda _: _get(client, "/"),
                        REFERENCE: lambda _: _graphql(client),
                        ROUND_TRIP: lambda _: _get(client, "/healthz"),
                    },
                    [0] * 5,
                    repeat,
                    answer_size={FIRST_PAGE: _rows, REFERENCE: lambda b: len(b["data"]["dataProducts"]["edges"])},
                )
                rows += rows_from(timings, "first page of 50 products", n, REFERENCE)
                of_domain = f"/?domain={domain}"
                _get(client, of_domain)  # its first page judged once, as the first page was
                others = side_by_side(
                    {
                        SEARCH: lambda word: _get(client, f"/?q={word}", **{"HX-Request": "true"}),
                        DOMAIN: partial(_get_ignoring, client, of_domain),
                    },
                    words,
                    repeat,
                    answer_size={SEARCH: _rows, DOMAIN: _rows},
                )
                for row in rows_from(others, "search and filter", n, DOMAIN):
                    row.ratio = row.ratio_to = None  # two questions, not two ways to one answer
                    rows.append(row)
        finally:
            server.stop()
        shutil.rmtree(here / "store", ignore_errors=True)
        if done is not None:
            done([row.as_dict() for row in rows])
    return [row.as_dict() for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="valuemesh-home-"))
    print(machine_line(machine()), flush=True)

    def done(rows: list[dict[str, Any]]) -> None:
        print(markdown_table(rows, args.sizes), flush=True)
        if args.out:
            args.out.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2))

    try:
        run(args.sizes, args.repeat, workdir, args.seed, done)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
