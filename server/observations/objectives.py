"""What the catalog says about the SLOs measurements are for: their product, metric, target, budget and period."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from rdflib import URIRef

from server.catalog.nodes import select_each, select_texts, unique
from server.errors import BadInput
from server.namespaces import VM, sparql_prefixes
from server.observations.periods import Period, parse_period
from server.store.base import Store

# Asked one triple pattern at a time, with VALUES in pieces (nodes.select_each), and joined here: Oxigraph answers
# the joined pattern with its OPTIONALs in ~5 ms per SLO of the VALUES list (6 s for 1,266 SLOs at 10k products,
# chunked or not), each single pattern in ~0.1 ms per value (bench/bench_measurements.py, bench/README.md).
_PATTERN = sparql_prefixes() + "SELECT ?node ?value WHERE { VALUES ?node { $nodes } %s }"
AGREEMENTS_OF_SLO = _PATTERN % "?value vm:serviceLevelObjective ?node ."
PRODUCTS_OF_AGREEMENT = _PATTERN % "?value odrl:hasPolicy ?node ."
AGREEMENTS_OF_PRODUCT = _PATTERN % "?node odrl:hasPolicy ?value ."
SLOS_OF_AGREEMENT = _PATTERN % "?node vm:serviceLevelObjective ?value ."
PRODUCTS = _PATTERN % "?node a dprod:DataProduct . BIND(?node AS ?value)"
# Every triple of each SLO, the wanted predicates picked here: a second VALUES list for the predicates made
# Oxigraph take 4 s for 1,266 SLOs, this 0.35 s.
FACTS = sparql_prefixes() + "SELECT ?node ?predicate ?value WHERE { VALUES ?node { $nodes } ?node ?predicate ?value }"
FACT_PREDICATES = frozenset(
    str(p) for p in (VM.target, VM.period, VM.serviceLevelIndicator, VM.errorBudget, VM.goodAtMost, VM.goodAtLeast)
)
# The same question as one pattern, kept to check the pieces against (tests/test_measurements_objectives.py).
JOINED = (
    sparql_prefixes()
    + """
SELECT ?slo ?product ?metric ?target ?period ?budget ?atMost ?atLeast WHERE {
  ?product a dprod:DataProduct ; odrl:hasPolicy ?agreement .
  ?agreement vm:serviceLevelObjective ?slo .
  ?slo vm:target ?target ; vm:period ?period .
  OPTIONAL { ?slo vm:serviceLevelIndicator ?metric }
  OPTIONAL { ?slo vm:errorBudget ?budget }
  OPTIONAL { ?slo vm:goodAtMost ?atMost }
  OPTIONAL { ?slo vm:goodAtLeast ?atLeast }
}
"""
)


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


def _pairs(store: Store, query: str, nodes: Iterable[str]) -> dict[str, list[str]]:
    """Each node's values in `query` (a single pattern with ?node bound by VALUES), sorted."""
    found: dict[str, set[str]] = defaultdict(set)
    for row in select_each(store, query, nodes):
        if isinstance(row["value"], URIRef):  # the catalog skolemises blank nodes; one loaded raw cannot be asked for
            found[str(row["node"])].add(str(row["value"]))
    return {node: sorted(values) for node, values in found.items()}


def _first_number(values: list[str]) -> float | None:
    return next((n for n in map(_number, values) if n is not None), None)


def _objective(slo: str, products: list[str], facts: Mapping[str, list[str]]) -> Objective | None:
    """An SLO from its facts (the first usable of each, in IRI/lexical order, when a fact has many values)."""
    target = _first_number(facts.get(str(VM.target), []))
    period = None
    for text in facts.get(str(VM.period), []):
        try:
            period = parse_period(text)
            break
        except BadInput:
            continue  # the checklist refuses such an SLO; one stored before it did cannot be computed
    if not products or target is None or period is None:
        return None
    budget = _first_number(facts.get(str(VM.errorBudget), []))
    metrics = facts.get(str(VM.serviceLevelIndicator), [])
    return Objective(
        iri=slo,
        product=products[0],
        metric=metrics[0] if metrics else None,
        target=target,
        budget=budget if budget is not None and budget > 0 else max(100.0 - target, 0.0),
        period=period,
        good_at_most=_first_number(facts.get(str(VM.goodAtMost), [])),
        good_at_least=_first_number(facts.get(str(VM.goodAtLeast), [])),
    )


def _complete(store: Store, product_of: Mapping[str, list[str]]) -> dict[str, Objective]:
    """The objectives of these SLOs (each with its candidate products, not yet known to be data products)."""
    candidates = unique(p for products in product_of.values() for p in products)
    typed = {node for node, _ in select_texts(store, PRODUCTS, candidates)}
    facts: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for node, predicate, value in select_texts(store, FACTS, product_of):
        if predicate in FACT_PREDICATES:
            facts[node][predicate].append(value)
    found: dict[str, Objective] = {}
    for slo, products in product_of.items():
        values = {predicate: sorted(texts) for predicate, texts in facts.get(slo, {}).items()}
        objective = _objective(slo, [p for p in products if p in typed], values)
        if objective is not None:
            found[slo] = objective
    return found


def objectives(store: Store, slos: Iterable[str]) -> dict[str, Objective]:
    """The SLOs among `slos` that a stored product promises, by IRI (unknown ones are left out)."""
    wanted = unique(slos)
    if not wanted:
        return {}
    agreements = _pairs(store, AGREEMENTS_OF_SLO, wanted)
    products = _pairs(store, PRODUCTS_OF_AGREEMENT, unique(a for found in agreements.values() for a in found))
    product_of = {
        slo: sorted({p for a in agreements[slo] for p in products.get(a, [])}) for slo in wanted if slo in agreements
    }
    return _complete(store, product_of)


def objectives_of(store: Store, products: Iterable[str]) -> dict[str, Objective]:
    """Every SLO the given products promise, by IRI."""
    wanted = unique(products)
    if not wanted:
        return {}
    agreements = _pairs(store, AGREEMENTS_OF_PRODUCT, wanted)
    slos = _pairs(store, SLOS_OF_AGREEMENT, unique(a for found in agreements.values() for a in found))
    product_of: dict[str, set[str]] = defaultdict(set)
    for product, found in agreements.items():
        for agreement in found:
            for slo in slos.get(agreement, []):
                product_of[slo].add(product)
    return _complete(store, {slo: sorted(found) for slo, found in product_of.items()})
