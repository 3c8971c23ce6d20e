"""SPARQL-based constraints that query the shapes graph ($shapesGraph, $currentShape), which pyshacl cannot run.

SHACL pre-binds $shapesGraph to a graph name under which the shapes graph can be queried, and $currentShape to
the shape being validated. The data and the shapes graph are put side by side in one rdflib dataset (the data as
its default graph, the shapes graph as a named graph) and each constraint runs once per target node with $this,
$shapesGraph and $currentShape bound, as a standard validator runs SPARQL constraints.
"""

from __future__ import annotations

from rdflib import Dataset, Graph, URIRef
from rdflib.term import Identifier, Node

from server.governance.engine import message_with_slots
from server.governance.results import ValidationResult
from server.governance.shapes import Shapes, prefix_lines, severity_of, target_patterns
from server.namespaces import SH

SHAPES_GRAPH = URIRef("urn:valuemesh:shapes-graph")


def _dataset(data: Graph, shapes: Graph) -> Dataset:
    dataset = Dataset()
    dataset.default_context += data
    named = dataset.graph(SHAPES_GRAPH)
    named += shapes
    return dataset


def evaluate_querying_shapes(data: Graph, shapes: Shapes) -> list[ValidationResult]:
    """The results of the constraints that query the shapes graph, over `data`."""
    if not shapes.querying_shapes:
        return []
    graph = shapes.graph
    dataset = _dataset(data, graph)
    found: list[ValidationResult] = []
    for shape, constraint in shapes.querying_shapes:
        query = prefix_lines(graph, constraint) + "\n" + str(graph.value(constraint, SH.select))
        template = str(graph.value(constraint, SH.message) or graph.value(shape, SH.message) or "")
        focus_nodes = {
            row[0]  # type: ignore[index]
            for pattern in target_patterns(graph, shape)
            for row in dataset.query(f"SELECT DISTINCT ?this WHERE {{ {pattern} }}")
        }
        for focus in sorted(focus_nodes, key=str):
            bindings: dict[str, Identifier] = {"this": focus, "shapesGraph": SHAPES_GRAPH, "currentShape": shape}  # type: ignore[dict-item]
            for row in dataset.query(query, initBindings=bindings):
                values: dict[str, Node | None] = {str(v): row.get(v) for v in row.labels}  # type: ignore[union-attr]
                values.update({k: v for k, v in bindings.items() if values.get(k) is None})
                value = values.get("value") or focus
                path = values.get("path")
                detail = message_with_slots(template, values)
                found.append(
                    ValidationResult(
                        focus_node=str(focus),
                        severity=severity_of(graph, shape),
                        message=detail,
                        detail=detail,
                        path=None if path is None else str(path),
                        source_shape=str(shape),
                        component=str(SH.SPARQLConstraintComponent),
                        constraint=str(constraint),
                        value=str(value),
                        focus_term=focus,
                        value_term=value,
                        shape_term=shape,
                    )
                )
    return found
