"""The W3C SHACL test suite run through valuemesh's engine: `python -m server.governance.conformance [SUITE]`.

Each test's data graph is loaded into an in-memory store as one record, as the catalog holds data; its shapes
graph is compiled as the catalog's shapes are; the whole store is validated by `validate_store`. The report is
compared as the suite prescribes: sh:conforms, and the results as a set of (focus node, path, value, source
shape, source constraint component, severity, and the source constraint where the expected report names one),
messages ignored. Blank nodes keep their labels from the test files into the store and back, so a result's blank
node is compared with the expected one directly; a path is compared by its structure. A test that expects
sht:Failure passes when the shapes are refused (UnsupportedShape).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from rdflib import XSD, BNode, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.term import Node

from server.governance.paths import path_text
from server.governance.results import ValidationResult
from server.governance.shapes import UnsupportedShape, shapes_from_graph
from server.namespaces import SH

MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
SHT = Namespace("http://www.w3.org/ns/shacl-test#")
MANIFESTS = ("core/manifest.ttl", "sparql/manifest.ttl")
DATA_RECORD = "urn:valuemesh:conformance:data"

# (focus node, path, value, source shape, source constraint component, severity, source constraint)
ResultKey = tuple[str, ...]


@dataclass(frozen=True)
class SuiteTest:
    id: str  # the test's path in the suite without ".ttl": "core/node/pattern-001"
    data: Graph
    shapes: Graph
    expected: tuple[bool, frozenset[ResultKey]] | None  # conforms and results; None when a failure is expected


def suite_root() -> Path:
    shared = os.environ.get("VALUEMESH_SHARED")
    base = Path(shared) if shared else Path(__file__).resolve().parents[3] / "shared"
    return base / "conformance" / "shacl-w3c"


def _describe(graph: Graph, node: Node, seen: frozenset[Node] = frozenset()) -> str:
    """A blank node by its structure: the triples about it (blank objects described in turn) and the named
    subjects pointing at it; a blank node's label means nothing once loaded into a store."""
    if not isinstance(node, BNode):
        return node.n3()
    if node in seen:
        return "[...]"
    inner = seen | {node}
    outgoing = sorted(f"{p.n3()} {_describe(graph, o, inner)}" for p, o in graph.predicate_objects(node))
    incoming = sorted(f"^{p.n3()} {s.n3()}" for s, p in graph.subject_predicates(node) if not isinstance(s, BNode))
    return "[" + "; ".join(outgoing + incoming) + "]"


_NUMERIC = {XSD.integer, XSD.decimal, XSD.double, XSD.float}


def _term(node: Node | None, data: Graph | None = None) -> str:
    if node is None:
        return ""
    if isinstance(node, BNode):
        return _describe(data, node) if data is not None else f"_:{node}"
    if isinstance(node, Literal) and node.datatype in _NUMERIC and node.value is not None:
        # The store keeps a number in its canonical form ("4.0" as 4): the same value, the same datatype.
        value = node.value
        text = format(value.normalize(), "f") if isinstance(value, Decimal) else repr(value)
        return f"{text}^^{node.datatype.n3()}"
    return node.n3()


def _key(
    data: Graph,
    focus: Node | None,
    path: str | None,
    value: Node | None,
    shape: Node | None,
    component: Node | str | None,
    severity: Node | str | None,
    constraint: Node | None,
) -> ResultKey:
    severity_text = str(severity or "")
    if severity_text in ("Violation", "Warning", "Info"):
        severity_text = str(SH[severity_text])
    return (
        _term(focus, data),
        path or "",
        _term(value, data),
        _term(shape),
        str(component or ""),
        severity_text,
        _term(constraint),
    )


def _expected(graph: Graph, report: Node, data: Graph) -> tuple[bool, frozenset[ResultKey]]:
    conforms = graph.value(report, SH.conforms)
    results = set()
    for result in graph.objects(report, SH.result):
        path = graph.value(result, SH.resultPath)
        results.add(
            _key(
                data,
                graph.value(result, SH.focusNode),
                None if path is None else path_text(graph, path),
                graph.value(result, SH.value),
                graph.value(result, SH.sourceShape),
                graph.value(result, SH.sourceConstraintComponent),
                graph.value(result, SH.resultSeverity),
                graph.value(result, SH.sourceConstraint),
            )
        )
    return bool(isinstance(conforms, Literal) and conforms.value), frozenset(results)


def _graph(path: Path, parsed: dict[Path, Graph]) -> Graph:
    if path not in parsed:
        parsed[path] = Graph().parse(path, format="turtle", publicID=path.as_uri())
    return parsed[path]


