"""Error budgets: an SLO's compliance, budget left, burn rate and status over its current (rolling) period.

The period is the SLO's `vm:period` ending now. With `budget` the share of events allowed to be bad (its
`vm:errorBudget`, or 100 - target), over any window: burn rate = (bad / total) / budget, so 1.0 spends exactly the
budget over the period; budget remaining = 100 x (1 - the period's burn rate), in percent of the budget.

AT_RISK is multi-window, multi-burn-rate alerting as in the Google SRE workbook (chapter "Alerting on SLOs"): the
budget burns fast over a short window (14.4 over 1 h of 30 days, confirmed over 5 min) or steadily over a longer
one (6 over 6 h, confirmed over 30 min). The windows are the same fractions of the SLO's own period, and every
threshold is a setting (`BurnAlerts`). EXHAUSTED: the budget is spent (remaining <= 0); UNKNOWN: no events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from server.namespaces import VM
from server.observations.objectives import Objective
from server.observations.table import PointTable, Sums, Window


class BudgetStatus(Enum):
    HEALTHY = "HEALTHY"
    AT_RISK = "AT_RISK"
    EXHAUSTED = "EXHAUSTED"
    UNKNOWN = "UNKNOWN"

    @property
    def iri(self) -> str:
        return str(STATUS_IRIS[self])

    @property
    def at_risk(self) -> bool:
        """Whether this status puts what depends on the product at risk."""
        return self in (BudgetStatus.AT_RISK, BudgetStatus.EXHAUSTED)


STATUS_IRIS = {
    BudgetStatus.HEALTHY: VM.BudgetHealthy,
    BudgetStatus.AT_RISK: VM.BudgetAtRisk,
    BudgetStatus.EXHAUSTED: VM.BudgetExhausted,
    BudgetStatus.UNKNOWN: VM.BudgetUnknown,
}
SEVERITY = {BudgetStatus.UNKNOWN: 0, BudgetStatus.HEALTHY: 1, BudgetStatus.AT_RISK: 2, BudgetStatus.EXHAUSTED: 3}


@dataclass(frozen=True)
class BurnAlert:
    """Alert when the burn rate is at least `burn` over period/`window` and over period/`confirm` alike."""

    burn: float
    window: float
    confirm: float


@dataclass(frozen=True)
class BurnAlerts:
    """The workbook's two alerts, its 30-day windows as divisors of the period: 1 h = 30 d / 720, 5 min = / 8640,
    6 h = / 120, 30 min = / 1440."""

    fast: BurnAlert = BurnAlert(14.4, 720, 8640)
    slow: BurnAlert = BurnAlert(6.0, 120, 1440)


@dataclass(frozen=True)
class SloStatus:
    """One SLO's state over its current period."""

    objective: Objective
    status: BudgetStatus
    measurements: int
    measured: float | None  # compliance in percent
    budget_remaining: float | None  # percent of the budget
    burn_rate: float | None
    period_start: datetime
    computed_at: datetime


def _ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def burn_rate(sums: Sums, budget: float) -> float | None:
    """How fast `sums` spend a budget of `budget` percent (None without events)."""
    if sums.total == 0:
        return None
    if budget <= 0:
        return 0.0 if sums.bad == 0 else None  # a 100 % target has no budget: any bad event spends it all
    return (sums.bad / sums.total) / (budget / 100.0)


def _alerting(alert: BurnAlert, long: Sums, short: Sums, budget: float) -> bool:
    rates = (burn_rate(long, budget), burn_rate(short, budget))
    return all(rate is not None and rate >= alert.burn for rate in rates)


def windows_of(objective: Objective, now: datetime, alerts: BurnAlerts) -> list[Window]:
    """The period ending at `now`, then each alert's window and confirmation window (fast, then slow)."""
    start = objective.period.start(now)
    length = (now - start).total_seconds()
    end_ms = _ms(now)
    windows = [Window(_ms(start), end_ms)]
    for alert in (alerts.fast, alerts.slow):
        windows += [
            Window(_ms(now - timedelta(seconds=length / divisor)), end_ms) for divisor in (alert.window, alert.confirm)
        ]
    return windows


def status_from(objective: Objective, sums: list[Sums], now: datetime, alerts: BurnAlerts) -> SloStatus:
    """The SLO's state from its sums over `windows_of(objective, now, alerts)`."""
    period, fast_long, fast_short, slow_long, slow_short = sums
    start = objective.period.start(now)
    if period.total == 0:
        return SloStatus(objective, BudgetStatus.UNKNOWN, period.points, None, None, None, start, now)
    rate = burn_rate(period, objective.budget)
    remaining = 100.0 * (1.0 - rate) if rate is not None else -100.0
    if remaining <= 0:
        status = BudgetStatus.EXHAUSTED
    elif _alerting(alerts.fast, fast_long, fast_short, objective.budget) or _alerting(
        alerts.slow, slow_long, slow_short, objective.budget
    ):
        status = BudgetStatus.AT_RISK
    else:
        status = BudgetStatus.HEALTHY
    measured = 100.0 * period.good / period.total
    return SloStatus(objective, status, period.points, measured, remaining, rate, start, now)


def statuses_of(
    objectives: Sequence[Objective], table: PointTable, now: datetime, alerts: BurnAlerts
) -> list[SloStatus]:
    """Many SLOs' states: one question per distinct period (SLOs of one period share their windows)."""
    by_period: dict[str, list[Objective]] = {}
    for objective in objectives:
        by_period.setdefault(objective.period.text, []).append(objective)
    found: dict[str, SloStatus] = {}
    for group in by_period.values():
        windows = windows_of(group[0], now, alerts)
        sums = table.sums_of([o.iri for o in group], windows)
        for objective in group:
            found[objective.iri] = status_from(objective, sums[objective.iri], now, alerts)
    return [found[o.iri] for o in objectives]
