"""sh:datatype on the numeric datatypes tells an ill-formed literal by SPARQL's isNumeric instead of casting its
text back (server/governance/conditions.py `well_formed`): the same results as pyshacl, on disk and in memory."""

from __future__ import annotations

from pathlib import Path

from rdflib import Graph

from server.governance.shapes import read_shapes
from server.store import open_store
from server.validation import validate_records, validate_store
from tests.test_value_check_plans import _ours, _pyshacl

DATA = Path(__file__).parent / "data"
RECORD = "http://example.org/measures"


def test_ill_formed_numbers_are_found_as_pyshacl_finds_them(tmp_path: Path) -> None:
    shapes = read_shapes([DATA / "shapes-numeric-datatypes.ttl"])
    data = Graph().parse(DATA / "numeric-datatypes.ttl", format="turtle")
    assert any("isNumeric" in q.text for q in shapes.queries)
    store = open_store(str(tmp_path / "store"))
    try:
        store.replace_records({RECORD: list(data)})
        on_disk = validate_store(store, shapes).results
    finally:
        store.close()
    expected = _pyshacl(data, shapes.graph)
    assert _ours(on_disk) == expected
    assert _ours(validate_records({RECORD: data}, shapes).results) == expected
    found = {(r.focus_node.rsplit("/", 1)[-1], str(r.path).rsplit("/", 1)[-1], r.value) for r in on_disk}
    assert {focus for focus, _, _ in found} == {"bad"}
    # Every ill-formed number is a violation, and nothing of ex:good is.
    assert {(path, value) for _, path, value in found} >= {
        ("count", "three"),
        ("count", "1.5"),
        ("share", "half"),
        ("ratio", "lots"),
        ("weight", "heavy"),
        ("either", "seven"),
    }
