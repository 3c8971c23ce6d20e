"""A product's observed lineage as the graph keeps it: one record per product, `<product>/observed-lineage`.

PROV for the last run (a prov:Activity: prov:used and prov:generated datasets, prov:startedAtTime,
prov:endedAtTime, vm:runState), run counts, and every dataset the product's runs read (vm:observedRead, with
prov:atTime the last read), so SPARQL and linked data see observed lineage, and the query library's drift question
(queries/lineage-drift.rq) runs on the store. The runs themselves stay in the run table (runs.py).
"""

from __future__ import annotations

from datetime import datetime

from rdflib import RDF, RDFS, XSD, Literal, URIRef
from rdflib.term import Node

from server.formats.description import DatasetName
from server.namespaces import DCT, PROV, VM
from server.openlineage.runs import RunSummary
from server.store.base import Triple

SUFFIX = "/observed-lineage"


def summary_iri(product: str) -> str:
    """The record holding a product's observed lineage (hidden with the product when it is restricted)."""
    return product + SUFFIX


def _dataset(triples: list[Triple], node: URIRef, dataset: DatasetName) -> None:
    triples += [
        (node, RDF.type, VM.OpenLineageDataset),
        (node, VM.datasetNamespace, Literal(dataset.namespace)),
        (node, VM.datasetName, Literal(dataset.name)),
    ]


def summary_triples(summary: RunSummary) -> list[Triple]:
    """The record of `summary` (see the module docstring)."""
    iri = summary_iri(summary.product)
    record = URIRef(iri)
    triples: list[Triple] = [
        (record, RDF.type, VM.ObservedLineage),
        (record, RDFS.label, Literal("Observed lineage")),
        (record, VM.observedLineageOf, URIRef(summary.product)),
        (record, VM.runCount, Literal(summary.runs)),
        (record, VM.failedRunCount, Literal(summary.failed_runs)),
    ]
    for position, (dataset, when) in enumerate(sorted(summary.reads.items()), start=1):
        node = URIRef(f"{iri}#read-{position}")
        triples.append((record, VM.observedRead, node))
        _dataset(triples, node, dataset)
        triples.append((node, PROV.atTime, Literal(when, datatype=XSD.dateTime)))
    run = summary.last_run
    if run is None:
        return triples
    activity = URIRef(f"{iri}#last-run")
    triples += [
        (record, VM.lastRun, activity),
        (activity, RDF.type, PROV.Activity),
        (activity, DCT.identifier, Literal(run.run_id)),
        (activity, RDFS.label, Literal(str(run.job))),
        (activity, VM.runState, Literal(run.state)),
    ]
    times: list[tuple[Node, datetime | None]] = [(PROV.startedAtTime, run.started), (PROV.endedAtTime, run.ended)]
    for predicate, moment in times:
        if moment is not None:
            triples.append((activity, predicate, Literal(moment, datatype=XSD.dateTime)))
    for kind, predicate, datasets in (("used", PROV.used, run.inputs), ("generated", PROV.generated, run.outputs)):
        for position, dataset in enumerate(datasets, start=1):
            node = URIRef(f"{iri}#{kind}-{position}")
            triples.append((activity, predicate, node))
            _dataset(triples, node, dataset)
    return triples


__all__ = ["summary_iri", "summary_triples"]
