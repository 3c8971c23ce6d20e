"""SLO status summaries in the graph: per product, one `dqv:QualityMeasurement` per SLO over its current period,
in the named graph `<product>/slo-status`, so SPARQL and linked data see what the measurement table says.

Each is the SLO's compliance (`dqv:value`, percent) with `vm:budgetStatus`, `vm:budgetRemaining`, `vm:burnRate`,
`vm:measurementCount`, `vm:periodStart` and `prov:generatedAtTime`; `dqv:computedOn` the product (a restricted
product's summaries are hidden with it: server/catalog/restrictions.py) and `dqv:isMeasurementOf` the SLO's
metric. The graph holds no record type, so the checklist's shapes judge nothing in it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from rdflib import RDF, Literal, URIRef
from rdflib.namespace import XSD

from server.namespaces import DQV, PROV, VM
from server.observations.budgets import SloStatus
from server.store.base import Triple

SUFFIX = "/slo-status"


def summary_graph(product: str) -> str:
    """The named graph holding `product`'s SLO status summaries."""
    return product + SUFFIX


def measurement_node(product: str, slo: str) -> URIRef:
    """`<product>/slo-status/<the SLO's path under the product>`, or a digest of an SLO elsewhere."""
    local = slo[len(product) + 1 :] if slo.startswith(product + "/") else hashlib.sha1(slo.encode()).hexdigest()[:16]
    return URIRef(f"{summary_graph(product)}/{local}")


def _decimal(value: float) -> Literal:
    return Literal(f"{value:.6f}".rstrip("0").rstrip(".") or "0", datatype=XSD.decimal)


def summary_triples(product: str, statuses: Iterable[SloStatus]) -> list[Triple]:
    triples: list[Triple] = []
    for status in statuses:
        objective = status.objective
        node = measurement_node(product, objective.iri)
        triples += [
            (node, RDF.type, DQV.QualityMeasurement),
            (node, DQV.computedOn, URIRef(product)),
            (node, VM.objective, URIRef(objective.iri)),
            (node, VM.budgetStatus, URIRef(status.status.iri)),
            (node, VM.measurementCount, Literal(status.measurements)),
            (node, VM.periodStart, Literal(status.period_start)),
            (node, PROV.generatedAtTime, Literal(status.computed_at)),
        ]
        if objective.metric is not None:
            triples.append((node, DQV.isMeasurementOf, URIRef(objective.metric)))
        for predicate, value in (
            (DQV.value, status.measured),
            (VM.budgetRemaining, status.budget_remaining),
            (VM.burnRate, status.burn_rate),
        ):
            if value is not None:
                triples.append((node, predicate, _decimal(value)))
    return triples
