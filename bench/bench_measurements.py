"""SLI measurements: ingest throughput, one product's sloStatus, and goalsAtRisk, on a synthetic catalog on disk.

A catalog of N products (bench/generate.py) on the embedded store, with every tenth product measured: a week of
points every 30 minutes for each SLO of those products, every twentieth of their SLOs overspent so goals are at
risk. The SLOs are split in three, one per ingest row, so no row sends another's points. Rows (issue 16's targets):

- `ingest, table only`: batches of `--batch` points, checked and stored in SQLite (`Measurements.check` and
  `keep`), without writing the graph's summaries. Target >= 50,000 points/s.
- `ingest, collector batches`: batches through `Catalog.record_measurements` as ADMIN, as `POST
  /api/v1/measurements` runs it after parsing the JSON: check, store, note the touched products for the background
  summariser (a third of all measured products per batch, points in time order, as a collector scraping
  everything sends them). The summariser runs beside it, as in the service; its writes are timed apart:
- `summaries, one write`: the summariser's writes during the two ingest rows (each: the statuses and DQV summary
  graphs of every product touched since its previous write, in one store write).
- `ingest, per-product batches`: the same path, each batch one product's points (as a pipeline reporting its own
  product sends them).
- `sloStatus, one product`: one measured product's statuses computed afresh (no status reused), with its SLO
  definitions read by SPARQL too, and with them remembered as the catalog serves it. Target < 5 ms.
- `goalsAtRisk`: `Catalog.goals_at_risk` computed afresh (definitions and links read by SPARQL too) and with
  statuses reused (within `slo_status_max_age_s`), and the first call after a write of records: a product written
  again unchanged (its own SLO definitions are read again) and a use case written again unchanged (its own goal
  links are read again; measurements.Definitions). Target < 100 ms.

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
STEP = timedelta(minutes=30)
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


def _timed_each(call: Any, inputs: list[Any]) -> list[float]:
    times = []
    for each in inputs:
        began = time.perf_counter()
        call(each)
        times.append((time.perf_counter() - began) * 1000)
    return times


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
        product_of = {o.iri: o.product for o in found}
        now = datetime.now(UTC)
        thirds = [found[k::3] for k in range(3)]
        bare = catalog.measurements

        def check_and_store(chunk: list[dict[str, Any]]) -> None:
            bare.keep([bare.check(catalog.store, chunk, SYSTEM)])

        def record(chunk: list[dict[str, Any]]) -> None:
            catalog.record_measurements(chunk, SYSTEM)

        writes: list[tuple[float, int]] = []  # the summariser's writes: ms, products
        assert bare.summariser is not None
        write = bare.summariser._write

        def timed_write(products: list[str]) -> None:
            began = time.perf_counter()
            write(products)
            writes.append(((time.perf_counter() - began) * 1000, len(products)))

        bare.summariser._write = timed_write

        points = _points(thirds[0], now, seed)
        rate, per_batch = _ingest(check_and_store, points, batch)
        rows.append(_row("ingest, table only", n, per_batch, f"{rate:,.0f} points/s, {len(points):,} points"))
        points = _points(thirds[1], now, seed)
        rate, per_batch = _ingest(record, points, batch)
        products = len({o.product for o in thirds[1]})
        note = f"{rate:,.0f} points/s, {len(points):,} points, {products} products per batch"
        rows.append(_row("ingest, collector batches", n, per_batch, note))
        points = sorted(_points(thirds[2], now, seed), key=lambda p: (product_of[p["slo"]], p["time"]))
        per_product: list[list[dict[str, Any]]] = []
        for point in points:
            if not per_product or product_of[per_product[-1][0]["slo"]] != product_of[point["slo"]]:
                per_product.append([])
            per_product[-1].append(point)
        began = time.perf_counter()
        per_batch = _timed_each(record, per_product)
        rate = len(points) / (time.perf_counter() - began)
        note = f"{rate:,.0f} points/s, {len(points):,} points in {len(per_product)} batches"
        rows.append(_row("ingest, per-product batches", n, per_batch, note))
        catalog.flush_summaries()
        note = f"{sum(k for _, k in writes) / max(len(writes), 1):,.0f} products a write on average"
        rows.append(_row("summaries, one write (background)", n, [ms for ms, _ in writes], note))
        fresh = Measurements(bare.table, replace(settings, slo_status_max_age_s=1e-9))
        chosen = random.Random(seed).sample(sorted({o.product for o in found}), min(repeat, len(found)))
        times = [t for product in chosen for t in _timed(lambda p=product: fresh.statuses_of(catalog.store, [p]), 1)]
        rows.append(_row("sloStatus, one product (computed afresh)", n, times, "SLO definitions read by SPARQL too"))
        served = Measurements(bare.table, replace(settings, slo_status_max_age_s=1e-9))
        served.definitions = bare.definitions  # as the catalog serves it: definitions remembered, statuses afresh
        times = [t for product in chosen for t in _timed(lambda p=product: served.statuses_of(catalog.store, [p]), 1)]
        rows.append(_row("sloStatus, one product (definitions remembered)", n, times, "statuses computed afresh"))
        risks = fresh.goals_at_risk(catalog.store, catalog.index)
        times = _timed(lambda: fresh.goals_at_risk(catalog.store, catalog.index), max(3, repeat // 10))
        rows.append(_row("goalsAtRisk (statuses computed afresh)", n, times, f"{len(risks)} goals at risk"))
        catalog.goals_at_risk()
        times = _timed(catalog.goals_at_risk, repeat)
        rows.append(_row("goalsAtRisk (statuses reused)", n, times, f"{len(risks)} goals at risk"))
        edited = random.Random(seed).sample([p.iri for p in plan.products], 3)

        def after_a_change(product: str) -> None:
            catalog.store.replace_records({product: list(catalog.store.record(product))})  # a new marker
            began = time.perf_counter()
            catalog.goals_at_risk()
            cold.append((time.perf_counter() - began) * 1000)

        cold: list[float] = []
        for product in edited:
            after_a_change(product)
        rows.append(_row("goalsAtRisk, first after a product is written", n, cold, "its SLO definitions read again"))
        use_cases = sorted(
            {uc for pairs in catalog.measurements.definitions.links(catalog.store).serving.values() for uc, _ in pairs}
        )
        cold = []
        for use_case in random.Random(seed).sample(use_cases, min(3, len(use_cases))):
            after_a_change(use_case)
        rows.append(_row("goalsAtRisk, first after a use case is written", n, cold, "the goal links read again"))
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
