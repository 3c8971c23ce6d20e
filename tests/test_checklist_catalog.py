"""The filler's verdicts from the whole-catalog validation (server/catalog/checklist_catalog.py) equal judging
product by product (checklist_reads.py `judge`, what pages do and the filler did): every verdict (completeness,
missing items in the article's words and order) and everything each verdict read, so that later writes forget
the same verdicts. On the seed with each bad fixture of tests/data stored as it is (past the write path's checks),
with all of them at once, and on a synthetic catalog with some products made non-conforming."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from rdflib import RDFS, Dataset, Graph, Literal, URIRef

from bench.generate import catalog_stream
from server.catalog.checklist_catalog import derivable, judge_catalog, judge_in_chunks
from server.catalog.checklist_reads import Judgement
from server.catalog.checklists import Checklists
from server.catalog.records import name_key, normalised, split_records
from server.governance.shapes import Shapes, read_shapes
from server.namespaces import DCT, DPROD, VM
from server.resources import shape_files
from server.store.base import Store, Triple
from server.store.memory import MemoryStore
from tests.test_checklists_follow_writes import products_of

DATA = Path(__file__).parent / "data"
RDF_SUFFIXES = {".ttl": "turtle", ".trig": "trig", ".jsonld": "json-ld", ".nq": "nquads", ".nt": "nt"}
# Files of tests/data that are RDF but no catalog data: shapes, and documents that cannot be read offline.
NOT_DATA = ("shapes", "malformed", "remote-context", "lone-surrogate")


def fixtures() -> list[Path]:
    return sorted(path for path in DATA.iterdir() if path.suffix in RDF_SUFFIXES and not path.name.startswith(NOT_DATA))


def fixture_records(path: Path) -> dict[str, list[Triple]]:
    """A fixture's records as a load would store them, past the checks; a statement belonging to no record (a
    product describing another's port, say) stays in a record named after the file, about another record's nodes."""
    dataset = Dataset()
    dataset.parse(path, format=RDF_SUFFIXES[path.suffix])
    records: dict[str, list[Triple]] = {}
    for graph in dataset.graphs():
        if not len(graph):
            continue
        if graph.identifier != dataset.default_graph.identifier:
            records[str(graph.identifier)] = list(graph)
            continue
        plain = Graph()
        plain += graph
        try:
            split = normalised(split_records(plain, path.name))
        except Exception:
            records[f"urn:fixture:{path.name}"] = list(plain)
            continue
        records.update({iri: list(found) for iri, found in split.items()})
    return records


def assert_same(store: Store, shapes: Shapes | None = None) -> Judgement:
    everyone = products_of(store)
    assert everyone
    expected = judge_in_chunks(store, everyone, shapes)  # before
    found = judge_catalog(store, everyone, shapes)  # now
    assert found is not None
    assert found.subclass_records == expected.subclass_records
    assert found.judged.keys() == expected.judged.keys()
    for iri, judged in expected.judged.items():
        got = found.judged[iri]
        assert got.verdict == judged.verdict, iri
        for kind in ("records", "subjects", "targets", "keys"):
            assert set(getattr(got.reads, kind)) == set(getattr(judged.reads, kind)), (iri, kind)
    return found


def seeded(seed_nquads: bytes) -> MemoryStore:
    store = MemoryStore()
    store.bulk_load(seed_nquads, "application/n-quads")
    return store


@pytest.mark.parametrize("fixture", fixtures(), ids=lambda path: path.name)
def test_the_seed_with_each_bad_fixture_judged_at_once_as_one_by_one(seed_nquads: bytes, fixture: Path) -> None:
    store = seeded(seed_nquads)
    store.replace_records(fixture_records(fixture))
    assert_same(store)


def test_the_seed_with_every_bad_fixture_at_once(seed_nquads: bytes) -> None:
    store = seeded(seed_nquads)
    for fixture in fixtures():
        store.replace_records(fixture_records(fixture))
    found = assert_same(store)
    assert any(not judged.verdict.passes for judged in found.judged.values())
    assert found.apart  # fixtures that state about another record's nodes are judged product by product


@pytest.mark.parametrize(
    ("shapes_file", "derived"),
    [
        ("shapes-without-messages.ttl", True),  # SHACL Core on a product's own values: still derived
        ("shapes-left-to-pyshacl.ttl", False),  # a standard validator's part: judged one by one
        ("shapes-sparql-joins.ttl", False),  # SPARQL constraints of its own: may read anything
        ("shapes-domain-described-briefly.ttl", False),  # further than one step
    ],
)
def test_an_organisations_shapes_judged_at_once_as_one_by_one(
    seed_nquads: bytes, shapes_file: str, derived: bool
) -> None:
    shapes = read_shapes([*shape_files(), DATA / shapes_file])
    assert derivable(shapes) == derived
    store = seeded(seed_nquads)
    for fixture in fixtures():
        store.replace_records(fixture_records(fixture))
    found = assert_same(store, shapes)
    assert (found.apart < len(found.judged)) == derived


def broken(store: Store, products: list[str]) -> None:
    """Make some of a generated catalog's products fail the checklist in the ways a catalog can."""
    first, second, third, fourth, fifth, sixth = (URIRef(iri) for iri in products[:6])
    record = store.record(str(first))
    record.remove((first, DCT.description, None))  # no description
    store.replace_records({str(first): list(record)})
    record = store.record(str(second))
    record.remove((second, DPROD.dataProductOwner, None))  # no owner
    record.remove((second, DCT.type, None))  # no type
    store.replace_records({str(second): list(record)})
    # The third takes the fourth's name and domain: both fail on the name (a generated catalog has no name keys:
    # they are given here as the write path derives them).
    named = store.record(str(fourth))
    name, domain = named.value(fourth, RDFS.label), named.value(fourth, DPROD.domain)
    named.set((fourth, VM.nameKey, Literal(name_key(str(name)))))
    store.replace_records({str(fourth): list(named)})
    record = store.record(str(third))
    record.set((third, RDFS.label, name))
    record.set((third, DPROD.domain, domain))
    record.set((third, VM.nameKey, Literal(name_key(str(name)))))
    store.replace_records({str(third): list(record)})
    # The fifth's input ports consume a port nobody registered.
    record = store.record(str(fifth))
    for port in record.objects(fifth, DPROD.inputPort):
        record.remove((port, VM.consumes, None))
        record.add((port, VM.consumes, URIRef("https://valuemesh.example/nowhere/output-port")))
    store.replace_records({str(fifth): list(record)})
    # The sixth's domain turns regulated: its products without a privacy classification fail that item.
    domain = store.record(str(sixth)).value(sixth, DPROD.domain)
    record = store.record(str(domain))
    record.set((domain, VM.regulated, Literal(True)))
    store.replace_records({str(domain): list(record)})


def test_a_synthetic_catalog_with_failing_products_judged_at_once_as_one_by_one() -> None:
    store = MemoryStore()
    store.bulk_load(catalog_stream(300, 7).read(), "application/n-quads")
    everyone = products_of(store)
    assert len(everyone) == 300
    broken(store, everyone)
    found = assert_same(store)
    failing = {iri for iri, judged in found.judged.items() if not judged.verdict.passes}
    assert set(everyone[:5]) <= failing
    assert found.apart == 2  # the two sharing a name key; every other verdict derived from the whole catalog's


def test_a_stopped_fill_keeps_nothing(seed_nquads: bytes) -> None:
    store = seeded(seed_nquads)
    stop = threading.Event()
    stop.set()
    assert judge_catalog(store, products_of(store), stopped=stop.is_set) is None
    checklists = Checklists()
    checklists.fill(lambda: products_of(store), lambda iris, stop: judge_catalog(store, iris, stopped=stop.is_set))
    checklists.stop_filling()
    assert checklists.state == "ready"