def _local(uri: Node) -> Path:
    return Path(str(uri).removeprefix("file://"))


def _tests_of(manifest: Path, root: Path) -> Iterator[SuiteTest]:
    parsed: dict[Path, Graph] = {}
    graph = _graph(manifest, parsed)
    included = sorted(_local(include) for include in graph.objects(None, MF.include))
    for path in included:
        yield from _tests_of(path, root)
    if included and all(p.parent == manifest.parent for p in included):
        # sparql/component/manifest.ttl leaves out nodeValidator-001.ttl, which the suite's 121 tests count.
        for path in sorted(manifest.parent.glob("*.ttl")):
            if path not in included and path != manifest and (None, MF.entries, None) in _graph(path, {}):
                yield from _tests_of(path, root)
    for entries in graph.objects(None, MF.entries):
        for test in Collection(graph, entries):
            action = graph.value(test, MF.action)
            result = graph.value(test, MF.result)
            data = _graph(_local(graph.value(action, SHT.dataGraph)), parsed)  # type: ignore[arg-type]
            shapes = _graph(_local(graph.value(action, SHT.shapesGraph)), parsed)  # type: ignore[arg-type]
            test_id = str(_local(test).relative_to(root))
            yield SuiteTest(test_id, data, shapes, None if result == SHT.Failure else _expected(graph, result, data))  # type: ignore[arg-type]


def suite_tests(root: Path | None = None) -> list[SuiteTest]:
    """Every test of the core and SPARQL manifests, in manifest order."""
    root = root or suite_root()
    return [test for manifest in MANIFESTS for test in _tests_of(root / manifest, root)]


def _actual_key(result: ValidationResult, expect_constraint: bool, data: Graph) -> ResultKey:
    return _key(
        data,
        result.focus_term,
        result.path,
        result.value_term,
        result.shape_term if result.shape_term is not None else URIRef(result.source_shape or ""),
        result.component,
        result.severity,
        (
            BNode(result.constraint)
            if not result.constraint.startswith(("http:", "https:", "urn:"))
            else URIRef(result.constraint)
        )
        if expect_constraint and result.constraint
        else None,
    )


def valuemesh_results(data: Graph, shapes: Graph) -> tuple[list[ValidationResult], Graph]:
    """The test's data validated as the catalog validates its store (UnsupportedShape when refused), and the
    data as the store holds it (where the results' blank nodes are)."""
    from server.governance.neighbourhood import scratch_store
    from server.validation import validate_store

    compiled = shapes_from_graph(shapes)
    store = scratch_store({DATA_RECORD: data})
    try:
        return validate_store(store, compiled).results, store.record(DATA_RECORD)
    finally:
        store.close()


Judge = Callable[[Graph, Graph], tuple[list[ValidationResult], Graph]]


def outcome(test: SuiteTest, judge: Judge = valuemesh_results) -> str:
    """ "pass", or what differs from the expected report."""
    try:
        results, stored = judge(test.data, test.shapes)
    except UnsupportedShape as refused:
        return "pass" if test.expected is None else f"refused: {refused}"
    except Exception as error:  # a crash is a failed test, reported with the others
        return f"error: {type(error).__name__}: {error}"
    if test.expected is None:
        return "accepted shapes the suite expects to be refused"
    conforms, expected = test.expected
    with_constraint = any(key[6] for key in expected)
    actual = frozenset(_actual_key(r, with_constraint, stored) for r in results)
    problems = []
    if conforms != (not results):
        problems.append(f"conforms {not results}, expected {conforms}")
    if actual != expected:
        problems += [f"unexpected {key}" for key in sorted(actual - expected)]
        problems += [f"missing {key}" for key in sorted(expected - actual)]
    return "; ".join(problems) or "pass"


def main(argv: list[str]) -> int:
    logging.getLogger("rdflib.term").setLevel(logging.CRITICAL)
    root = Path(argv[0]) if argv else suite_root()
    tests = suite_tests(root)
    failed = {}
    for test in tests:
        verdict = outcome(test)
        if verdict != "pass":
            failed[test.id] = verdict
    for part in ("core", "sparql"):
        ids = [t.id for t in tests if t.id.startswith(part + "/")]
        print(f"{part}: {len([i for i in ids if i not in failed])}/{len(ids)}")
    for test_id, verdict in failed.items():
        print(f"FAIL {test_id}: {verdict}")
    print(f"total: {len(tests) - len(failed)}/{len(tests)}")
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
