"""The home page `/` over HTTP on the on-disk store: how long a person waits for the first page of the catalog.

The real app (`create_app`, as `valuemesh serve` runs it) under uvicorn in its own process, on a generated catalog
bulk-loaded on disk; timing starts once the lineage index is built and the checklist verdicts are filled ahead
(`/healthz` is asked every 0.2 s until its `checklists` is no longer "filling"; how long that took is the setup row
`verdicts filled ahead`). Each request is timed at the client on loopback, so the figures are the server's time
plus one local round trip (`GET /healthz`, timed beside them).

- `home, first page, first request after start`: `GET /` once, the first request the server answers after the fill;
- `home, first page (verdicts remembered)`: `GET /`, 50 products with domain, owner, completeness and checklist
  badge, and the counts;
- `home, a page not seen since the last write`: at random places, one product of the page is registered again
  (GraphQL `registerDataProduct`, its description changed, as an ADMIN), then `GET /?after=<cursor>` asks for that
  page once: the written product's verdict, and those the write can change, are judged during the request;
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
from bench.timing import Row, machine, machine_line, markdown_table, percentile, rows_from, side_by_side, time_ms
from server.catalog.products import encode_cursor
from server.identity.principal import Role
from server.identity.tokens import ApiTokens
from server.store import OxigraphStore

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
FILL_S = 3600  # judging 100k products ahead takes minutes more
REGISTER = "mutation ($d: String!) { registerDataProduct(document: $d, format: TURTLE) { __typename } }"


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


def _admin_token(store_dir: Path) -> str:
    """An ADMIN token stored before the server starts (the server holds the store's lock once it runs)."""
    store = OxigraphStore(store_dir)
    try:
        secret, _ = ApiTokens(store).create(
            "bench", agent="https://example.org/agent/bench", domains=[], roles=[Role.ADMIN], expires_in=None
        )
    finally:
        store.close()
    return secret


def _wait_for_the_fill(client: httpx.Client) -> float:
    """Wait until the server has filled its checklist verdicts ahead; the ms it took from now."""
    started = time.perf_counter()
    deadline = time.monotonic() + FILL_S
    while _health(client).get("checklists") == "filling":
        if time.monotonic() > deadline:
            raise RuntimeError("the checklist verdicts were not filled ahead in time")
        time.sleep(0.2)  # not asked again at once: a busy poll takes CPU from the fill
    return (time.perf_counter() - started) * 1000


def _health(client: httpx.Client) -> dict[str, Any]:
    body: dict[str, Any] = client.get("/healthz").json()
    return body


def _write_one_product(client: httpx.Client, iri: str, token: str, count: int) -> None:
    """Register a product again as its owner's pipeline would, its description changed."""
    path = "/" + iri.split("/", 3)[3]
    turtle = client.get(path, headers={"Accept": "text/turtle"})
    turtle.raise_for_status()
    changed = turtle.text.replace('dct:description "', f'dct:description "(revision {count}) ', 1)
    if changed == turtle.text:
        raise RuntimeError(f"no description in the Turtle of {iri}")
    response = client.post(
        "/graphql",
        json={"query": REGISTER, "variables": {"d": changed}},
        headers={"Authorization": f"Bearer {token}"},
    )
    response.raise_for_status()
    answer = response.json()
    if answer.get("errors") or answer["data"]["registerDataProduct"]["__typename"] != "DataProduct":
        raise RuntimeError(answer)


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
        chosen = rng.sample(range(len(iris) - 60), min(UNSEEN_INPUTS, len(iris) - 60))
        places = [(encode_cursor(iris[i]), iris[i + 1]) for i in chosen]  # a page, and the product opening it
        words = [str(p.name).split()[-2] for p in rng.sample(plan.products, 5)]  # a word of a subject
        domain = plan.domains[0].iri
        token = _admin_token(here / "store")
        server = Server(here / "store", here / "server.log", startup_s=STARTUP_S)
        try:
            with httpx.Client(base_url=server.url, timeout=120) as client:
                fill_ms = _wait_for_the_fill(client)
                rows.append(Row("(setup) verdicts filled ahead", "after the index build", n, fill_ms, fill_ms, 1))
                first_ms = time_ms(lambda: _get(client, "/"))  # the very first page a visitor asks for
                rows.append(Row("home, first page, first request after start", "GET /", n, first_ms, first_ms, 1))
                assert _rows(_get(client, "/")) == 50
                unseen_ms = []
                for count, (cursor, product) in enumerate(places[1:]):
                    _write_one_product(client, product, token, count)
                    unseen_ms.append(time_ms(partial(_get, client, f"/?after={cursor}")))
                engine = f"GET /?after=… ({len(unseen_ms)} places, once each, after a write of one product of the page)"
                rows.append(
                    Row(UNSEEN_PAGE, engine, n, percentile(unseen_ms, 50), percentile(unseen_ms, 99), len(unseen_ms))
                )
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
