"""The shapes the compiler leaves to a standard validator (nested shapes that are not conditions on one node, see
conditions.py; disjoint qualified value shapes, property shapes nested in property shapes, SPARQL-based constraint
components...), evaluated by pyshacl over the store's data.

Only those shapes run here (shapes.py's `partition`); the compiled ones are deactivated in the shapes graph pyshacl
gets, so every result comes from exactly one of the two. The data is the store's default graph (the union of its
records and, for a write, the neighbourhood fetched beside them), or for records judged on a scratch store the
triples as written (Oxigraph keeps a literal by its value, SHACL judges the literal); for a write only focus nodes
its records describe are reported, as the compiled checks do. SPARQL constraints that query the shapes graph run
beside pyshacl (shapes_graph_queries.py).
"""

from __future__ import annotations

from rdflib import RDFS, Graph, Literal
from rdflib.term import Node

from server.governance.engine import Selecting, with_record_names
from server.governance.neighbourhood import ScratchStore
from server.governance.paths import BadPath, path_text
from server.governance.results import ValidationResult
from server.governance.shapes import Shapes, UnsupportedShape, target_patterns
from server.governance.shapes_graph_queries import evaluate_querying_shapes
from server.namespaces import SH

ALL_TRIPLES = "SELECT ?s ?p ?o WHERE { ?s ?p ?o }"
DESCRIBED_IN_RECORDS = "SELECT DISTINCT ?s WHERE { GRAPH ?g { ?s ?p ?o } }"


# The triples about the nodes at the end of one chain of path steps from a target node (reach.py), ?this included.
REACHED = "SELECT DISTINCT ?s ?p ?o WHERE { { SELECT DISTINCT ?s WHERE { #TARGET #STEPS } } ?s ?p ?o }"
TARGETING_TRIPLES = "SELECT ?s ?p ?o WHERE { ?s ?p ?o FILTER (?p = #PREDICATE) }"
CLASS_HIERARCHY = f"SELECT ?s ?p ?o WHERE {{ ?s ?p ?o FILTER (?p = <{RDFS.subClassOf}>) }}"


def _reached_queries(shapes: Shapes) -> list[str] | None:
    """The queries for the triples the evaluated shapes can read, from their target nodes; None: every triple."""
    reach, graph = shapes.evaluated_reach, shapes.graph
    if reach is None:
        return None
    steps = ["BIND (?this AS ?s)", *(f"?this {path} ?s" for path in reach.sparql_paths())]
    queries = [
        REACHED.replace("#TARGET", target).replace("#STEPS", step)
        for shape in shapes.evaluated
        for target in target_patterns(graph, shape)
        for step in steps
    ]
    # A target by the objects of a predicate is read from the triples that point at the target node.
    targeting = {p for shape in shapes.evaluated for p in graph.objects(shape, SH.targetObjectsOf)}
    queries += [TARGETING_TRIPLES.replace("#PREDICATE", f"<{p}>") for p in sorted(targeting, key=str)]
    return [*queries, CLASS_HIERARCHY]


def _data(store: Selecting, shapes: Shapes) -> Graph:
    """The data pyshacl validates: the triples as written for records being judged; over a whole store, the
    triples the evaluated shapes can reach from their target nodes (all of them when they cannot be bounded)."""
    if isinstance(store, ScratchStore):
        return store.as_written
    data = Graph()
    for query in _reached_queries(shapes) or [ALL_TRIPLES]:
        for row in store.select(query):
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

    data = _data(store, shapes)
    try:
        _, report, _ = pyshacl_validate(
            data,
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
    found = [
        result for result in evaluate_querying_shapes(data, shapes) if in_focus is None or result.focus_term in in_focus
    ]
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
