"""Error-budget arithmetic and statuses with a fixed clock: compliance, budget left, burn rate, EXHAUSTED, UNKNOWN,
and multi-window burn-rate alerting (AT_RISK only when the long and the short window both burn fast)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from server.errors import BadInput
from server.observations.budgets import BudgetStatus, BurnAlerts
from server.observations.measurements import Measurements
from server.observations.objectives import Objective
from server.observations.periods import parse_period
from server.observations.table import Point, PointTable, point_key
from server.settings import Settings

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SLO = "https://valuemesh.example/data-product/p/slo/availability"


def objective(target: float = 99.0, period: str = "P30D", budget: float | None = None) -> Objective:
    return Objective(
        SLO, "https://valuemesh.example/data-product/p", None, target, budget or 100 - target, parse_period(period)
    )


@pytest.fixture
def table() -> Iterator[PointTable]:
    found = PointTable(None)
    yield found
    found.close()


def add(table: PointTable, at: datetime, good: int, total: int) -> None:
    time_ms = round(at.timestamp() * 1000)
    table.add([Point(SLO, time_ms, point_key(time_ms, None), good, total)])


def hourly(table: PointTable, hours: int, bad_per_thousand: int, until: datetime = NOW) -> None:
    """A point each hour of 10,000 events."""
    for hour in range(hours):
        add(table, until - timedelta(hours=hour, minutes=30), 10_000 - 10 * bad_per_thousand, 10_000)


def status(table: PointTable, slo: Objective, settings: Settings | None = None) -> object:
    return Measurements(table, settings or Settings(store="memory:"), clock=lambda: NOW).status(slo)


def test_budget_left_is_the_share_of_the_budget_not_yet_spent(table: PointTable) -> None:
    hourly(table, 24 * 20, 4)  # 0.4 % bad against a 1 % budget
    found = status(table, objective())
    assert found.status is BudgetStatus.HEALTHY  # type: ignore[attr-defined]
    assert found.measured == pytest.approx(99.6)  # type: ignore[attr-defined]
    assert found.burn_rate == pytest.approx(0.4)  # type: ignore[attr-defined]
    assert found.budget_remaining == pytest.approx(60.0)  # type: ignore[attr-defined]
    assert found.measurements == 24 * 20  # type: ignore[attr-defined]


def test_a_stated_error_budget_wins_over_100_minus_target(table: PointTable) -> None:
    hourly(table, 24, 4)
    assert status(table, objective(budget=2.0)).budget_remaining == pytest.approx(80.0)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("bad", "remaining"), [(10, 0.0), (25, -150.0)])
def test_a_spent_or_overspent_budget_is_exhausted(table: PointTable, bad: int, remaining: float) -> None:
    hourly(table, 24 * 10, bad)
    found = status(table, objective())
    assert found.status is BudgetStatus.EXHAUSTED  # type: ignore[attr-defined]
    assert found.budget_remaining == pytest.approx(remaining)  # type: ignore[attr-defined]


def test_points_outside_the_period_do_not_count(table: PointTable) -> None:
    add(table, NOW - timedelta(days=31), 0, 1000)  # a disaster last month
    hourly(table, 24, 0)
    found = status(table, objective())
    assert found.status is BudgetStatus.HEALTHY and found.budget_remaining == 100.0  # type: ignore[attr-defined]


def test_no_points_in_the_period_is_unknown(table: PointTable) -> None:
    add(table, NOW - timedelta(days=40), 990, 1000)
    found = status(table, objective())
    assert found.status is BudgetStatus.UNKNOWN  # type: ignore[attr-defined]
    assert (found.measured, found.budget_remaining, found.burn_rate) == (None, None, None)  # type: ignore[attr-defined]


def minutes(table: PointTable, count: int, bad_per_thousand: int, until: datetime = NOW) -> None:
    """A point each minute of 100 events (6,000 an hour, near the hourly points' 10,000)."""
    for minute in range(count):
        add(table, until - timedelta(minutes=minute, seconds=30), 100 - bad_per_thousand // 10, 100)


def test_a_fast_burn_over_the_hour_and_the_last_five_minutes_is_at_risk(table: PointTable) -> None:
    hourly(table, 24 * 10, 1, until=NOW - timedelta(hours=1))
    minutes(table, 60, 200)  # 20 % bad: burn 20 >= 14.4, over 1 h and 5 min of a 30-day period
    found = status(table, objective())
    assert found.budget_remaining > 0  # type: ignore[attr-defined]
    assert found.status is BudgetStatus.AT_RISK  # type: ignore[attr-defined]


def test_a_fast_burn_that_stopped_in_the_last_five_minutes_is_not_at_risk(table: PointTable) -> None:
    hourly(table, 24 * 10, 1, until=NOW - timedelta(hours=1))
    minutes(table, 55, 200, until=NOW - timedelta(minutes=5))
    minutes(table, 5, 0)
    assert status(table, objective()).status is BudgetStatus.HEALTHY  # type: ignore[attr-defined]


def test_a_sustained_burn_over_six_hours_and_the_last_half_hour_is_at_risk(table: PointTable) -> None:
    hourly(table, 24 * 10, 1, until=NOW - timedelta(hours=6))
    minutes(table, 6 * 60, 80)  # 8 % bad: burn 8, at least 6 but short of 14.4
    found = status(table, objective())
    assert found.budget_remaining > 0  # type: ignore[attr-defined]
    assert found.status is BudgetStatus.AT_RISK  # type: ignore[attr-defined]


def test_the_alert_windows_scale_with_the_period(table: PointTable) -> None:
    # P1D: the fast windows are 2 min and 10 s; 20 % bad over the last 2 minutes, none before, is at risk.
    minutes(table, 60 * 23, 0, until=NOW - timedelta(minutes=3))
    for second in range(0, 120, 5):
        add(table, NOW - timedelta(seconds=second + 1), 8, 10)
    found = status(table, objective(period="P1D"))
    assert found.status is BudgetStatus.AT_RISK  # type: ignore[attr-defined]


def test_the_burn_thresholds_are_settings(table: PointTable) -> None:
    hourly(table, 24 * 10, 1, until=NOW - timedelta(hours=6))
    minutes(table, 6 * 60, 80)
    lenient = Settings(store="memory:", slo_slow_burn=9.0)
    assert status(table, objective(), lenient).status is BudgetStatus.HEALTHY  # type: ignore[attr-defined]
    assert BurnAlerts().fast.burn == Settings().slo_fast_burn


@pytest.mark.parametrize(
    ("period", "end", "start"),
    [
        ("P1D", datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 2, 28, tzinfo=UTC)),
        ("P1M", datetime(2026, 3, 31, 9, tzinfo=UTC), datetime(2026, 2, 28, 9, tzinfo=UTC)),
        ("P3M", datetime(2026, 5, 31, tzinfo=UTC), datetime(2026, 2, 28, tzinfo=UTC)),
        ("P1Y", datetime(2028, 2, 29, tzinfo=UTC), datetime(2027, 2, 28, tzinfo=UTC)),
        ("PT6H", datetime(2026, 1, 1, 3, tzinfo=UTC), datetime(2025, 12, 31, 21, tzinfo=UTC)),
        ("P1W", datetime(2026, 1, 8, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)),
    ],
)
def test_periods_are_calendar_months_and_fixed_days(period: str, end: datetime, start: datetime) -> None:
    assert parse_period(period).start(end) == start


@pytest.mark.parametrize("text", ["", "P", "PT", "1D", "P0D", "P-1D", "PT1.5.5S", "P1DT"])
def test_a_period_that_is_no_positive_duration_is_refused(text: str) -> None:
    with pytest.raises(BadInput):
        parse_period(text)


def test_points_older_than_the_retention_go_when_new_ones_arrive(table: PointTable) -> None:
    old = NOW - timedelta(days=10)
    add(table, old, 1, 1)
    assert table.count() == 1
    time_ms = round(NOW.timestamp() * 1000)
    table.add([Point(SLO, time_ms, point_key(time_ms, None), 1, 1)], prune_before_ms=time_ms - 86_400_000)
    assert table.count() == 1  # the new point only
