"""A validation report for people (grouped by product) and for machines (standard sh:ValidationReport, JSON)."""

from __future__ import annotations

from rdflib import RDF, BNode, Graph, Literal, URIRef
from rdflib.term import Node

from server.governance.results import ValidationReport, ValidationResult
from server.namespaces import PREFIXES, SH

_MARKS = {"Violation": "[red]✗ violation[/]", "Warning": "[yellow]! warning[/]  ", "Info": "[blue]i info[/]     "}


def human_lines(report: ValidationReport) -> list[str]:
    """Rich markup lines: each product (or use case) by name, then each of its problems."""
    lines: list[str] = []
    for name, results in report.by_record().items():
        lines.append(f"[bold]{_escape(name)}[/]")
        for result in results:
            mark = _MARKS.get(result.severity, result.severity)
            lines.append(f"  {mark} {_escape(result.detail or result.message)}")
    verdict = "[green]conforms[/]" if report.conforms else "[red]does not conform[/]"
    lines.append(f"{len(report.violations)} violation(s), {len(report.warnings)} warning(s): {verdict}")
    return lines


def _escape(text: str) -> str:
    return text.replace("[", "\\[")


def _term(text: str | None, term: Node | None) -> Node | None:
    if term is not None:
        return term
    return None if text is None else URIRef(text)


def _add_result(graph: Graph, report_node: BNode, result: ValidationResult) -> None:
    node = BNode()
    graph.add((report_node, SH.result, node))
    graph.add((node, RDF.type, SH.ValidationResult))
    graph.add((node, SH.focusNode, _term(result.focus_node, result.focus_term)))  # type: ignore[arg-type]
    graph.add((node, SH.resultSeverity, SH[result.severity]))
    graph.add((node, SH.resultMessage, Literal(result.message)))
    if result.component:
        graph.add((node, SH.sourceConstraintComponent, URIRef(result.component)))
    if result.source_shape:
        graph.add((node, SH.sourceShape, URIRef(result.source_shape)))
    if result.constraint:
        graph.add((node, SH.sourceConstraint, URIRef(result.constraint)))
    if result.path:
        if result.path.startswith("^"):
            inverse = BNode()
            graph.add((inverse, SH.inversePath, URIRef(result.path[1:])))
            graph.add((node, SH.resultPath, inverse))
        else:
            graph.add((node, SH.resultPath, URIRef(result.path)))
    value = (
        result.value_term
        if result.value_term is not None
        else (None if result.value is None else Literal(result.value))
    )
    if value is not None:
        graph.add((node, SH.value, value))


def report_graph(report: ValidationReport) -> Graph:
    """The standard SHACL validation report. sh:conforms counts violations only (pyshacl --allow-warnings)."""
    graph = Graph()
    for prefix in ("sh", "vm", "dprod", "rdfs"):
        graph.bind(prefix, PREFIXES[prefix])
    graph.bind("vms", "https://w3id.org/valuemesh/shapes#")
    report_node = BNode()
    graph.add((report_node, RDF.type, SH.ValidationReport))
    graph.add((report_node, SH.conforms, Literal(report.conforms)))
    for result in report.results:
        _add_result(graph, report_node, result)
    return graph
