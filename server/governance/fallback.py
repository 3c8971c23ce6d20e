"""The shapes the compiler leaves to a standard validator (sh:not, sh:and, sh:or, sh:xone, sh:node, nested property
shapes, qualified value shapes, SPARQL-based constraint components...), evaluated by pyshacl over the store's data.

Only those shapes run here (shapes.py's `partition`); the compiled ones are deactivated in the shapes graph pyshacl
gets, so every result comes from exactly one of the two. The data is the store's default graph (the union of its
records and, for a write, the neighbourhood fetched beside them); for a write only focus nodes its records
describe are reported, as the compiled checks do.
"""

from __future__ import annotations

from rdflib import Graph, Literal
from rdflib.term import Node

from server.governance.engine import Selecting, with_record_names
from server.governance.paths import BadPath, path_text
from server.governance.results import ValidationResult
from server.governance.shapes import Shapes, UnsupportedShape
from server.namespaces import SH

ALL_TRIPLES = "SELECT ?s ?p ?o WHERE { ?s ?p ?o }"
DESCRIBED_IN_RECORDS = "SELECT DISTINCT ?s WHERE { GRAPH ?g { ?s ?p ?o } }"


def _data(store: Selecting) -> Graph:
    data = Graph()
    for row in store.select(ALL_TRIPLES):
        data.add((row["s"], row["p"], row["o"]))  # type: ignore[arg-type]
    return data


def _severity(term: Node | None) -> str:
    if term in (SH.Violation, SH.Warning, SH.Info):
        return str(term)[len(str(SH)) :]
    return str(term)


def _path(report: Graph, shapes: Graph, node: Node | None) -> str | None:
    if node is None:
        return None
    try:
        return path_text(report, node)
    except BadPath:
        return path_text(shapes, node)


def evaluate(store: Selecting, shapes: Shapes, *, focus_in_records: bool = False) -> list[ValidationResult]:
    """The results of the shapes left to pyshacl (none when every shape is compiled)."""
    if shapes.evaluated_graph is None:
        return []
    from pyshacl import validate as pyshacl_validate  # seconds to import: only when some shape needs it

    try:
        _, report, _ = pyshacl_validate(
            _data(store),
            shacl_graph=shapes.evaluated_graph,
            inference="none",
            allow_warnings=True,
            allow_infos=True,
            abort_on_first=False,
        )
    except Exception as error:  # pyshacl's own errors for shapes it cannot run: a refusal, never a silent pass
        raise UnsupportedShape(f"the shapes cannot be evaluated: {error}") from error
    if not isinstance(report, Graph):  # pyshacl's ValidationFailure: a query SHACL does not allow, say
        raise UnsupportedShape(f"the shapes cannot be evaluated: {report}")
    in_focus = {row["s"] for row in store.select(DESCRIBED_IN_RECORDS)} if focus_in_records else None
    found: list[ValidationResult] = []
    for report_node in report.subjects(predicate=SH.conforms):
        for node in report.objects(report_node, SH.result):
            focus = report.value(node, SH.focusNode)
            if focus is None or (in_focus is not None and focus not in in_focus):
                continue
            value = report.value(node, SH.value)
            shape = report.value(node, SH.sourceShape)
            constraint = report.value(node, SH.sourceConstraint)
            message = report.value(node, SH.resultMessage)
            found.append(
                ValidationResult(
                    focus_node=str(focus),
                    severity=_severity(report.value(node, SH.resultSeverity)),
                    message=str(message) if isinstance(message, Literal) else "",
                    detail=str(message) if isinstance(message, Literal) else "",
                    path=_path(report, shapes.graph, report.value(node, SH.resultPath)),
                    source_shape=None if shape is None else str(shape),
                    component=str(report.value(node, SH.sourceConstraintComponent)),
                    constraint=None if constraint is None else str(constraint),
                    value=None if value is None else str(value),
                    focus_term=focus,
                    value_term=value,
                    shape_term=shape,
                )
            )
    return with_record_names(store, found)
