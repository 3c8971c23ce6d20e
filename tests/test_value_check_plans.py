"""The on-disk plans of checks on value nodes (server/governance/shapes.py: merged per target, nested shapes tested
once per distinct value) find exactly what the checks as SHACL states them find, on data breaking each kind."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from pyshacl import validate as pyshacl_validate
from rdflib import BNode, Graph
from rdflib.term import Node

from server.governance.conditions import set_at_a_time
from server.governance.engine import run_checks
from server.governance.results import ValidationResult
from server.governance.shapes import REPEATED_VALUES, Query, read_shapes
from server.namespaces import SH
from server.rdf_io import read_rdf_file
from server.store import Store, open_store
from server.validation import validate_records, validate_store

DATA = Path(__file__).parent / "data"
SHAPES = DATA / "shapes-value-checks.ttl"
RECORD = "http://example.org/catalog"


def _value(term: Node | None) -> str:
    """A value as compared: blank nodes differ between stores, so any blank node is "_:"."""
    return "" if term is None else ("_:" if isinstance(term, BNode) else str(term))


def _ours(results: list[ValidationResult]) -> Counter[tuple[str, ...]]:
    return Counter((r.focus_node, r.component, _value(r.value_term)) for r in results)


def _pyshacl(data: Graph, shapes: Graph) -> Counter[tuple[str, ...]]:
    _, report, _ = pyshacl_validate(data, shacl_graph=shapes, allow_warnings=True)
    found: Counter[tuple[str, ...]] = Counter()
    for node in report.objects(None, SH.result):  # type: ignore[union-attr]  (not the sh:detail of nested shapes)
        value = report.value(node, SH.value)  # type: ignore[union-attr]
        found[
            (
                str(report.value(node, SH.focusNode)),  # type: ignore[union-attr]
                str(report.value(node, SH.sourceConstraintComponent)),  # type: ignore[union-attr]
                _value(value),
            )
        ] += 1
    return found


def test_the_on_disk_plans_find_what_each_check_alone_finds(tmp_path: Path) -> None:
    shapes = read_shapes([SHAPES])
    data = Graph().parse(DATA / "value-checks.ttl", format="turtle")
    merged = [q for q in shapes.queries if len(q.checks) > 1 and "?k" in q.text]
    assert merged, "some checks on value nodes are merged into one query"
    # ex:kind's sh:or of sh:hasValue reads no facts of the value: tested beside ex:kind's sh:in.
    assert any(c.component == str(SH.OrConstraintComponent) for q in merged for c in q.checks)
    # Sequences of predicates are joined step by step (server/governance/paths.py scanned).
    assert sum("?step2_" in q.text for q in shapes.queries) >= 1
    # Owners, values that are nodes, are tested once per distinct owner where there are few enough of them.
    assert any(q.few_values_limit == REPEATED_VALUES and q.value_path == "<http://example.org/owner>" for q in merged)
    # A minimum and a maximum length on one path read the value's length once (value_tests.py any_fails).
    assert any("ABS(2 * STRLEN" in q.text for q in merged)
    # A predicate two shapes' checks share is scanned once for both (shapes.py _per_predicate).
    assert any(re.search(r"VALUES \?k \{ \d+ \d+ \}", q.text) for q in shapes.queries)
    store = open_store(str(tmp_path / "store"))
    try:
        store.replace_records({RECORD: list(data)})
        on_disk = validate_store(store, shapes).results
        # Nested shapes on paths with few values look each value's facts up on disk (FEW_VALUES); with many, they
        # scan the facts' predicates and set flags for every node at once: the same results either way.
        assert any(q.few_values_text for q in shapes.queries)
        scanned = run_checks(store, [replace(q, few_values_text=None) for q in shapes.queries])
        # Each check alone, with the query as SHACL states it (the lookup plan where there is one).
        alone = run_checks(store, [Query((c,), c.lookup_query or c.query, c.target) for c in shapes.checks])
    finally:
        store.close()
    expected = _pyshacl(data, shapes.graph)
    assert _ours(on_disk) == expected
    assert _ours(scanned) == expected
    assert _ours(alone) == expected
    assert _ours(validate_records({RECORD: data}, shapes).results) == expected
    # On sequences: a value reached through two agreements is one result; an inverse first step.
    assert expected[("http://example.org/lower", str(SH.MaxInclusiveConstraintComponent), "120")] == 1
    assert ("http://example.org/lower", str(SH.PatternConstraintComponent), "Sales team") in expected
    assert ("http://example.org/portless", str(SH.MinCountConstraintComponent), "") in expected
    assert ("http://example.org/good", str(SH.QualifiedMinCountConstraintComponent), "") not in expected
    # Two shapes bound one name's length: the stricter bound decides (10 letters, within 12, beyond 9).
    assert expected[("http://example.org/portless", str(SH.MaxLengthConstraintComponent), "Tenletters")] == 1
    # A node outside the target breaking the target's rules is no result.
    assert not any(focus == "http://example.org/not-a-product" for focus, _, _ in expected)
    # A rule two shapes state alike: found for each shape.
    assert expected[("http://example.org/lower", str(SH.MaxCountConstraintComponent), "")] == 3  # owner x2, domain
    assert expected[("http://example.org/portless", str(SH.MinCountConstraintComponent), "")] == 3  # owner x2, team
    # The data breaks every kind of check the plans cover.
    assert {c for _, c, _ in expected} >= {
        str(SH[f"{kind}ConstraintComponent"])
        for kind in (
            "Pattern",
            "MinLength",
            "MaxLength",
            "Or",
            "In",
            "NodeKind",
            "Datatype",
            "MaxInclusive",
            "MinExclusive",
            "Node",
            "Not",
            "QualifiedMinCount",
            "QualifiedMaxCount",
            "Xone",
            "And",
        )
    }


def test_lookups_of_a_value_become_flags_set_for_every_node_at_once() -> None:
    expression = (
        "EXISTS { ?value <http://example.org/p> ?c0 } && NOT EXISTS { ?value <http://example.org/q> ?c1 FILTER "
        '(!(EXISTS { ?c1 <http://example.org/r> ?c2 })) } && REGEX(STR(?value), "NOT EXISTS { ?value") '
        "&& EXISTS { ?other <http://example.org/p> ?value }"
    )
    test, flags = set_at_a_time(expression, "?value")
    assert test == (
        'BOUND(?atom0_) && !BOUND(?atom1_) && REGEX(STR(?value), "NOT EXISTS { ?value") '
        "&& EXISTS { ?other <http://example.org/p> ?value }"
    )
    assert flags == [
        "OPTIONAL { SELECT DISTINCT ?value (true AS ?atom0_) WHERE { ?value <http://example.org/p> ?c0 } }",
        "OPTIONAL { SELECT DISTINCT ?value (true AS ?atom1_) WHERE { ?value <http://example.org/q> ?c1 FILTER "
        "(!(EXISTS { ?c1 <http://example.org/r> ?c2 })) } }",
    ]


@pytest.mark.all_backends
def test_every_store_finds_what_pyshacl_finds(empty_store: Store) -> None:
    """The same plans on an Oxigraph server as on disk; in memory, the lookup plans; Virtuoso's catalog is checked
    on a local copy (its STR of a blank node is a string, "nodeID://b1", where SPARQL says it is an error)."""
    shapes = read_shapes([SHAPES])
    data = Graph().parse(DATA / "value-checks.ttl", format="turtle")
    empty_store.replace_records({RECORD: list(data)})
    assert _ours(validate_store(empty_store, shapes).results) == _pyshacl(data, shapes.graph)


def test_max_count_on_disk_counts_each_value_once_however_often_it_is_stated(tmp_path: Path) -> None:
    """On disk, maxCount first finds the nodes with too many statements, then counts their distinct values: a value
    stated in two records is still one value, and the count in the message is the number of distinct values."""
    shapes = read_shapes([DATA / "shapes-max-count.ttl"])
    records = read_rdf_file(DATA / "max-count.trig").named
    store = open_store(str(tmp_path / "store"))
    try:
        store.replace_records({iri: list(graph) for iri, graph in records.items()})
        on_disk = validate_store(store, shapes).results
    finally:
        store.close()
    merged = Graph()
    for graph in records.values():
        merged += graph
    expected = _pyshacl(merged, shapes.graph)
    assert _ours(on_disk) == expected == _ours(validate_records(records, shapes).results)
    # ex:a states "A", its owner, its tag "x" and its part's name twice (in two records): no violation.
    found = sorted((r.focus_node.rsplit("#", 1)[-1], str(r.path).rsplit("#", 1)[-1], str(r.detail)) for r in on_disk)
    assert [(focus, path, detail.rsplit("; ", 1)[-1]) for focus, path, detail in found] == [
        ("b", "name", "it has 2"),
        ("b", "name>)", "it has 2"),  # the path sequence ex:part/ex:name: "one" and "two"
        ("b", "owner", "it has 2"),
        ("b", "tag", "it has 3"),
    ]
