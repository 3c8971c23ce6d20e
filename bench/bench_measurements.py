"""SLI measurements: ingest throughput, one product's sloStatus, and goalsAtRisk, on a synthetic catalog on disk.

A catalog of N products (bench/generate.py) on the embedded store, with every tenth product measured: a week of
points every 10 minutes for each SLO of those products, every twentieth of their SLOs overspent so goals are at
risk. Rows (issue 16's targets):

- `ingest`: batches of `--batch` points through `Catalog.record_measurements` as ADMIN, as `POST
  /api/v1/measurements` runs it after parsing the JSON: check, store in SQLite, write the touched products' DQV
  summaries to the graph. Points per second over all batches, and p50/p99 per batch. Target >= 50,000 points/s.
- `ingest (no summaries)`: the same without the graph write, to show what the summaries cost.
- `sloStatus, one product`: `Catalog.slo_statuses` for one measured product, computed afresh (no status reused).
  Target < 5 ms.
- `goalsAtRisk`: `Catalog.goals_at_risk` computed afresh and with statuses reused (within
  `slo_status_max_age_s`). Target < 100 ms.

    .venv/bin/python bench/bench_measurements.py                   # 10k
    .venv/bin/python bench/bench_measurements.py --sizes 10000 100000
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/bench_measurements.py`: make `bench` and `server` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import random
import shutil
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.generate import build_store, plan_catalog
from bench.timing import percentile
from server.catalog.service import Catalog
from server.identity.principal import SYSTEM
from server.observations.measurements import Measurements
from server.observations.objectives import Objective, objectives_of
from server.settings import Settings

MEASURED_SHARE = 10  # every tenth product
OVERSPENT_SHARE = 20  # every twentieth measured SLO
STEP = timedelta(minutes=10)
DAYS = 7


def _points(found: list[Objective], now: datetime, seed: int) -> list[dict[str, Any]]:
    """The JSON points a week of monitoring sends, in time order (as a collector would batch them)."""
    draw = random.Random(seed)
    steps = int(timedelta(days=DAYS) / STEP)
    points: list[dict[str, Any]] = []
    for step in range(steps, 0, -1):
        moment = (now - step * STEP).isoformat()
        for index, objective in enumerate(found):
            share = objective.budget / 100 * (3.0 if index % OVERSPENT_SHARE == 0 else 0.3)
            bad = min(1000, max(0, round(draw.gauss(1000 * share, 1000 * share / 3))))
            points.append({"slo": objective.iri, "time": moment, "good": 1000 - bad, "total": 1000})
    return points


def _ingest(record: Any, points: list[dict[str, Any]], batch: int) -> tuple[float, list[float]]:
    per_batch: list[float] = []
    started = time.perf_counter()
    for start in range(0, len(points), batch):
        began = time.perf_counter()
        record(points[start : start + batch])
        per_batch.append((time.perf_counter() - began) * 1000)
    return len(points) / (time.perf_counter() - started), per_batch


def _timed(call: Any, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        call()
        times.append((time.perf_counter() - began) * 1000)
    return times


def run(n: int, batch: int, repeat: int, workdir: Path, seed: int = 1) -> list[str]:
    here = workdir / f"measurements-{n}"
    shutil.rmtree(here, ignore_errors=True)
    here.mkdir(parents=True)
    plan = plan_catalog(n, seed)
    store = build_store(n, seed, here / "store")
    settings = Settings(store=str(here / "store"), seed=False, max_measurements=batch)
    catalog = Catalog(settings, store).open()
    rows: list[str] = []
    try:
        assert catalog.index is not None
        catalog.index.refresh()
        measured = [p.iri for i, p in enumerate(plan.products) if i % MEASURED_SHARE == 0]
        found = sorted(objectives_of(catalog.store, measured).values(), key=lambda o: o.iri)
        now = datetime.now(UTC)
        points = _points(found, now, seed)
        half = len(points) // 2
        # First half without the summaries (the table alone), second half the whole path, each into its own SLOs'
        # history (the halves are different weeks' points of the same SLOs: no duplicates).
        bare = catalog.measurements

        def check_and_store(chunk: list[dict[str, Any]]) -> None:
            bare.keep([bare.check(catalog.store, chunk, SYSTEM)])

        rate, per_batch = _ingest(check_and_store, points[:half], batch)
        rows.append(_row("ingest (no summaries)", n, per_batch, f"{rate:,.0f} points/s"))
        rate, per_batch = _ingest(lambda chunk: catalog.record_measurements(chunk, SYSTEM), points[half:], batch)
        rows.append(
            _row("ingest", n, per_batch, f"{rate:,.0f} points/s, {len(found)} SLOs of {len(measured)} products")
        )
        fresh = Measurements(bare.table, replace(settings, slo_status_max_age_s=1e-9))
        chosen = random.Random(seed).sample(sorted({o.product for o in found}), min(repeat, len(found)))
        times = [t for product in chosen for t in _timed(lambda p=product: fresh.statuses_of(catalog.store, [p]), 1)]
        rows.append(_row("sloStatus, one product (computed afresh)", n, times, ""))
        risks = fresh.goals_at_risk(catalog.store, catalog.index)
        times = _timed(lambda: fresh.goals_at_risk(catalog.store, catalog.index), max(3, repeat // 10))
        rows.append(_row("goalsAtRisk (statuses computed afresh)", n, times, f"{len(risks)} goals at risk"))
        catalog.goals_at_risk()
        times = _timed(catalog.goals_at_risk, repeat)
        rows.append(_row("goalsAtRisk (statuses reused)", n, times, f"{len(risks)} goals at risk"))
    finally:
        catalog.close()
        store.close()
    return rows


def _row(question: str, n: int, times: list[float], note: str) -> str:
    return (
        f"| {question} | {n:,} | {percentile(times, 50):.1f} ms | {percentile(times, 99):.1f} ms | {len(times)} | "
        f"{note} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000])
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--workdir", type=Path, default=None)
    arguments = parser.parse_args()
    workdir = arguments.workdir or Path(tempfile.mkdtemp(prefix="valuemesh-bench-"))
    print("| question | products | p50 | p99 | samples | note |")
    print("|---|---|---|---|---|---|")
    for n in arguments.sizes:
        for row in run(n, arguments.batch, arguments.repeat, workdir):
            print(row, flush=True)


if __name__ == "__main__":
    main()
