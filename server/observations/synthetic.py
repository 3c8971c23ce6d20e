"""Synthetic SLI history for the seed's SLOs, so a fresh catalog shows budgets being spent and a goal at risk.

Four weeks of hourly points ending at the hour before now, the same every time for the same hour (each SLO's
random numbers are seeded by its IRI). Each SLO spends a share of its budget as `SPENT` says; HCP master data's
availability overspends its monthly budget three times over, so its downstream products (HCP 360, Digital
engagement, Next best action), their use cases and every goal above them are at risk. Medical inquiries'
completeness gets no points: it shows UNKNOWN. The Catalog service writes these when it seeds a new catalog
(`valuemesh serve` and `Catalog.open`); docs/measurements.md describes them.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import datetime, timedelta

from server.namespaces import DEFAULT_BASE
from server.observations.objectives import Objective
from server.observations.table import Point, point_key

HOURS = 28 * 24
EVENTS_PER_HOUR = 1000
# Share of each SLO's budget its bad events amount to, on average (1.0 spends it exactly).
SPENT = {
    "data-product/hcp-master-data/slo/availability": 3.0,
    "data-product/f2f-meetings/slo/timeliness": 0.8,
    "data-product/hcp-360/slo/freshness": 0.6,
}
DEFAULT_SPENT = 0.35
SEED_PRODUCTS = (
    "crm-interactions",
    "f2f-meetings",
    "hcp-master-data",
    "email-campaign-events",
    "web-analytics",
    "hcp-360",
    "digital-engagement",
    "next-best-action",
    "medical-inquiries",
)
UNMEASURED = {"data-product/medical-inquiries/slo/completeness"}


def seed_products(base: str = DEFAULT_BASE) -> list[str]:
    """The seed's products, whose SLOs get synthetic history (a catalog of other products gets none)."""
    return [f"{base}data-product/{slug}" for slug in SEED_PRODUCTS]


def synthetic_points(slos: Iterable[Objective], now: datetime, base: str = DEFAULT_BASE) -> list[Point]:
    """Hourly points for each SLO over the four weeks before `now` (see the module docstring)."""
    last = now.replace(minute=0, second=0, microsecond=0)
    points: list[Point] = []
    for objective in sorted(slos, key=lambda o: o.iri):
        name = objective.iri.removeprefix(base)
        if name in UNMEASURED:
            continue
        bad_share = objective.budget / 100.0 * SPENT.get(name, DEFAULT_SPENT)
        draw = random.Random(objective.iri)
        for hour in range(HOURS, 0, -1):
            moment = last - timedelta(hours=hour - 1)
            share = min(1.0, max(0.0, draw.gauss(bad_share, bad_share / 3)))
            bad = round(EVENTS_PER_HOUR * share)
            time_ms = round(moment.timestamp() * 1000)
            points.append(
                Point(objective.iri, time_ms, point_key(time_ms, None), EVENTS_PER_HOUR - bad, EVENTS_PER_HOUR)
            )
    return points
