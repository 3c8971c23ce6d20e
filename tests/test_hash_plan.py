"""SPARQL constraints planned with hash joins for a catalog on disk (server/governance/hash_plan.py) find exactly
what the constraints as written find."""

from __future__ import annotations

from pathlib import Path

from rdflib import Graph

from server.governance.hash_plan import hash_plan
from server.governance.shapes import read_shapes
from server.namespaces import SH
from server.rdf_io import read_rdf_file
from server.resources import shape_files
from server.store import open_store
from server.validation import validate_records, validate_store

DATA = Path(__file__).parent / "data"
SHAPES = DATA / "shapes-sparql-joins.ttl"
CATALOG = DATA / "joins-catalog.trig"


def _selects(path: Path) -> dict[str, str]:
    graph = Graph().parse(path, format="turtle")
    return {str(constraint).rsplit("#", 1)[-1]: str(text) for constraint, text in graph.subject_objects(SH.select)}


def test_every_packaged_sparql_constraint_is_planned_with_hash_joins() -> None:
    selects = {name: text for path in shape_files() for name, text in _selects(path).items()}
    planned = {name: hash_plan(text) for name, text in selects.items()}
    assert all(planned.values()), [name for name, plan in planned.items() if plan is None]
    # Products without consumers: each OPTIONAL group about the product is scanned once, not looked up per product.
    assert planned["product-has-consumers"].count("OPTIONAL { SELECT * WHERE {") == 2  # type: ignore[union-attr]
    # ... and inside a group, each pattern is scanned once too (the ports and what consumes them, joined by hash).
    assert "{ SELECT * WHERE { ?input vm:consumes ?port . } }" in planned["product-has-consumers"]  # type: ignore[operator]
    # An input port's consumed port that is neither an output port nor a source: two anti-joins by hash.
    assert planned["input-port-consumes-existing"].count("MINUS {") == 2  # type: ignore[union-attr]


def test_constraints_it_cannot_plan_exactly_are_left_as_written() -> None:
    plans = {name: hash_plan(text) for name, text in _selects(SHAPES).items()}
    assert plans["path-left-alone"] is None  # a property path
    for text in [
        "SELECT $this WHERE { $this ex:p [ ex:q ?v ] }",  # a blank node, whose scope is the whole pattern
        "SELECT $this WHERE { $this ex:p _:b . _:b ex:q ?v }",
        "SELECT $this WHERE { $this ex:p ?v BIND (?v AS ?w) }",
        "SELECT $this WHERE { { $this ex:p ?v } UNION { $this ex:q ?v } }",
        "SELECT $this WHERE { GRAPH ?g { $this ex:p ?v } }",
        "SELECT $this WHERE { OPTIONAL { $this ex:p ?v FILTER (?v > ?w) } }",  # the FILTER may see outer variables
        "SELECT $this WHERE { $this ex:p ( 1 2 ) }",
    ]:
        assert hash_plan(text) is None, text
    # A NOT EXISTS is an anti-join only where MINUS means the same.
    assert "MINUS" in plans["absent-bound"]  # type: ignore[operator]
    assert "MINUS { { SELECT * WHERE { ?user ex:uses ?value . } } { SELECT * WHERE {" in plans["absent-chain"]  # type: ignore[operator]
    for kept in ("absent-maybe-bound", "absent-constant", "absent-with-filter"):
        assert "MINUS" not in (plans[kept] or ""), kept
    # An OPTIONAL group is scanned once only when it is about the focus node.
    assert "OPTIONAL { ?owner ex:name ?name }" in plans["optional-elsewhere"]  # type: ignore[operator]


def test_on_disk_and_in_memory_plans_find_the_same_results(tmp_path: Path) -> None:
    """On disk a whole catalog is checked with the hash plans, in memory with the constraints as written (the
    packaged shapes: tests/test_validation.py, against pyshacl too)."""
    shapes = read_shapes([SHAPES])
    assert not shapes.evaluated  # every constraint is compiled: none is left to pyshacl
    records = read_rdf_file(CATALOG).named  # the records as named graphs, as any SPARQL store would hold them
    store = open_store(str(tmp_path / "store"))
    try:
        store.replace_records({iri: list(graph) for iri, graph in records.items()})
        on_disk = validate_store(store, shapes)
    finally:
        store.close()
    in_memory = validate_records(records, shapes)
    assert sorted(map(repr, on_disk.results)) == sorted(map(repr, in_memory.results))
    found = {(r.constraint.rsplit("#", 1)[-1], r.focus_node.rsplit("#", 1)[-1]) for r in on_disk.results}  # type: ignore[union-attr]
    assert ("optional-of-this", "four") in found and ("optional-of-this", "one") not in found
    assert ("absent-bound", "one") in found and ("absent-bound", "two") not in found
    assert ("absent-maybe-bound", "three") in found and ("absent-maybe-bound", "one") not in found
    assert ("absent-maybe-bound", "two") not in found  # no owner: NOT EXISTS sees every name
    assert ("absent-constant", "two") in found
    chained = {r.value.rsplit("#", 1)[-1] for r in on_disk.results if r.constraint.endswith("absent-chain")}  # type: ignore[union-attr]
    assert chained == {"p2", "p3"}  # p1 is used by Cat, who has a name; Bob, who uses p3, has none
    assert ("lists-and-literals", "one") in found and ("lists-and-literals", "four") in found
    assert ("optional-then-pattern", "two") in found and ("path-left-alone", "one") in found
