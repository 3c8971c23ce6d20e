"""The catalog's questions and one registration on a remote SPARQL server (Oxigraph server) vs the embedded store.

Both hold the same synthetic catalog on disk; the catalog functions run unchanged on each, so the ratio is what
the HTTP round trips (and the remote engine) cost. Run alone: `.venv/bin/python bench/bench_remote.py 10000`.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from rdflib import Literal, URIRef
from rdflib.namespace import DCTERMS

from bench.generate import build_store, catalog_stream, plan_catalog
from bench.timing import Row, rows_from, side_by_side
from server.catalog.seeding import install_ontology
from server.catalog.writes import write_records
from server.identity.principal import SYSTEM
from server.store.base import Store
from server.store.sparql import RemoteSparqlStore

SEED = 7
EMBEDDED = "embedded (pyoxigraph, on disk)"
REMOTE = "remote (Oxigraph server over HTTP, on disk)"


def _oxigraph_binary() -> str | None:
    return shutil.which("oxigraph", path=str(Path(sys.executable).parent)) or shutil.which("oxigraph")


@contextmanager
def oxigraph_server(binary: str, data: Path) -> Iterator[str]:
    """An Oxigraph server on a free loopback port; yields its store location."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [binary, "serve", "--bind", f"127.0.0.1:{port}", "--location", str(data)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/query?query=ASK%7B%7D", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield f"sparql+http://127.0.0.1:{port}/query?update=/update&gsp=/store&timeout=300"
    finally:
        process.terminate()
        process.wait(timeout=30)


def _load_remote(location: str, n: int) -> RemoteSparqlStore:
    store = RemoteSparqlStore.from_location(location)
    assert store.gsp_url is not None
    # The Graph Store Protocol takes the whole dataset as N-Quads in one request: the fast way to fill a server.
    response = httpx.post(
        store.gsp_url,
        content=catalog_stream(n, SEED).read(),
        headers={"Content-Type": "application/n-quads"},
        timeout=600,
    )
    response.raise_for_status()
    install_ontology(store)
    return store


def _registration(store: Store, product: str) -> Callable[[int], object]:
    """One registration through the real write path: the product's record with a new description, validated."""
    record = store.record(product)

    def register(i: int) -> object:
        changed = record.__class__(identifier=product)
        for triple in record:
            changed.add(triple)
        changed.set((URIRef(product), DCTERMS.description, Literal(f"Revision {i}: {time.time_ns()}")))
        return write_records(store, {product: changed}, actor=SYSTEM).written

    return register


def _questions(plan: Any, rng: random.Random) -> dict[str, tuple[Callable[[Store, Any], object], list[Any]]]:
    from server.catalog import goal_trace, lineage, overlaps

    deep = plan.products_at_depth(plan.max_depth)
    members = [iri for pair in plan.overlap_pairs for iri in pair]
    group = sorted(set(rng.sample(members, min(100, len(members)))))
    group += rng.sample([p.iri for p in plan.products if p.iri not in group], 200 - len(group))
    return {
        f"upstream lineage from a depth-{plan.max_depth} product": (
            lambda s, p: lineage.lineage(s, p).nodes,
            rng.sample(deep, min(5, len(deep))),
        ),
        "overlap, all pairs among 200 products": (lambda s, ps: overlaps.overlaps(s, ps).pairs, [group] * 3),
        "goal trace of one product": (
            lambda s, p: goal_trace.goal_trace(s, p),
            rng.sample([p.iri for p in plan.products], 5),
        ),
    }


def run(sizes: list[int], repeat: int, workdir: Path) -> list[dict]:
    """Rows for each question: embedded and remote side by side, the remote's paired ratio to the embedded."""
    binary = _oxigraph_binary()
    if binary is None:
        return [Row("remote backend", REMOTE, n, note="oxigraph server not installed").as_dict() for n in sizes]
    rows: list[Row] = []
    for n in sizes:
        plan = plan_catalog(n, SEED)
        rng = random.Random(SEED)
        embedded = build_store(n, SEED, workdir / f"embedded-{n}")
        with oxigraph_server(binary, workdir / f"server-{n}") as location:
            remote = _load_remote(location, n)
            for question, (ask, inputs) in _questions(plan, rng).items():
                timings = side_by_side(
                    {EMBEDDED: partial(ask, embedded), REMOTE: partial(ask, remote)},
                    inputs,
                    repeat,
                    answer_size={EMBEDDED: _size, REMOTE: _size},
                )
                rows.extend(rows_from(timings, question, n, EMBEDDED, _disagreement(timings.answers)))
            product = plan.products_at_depth(plan.max_depth)[0]
            timings = side_by_side(
                {EMBEDDED: _registration(embedded, product), REMOTE: _registration(remote, product)},
                list(range(3)),
                repeat,
                answer_size={EMBEDDED: len, REMOTE: len},
            )
            rows.extend(rows_from(timings, "one registration (validate + replace the record)", n, EMBEDDED))
            remote.close()
        embedded.close()
    return [row.as_dict() for row in rows]


def _size(answer: object) -> int:
    if hasattr(answer, "use_cases"):
        return len(answer.use_cases) + len(answer.goals)  # type: ignore[attr-defined]
    return len(answer)  # type: ignore[arg-type]


def _disagreement(answers: dict[str, int]) -> dict[str, str]:
    if answers.get(EMBEDDED) == answers.get(REMOTE):
        return {}
    return {REMOTE: f"answer size {answers.get(REMOTE)} vs embedded {answers.get(EMBEDDED)}: they disagree"}


if __name__ == "__main__":
    sizes = [int(a) for a in sys.argv[1:]] or [10_000]
    with tempfile.TemporaryDirectory() as tmp:
        for row in run(sizes, 3, Path(tmp)):
            ratio = f"x{row['ratio']:.2f}" if row.get("ratio") else ""
            p50 = f"{row['p50_ms']:.1f} ms" if row.get("p50_ms") is not None else "-"
            print(
                f"{row['n']:>6}  {row['question'][:48]:<48}  {row['engine'][:44]:<44}  {p50:>10}  {ratio}  {row['note']}"
            )
