"""`/sparql` on a remote SPARQL store: what the replica's copy of the records costs, as `valuemesh serve` runs it.

On a remote store every caller's SPARQL query runs on a copy of the records on the replica's own disk
(server/catalog/records_copy.py), never on the server's union (which holds the service graphs). This bench puts the
synthetic catalog on an Oxigraph server (its own `oxigraph load`, the raw floor), starts `valuemesh serve` on it in
a process of its own, and reports:

- how long after the start `/healthz` answers, and how long until it says `"sparql_records_copy": "ready"` (the copy
  made page by page over HTTP); questions asked before then wait for it;
- the copy's size on disk beside the server's store;
- an architect's upstream-lineage property path over `/sparql` (the copy, in a worker process, through the app)
  against the same query sent straight to the Oxigraph server's own endpoint over its union (the reference: what the
  endpoint cost before the copy, service graphs and all).

    .venv/bin/python bench/bench_records_copy.py --sizes 10000 --repeat 3
    .venv/bin/python bench/bench_records_copy.py --sizes 100000 --repeat 3 --out /tmp/copy.json
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/bench_records_copy.py`: make `bench` and `server` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import httpx

from bench.bench_remote import _oxigraph_binary, oxigraph_server
from bench.bench_restricted import INPUTS, QUERY, TSV
from bench.generate import generate_catalog, plan_catalog
from bench.timing import Row, machine, machine_line, rows_from, side_by_side

REPO = Path(__file__).resolve().parents[1]
READY_TIMEOUT_S = 3600.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


@contextmanager
def valuemesh_serve(location: str, workdir: Path) -> Iterator[tuple[str, subprocess.Popen[bytes], float]]:
    """`valuemesh serve` on the remote store `location`, its temporary files under `workdir/tmp`; yields its base URL,
    its process and when it was started."""
    port = _free_port()
    (workdir / "tmp").mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "VALUEMESH_STORE": location,
        "VALUEMESH_SEED": "0",
        "VALUEMESH_PORT": str(port),
        "TMPDIR": str(workdir / "tmp"),
        "XDG_DATA_HOME": str(workdir / "data"),
        "XDG_CACHE_HOME": str(workdir / "cache"),
    }
    log = (workdir / "serve.log").open("wb")
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "valuemesh"), "serve"], env=env, stdout=log, stderr=log, cwd=REPO
    )
    try:
        yield f"http://127.0.0.1:{port}", process, started
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _wait_until(base: str, process: subprocess.Popen[bytes], started: float, workdir: Path) -> tuple[float, float]:
    """Seconds from the start until `/healthz` first answers, and until it says the records copy is ready."""
    answered = None
    while time.perf_counter() - started < READY_TIMEOUT_S:
        if process.poll() is not None:
            raise RuntimeError(f"valuemesh serve exited: {(workdir / 'serve.log').read_text()[-2000:]}")
        try:
            health = httpx.get(f"{base}/healthz", timeout=5).json()
        except (httpx.HTTPError, ValueError):
            time.sleep(0.2)
            continue
        now = time.perf_counter() - started
        answered = answered if answered is not None else now
        if health.get("sparql_records_copy") == "ready":
            return answered, now
        time.sleep(0.2)
    raise RuntimeError("the records copy was not ready in time")


def _rows(answer: bytes) -> int:
    return answer.count(b"\n") - 1


def _ask(client: httpx.Client, url: str, extra: dict[str, str], root: str) -> bytes:
    """The upstream lineage of `root`, asked at the SPARQL endpoint `url` (TSV)."""
    answer = client.post(url, data={"query": QUERY.replace("$product", root), **extra}, headers={"Accept": TSV})
    answer.raise_for_status()
    return answer.content


def run(sizes: list[int], repeat: int, workdir: Path, seed: int = 1) -> list[dict[str, Any]]:
    binary = _oxigraph_binary()
    if binary is None:
        raise SystemExit("no oxigraph binary (pip install oxigraph, or scripts/sparql-servers.sh installs it)")
    rows: list[Row] = []
    for n in sizes:
        here = workdir / f"records-copy-{n}"
        shutil.rmtree(here, ignore_errors=True)
        here.mkdir(parents=True)
        with (here / "catalog.nq").open("w") as out:
            out.writelines(line if line.endswith("\n") else line + "\n" for line in generate_catalog(n, seed))
        plan = plan_catalog(n, seed)
        deep = plan.products_at_depth(plan.max_depth)
        roots = random.Random(seed).sample(deep, min(INPUTS, len(deep)))

        started = time.perf_counter()
        subprocess.run(
            [binary, "load", "--location", str(here / "server"), "--file", str(here / "catalog.nq")],
            check=True,
            capture_output=True,
        )
        load_ms = (time.perf_counter() - started) * 1000
        rows.append(Row("(setup) the catalog on the Oxigraph server", "oxigraph load", n, load_ms, load_ms, 1))

        with oxigraph_server(binary, here / "server") as location, valuemesh_serve(location, here) as served:
            base, process, began = served
            answered, ready = _wait_until(base, process, began, here)
            rows.append(Row("serve: /healthz first answers", "valuemesh serve", n, answered * 1000, answered * 1000, 1))
            rows.append(Row("serve: records copy ready", "valuemesh serve", n, ready * 1000, ready * 1000, 1))
            copies = list((here / "tmp").glob("valuemesh-sparql-records-*"))
            rows.append(
                Row(
                    "disk: records copy beside the server's store",
                    "MB",
                    n,
                    note=f"copy {sum(map(_size_mb, copies)):.0f} MB, server's store {_size_mb(here / 'server'):.0f} MB",
                )
            )
            server_url = location.removeprefix("sparql+").split("?", 1)[0]
            with httpx.Client(timeout=600) as client:
                on_the_server = partial(_ask, client, server_url, {"union-default-graph": ""})
                over_sparql = partial(_ask, client, f"{base}/sparql", {})
                engines: dict[str, Callable[[str], object]] = {
                    "the server's own endpoint (union)": on_the_server,
                    "/sparql (records copy)": over_sparql,
                }
                timings = side_by_side(
                    engines,
                    roots,
                    repeat,
                    answer_size=dict.fromkeys(engines, _rows),
                )
            rows += rows_from(
                timings, "SPARQL upstream lineage (property path)", n, "the server's own endpoint (union)"
            )
    return [row.as_dict() for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="valuemesh-records-copy-"))
    try:
        rows = run(args.sizes, args.repeat, workdir, args.seed)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    info = machine()
    for row in rows:
        p50 = f"{row['p50_ms']:.1f}" if row.get("p50_ms") is not None else "-"
        p99 = f"{row['p99_ms']:.1f}" if row.get("p99_ms") is not None else "-"
        ratio = f"{row['ratio']:.2f}x" if row.get("ratio") is not None else ""
        answers = f"answer rows {row['answer_size']}" if row.get("answer_size") is not None else ""
        print(f"{row['n']:>7} | {row['question']} | {row['engine']} | {p50} | {p99} | {ratio} | {row['note']}{answers}")
    print(machine_line(info))
    if args.out:
        args.out.write_text(json.dumps({"machine": info, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
