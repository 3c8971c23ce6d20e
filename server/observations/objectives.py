"""What the catalog says about the SLOs measurements are for: their product, metric, target, budget and period."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from server.catalog.nodes import unique, with_values
from server.errors import BadInput
from server.namespaces import sparql_prefixes
from server.observations.periods import Period, parse_period
from server.store.base import Store

_SELECT = """
SELECT ?slo ?product ?metric ?target ?period ?budget ?atMost ?atLeast WHERE {
  VALUES ?$key { $nodes }
  ?product a dprod:DataProduct ; odrl:hasPolicy ?agreement .
  ?agreement vm:serviceLevelObjective ?slo .
  ?slo vm:target ?target ; vm:period ?period .
  OPTIONAL { ?slo vm:serviceLevelIndicator ?metric }
  OPTIONAL { ?slo vm:errorBudget ?budget }
  OPTIONAL { ?slo vm:goodAtMost ?atMost }
  OPTIONAL { ?slo vm:goodAtLeast ?atLeast }
}
"""
BY_SLO = sparql_prefixes() + _SELECT.replace("$key", "slo")
BY_PRODUCT = sparql_prefixes() + _SELECT.replace("$key", "product")


@dataclass(frozen=True)
class Objective:
    """An SLO as the computation needs it."""

    iri: str
    product: str
    metric: str | None
    target: float
    budget: float  # percent of events allowed to be bad over the period (100 - target unless stated)
    period: Period
    good_at_most: float | None = None
    good_at_least: float | None = None

    @property
    def has_threshold(self) -> bool:
        return self.good_at_most is not None or self.good_at_least is not None

    def counts_as_good(self, value: float) -> bool:
        """Whether a point given as a value meets the SLO's threshold (both, when it states both)."""
        low = self.good_at_least is None or value >= self.good_at_least
        high = self.good_at_most is None or value <= self.good_at_most
        return low and high


def _number(value: object) -> float | None:
    try:
        return float(Decimal(str(value))) if value is not None else None
    except InvalidOperation:
        return None


def _read(store: Store, query: str, iris: Iterable[str]) -> dict[str, Objective]:
    wanted = unique(iris)
    found: dict[str, Objective] = {}
    if not wanted:
        return found
    for row in store.select(with_values(query, wanted)):
        slo = str(row["slo"])
        target = _number(row["target"])
        if slo in found or target is None:
            continue
        try:
            period = parse_period(str(row["period"]))
        except BadInput:
            continue  # the checklist refuses such an SLO; one stored before it did cannot be computed
        budget = _number(row["budget"])
        found[slo] = Objective(
            iri=slo,
            product=str(row["product"]),
            metric=None if row["metric"] is None else str(row["metric"]),
            target=target,
            budget=budget if budget is not None and budget > 0 else max(100.0 - target, 0.0),
            period=period,
            good_at_most=_number(row["atMost"]),
            good_at_least=_number(row["atLeast"]),
        )
    return found


def objectives(store: Store, slos: Iterable[str]) -> dict[str, Objective]:
    """The SLOs among `slos` that a stored product promises, by IRI (unknown ones are left out)."""
    return _read(store, BY_SLO, slos)


def objectives_of(store: Store, products: Iterable[str]) -> dict[str, Objective]:
    """Every SLO the given products promise, by IRI."""
    return _read(store, BY_PRODUCT, products)
