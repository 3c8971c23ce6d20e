"""The `validation` query's report: the whole stored catalog, or chosen nodes, against the shapes.

Uses the catalog-wide check of `server.validation` (`validate_store`, one SPARQL query per constraint) and keeps
the results about the chosen nodes or their records. Where that check is not there (an older checkout), pyshacl
runs once over the stored records instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyshacl import validate
from rdflib import Graph, URIRef

from server import validation
from server.namespaces import SH
from server.resources import shape_files
from server.store.base import Store
from server.validation import ValidationReport, ValidationResult

ALL_STATEMENTS = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"


def _catalog_check() -> Callable[[Store], ValidationReport] | None:
    return getattr(validation, "validate_store", None)


def _results_of(report: Graph) -> list[ValidationResult]:
    results = []
    for node in report.subjects(SH.resultSeverity, None):
        severity = report.value(node, SH.resultSeverity)
        path = report.value(node, SH.resultPath)
        results.append(
            ValidationResult(
                focus_node=str(report.value(node, SH.focusNode)),
                severity=str(severity).rsplit("#", 1)[-1],
                message=str(report.value(node, SH.resultMessage) or ""),
                path=str(path) if isinstance(path, URIRef) else None,
                source_shape=str(report.value(node, SH.sourceShape) or "") or None,
            )
        )
    results.sort(key=lambda r: (r.focus_node, r.severity, r.message))
    return results


def validation_report(store: Store, ids: list[str] | None) -> ValidationReport:
    """The SHACL report of the stored catalog, restricted to `ids` when given."""
    check = _catalog_check()
    if check is not None:
        report = check(store)
        if ids is None:
            return report
        chosen = set(ids)
        kept = [r for r in report.results if r.focus_node in chosen or getattr(r, "record", None) in chosen]
        return ValidationReport(kept)
    shapes = Graph()
    for path in shape_files():
        shapes.parse(path, format="turtle")
    data = store.construct(ALL_STATEMENTS)
    options: dict[str, Any] = {"focus_nodes": [URIRef(i) for i in ids]} if ids else {}
    _, report, _ = validate(data, shacl_graph=shapes, allow_warnings=True, **options)
    return ValidationReport(_results_of(report))
