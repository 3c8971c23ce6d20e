"""`valuemesh load` of many records at once: the bulk path stores what the record-by-record path stores, refuses
what it refuses with the same words, and reports its phases with `--progress`."""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterable
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib.compare import isomorphic

from bench.generate import generate_catalog, plan_catalog
from server.catalog import bulk_load
from server.catalog.bulk_load import load_files, read_batch
from server.catalog.events import event_count
from server.catalog.history import Action, diff, history
from server.catalog.records import merge_records, normalised, records_of
from server.catalog.seeding import install_ontology
from server.catalog.writes import write_documents
from server.errors import BadInput, StoreUnavailable, ValidationRefused
from server.identity.principal import SYSTEM, local_operator
from server.rdf_io import read_rdf_file
from server.store import MemoryStore, open_store
from server.store.base import Store
from server.store.oxigraph import OxigraphStore
from tests.conftest import CliResult

PRODUCTS = 300
CAT = "https://valuemesh.example/"
DPROD = "https://ekgf.github.io/dprod/"
OWNER = f"<{DPROD}dataProductOwner>"


@pytest.fixture(scope="module")
def catalog_lines() -> list[str]:
    return list(generate_catalog(PRODUCTS, seed=3))


@pytest.fixture
def catalog_file(tmp_path: Path, catalog_lines: list[str]) -> Path:
    path = tmp_path / "catalog.nq"
    path.write_text("".join(catalog_lines))
    return path


def empty_catalog() -> MemoryStore:
    store = MemoryStore()
    install_ontology(store)
    return store


def assert_same_records(bulk: Store, by_record: Store) -> None:
    assert bulk.record_iris() == by_record.record_iris()
    for iri in bulk.record_iris():
        assert isomorphic(bulk.record(iri), by_record.record(iri)), iri


def test_a_generated_catalog_is_stored_as_the_record_by_record_path_stores_it(catalog_file: Path) -> None:
    bulk, by_record = empty_catalog(), empty_catalog()
    outcome = load_files(bulk, [catalog_file], actor=SYSTEM)
    expected = write_documents(by_record, [read_rdf_file(catalog_file)], actor=SYSTEM)
    assert sorted(outcome.added) == sorted(expected.added) and len(outcome.added) > PRODUCTS
    assert {w.message for w in outcome.report.warnings} == {w.message for w in expected.report.warnings}
    assert_same_records(bulk, by_record)


def test_loading_the_catalog_again_changes_nothing(catalog_file: Path) -> None:
    store = empty_catalog()
    first = load_files(store, [catalog_file], actor=SYSTEM)
    again = load_files(store, [catalog_file], actor=SYSTEM)
    assert again.added == [] and again.replaced == [] and sorted(again.unchanged) == sorted(first.added)
    assert version_count(store) == len(first.added)  # one REGISTER each; nothing for the unchanged load
    assert event_count(store) == len(first.added)


def version_count(store: Store) -> int:
    query = (
        "SELECT (COUNT(DISTINCT ?g) AS ?n) WHERE { GRAPH ?g { ?v <http://www.w3.org/ns/prov#specializationOf> ?r } "
        'FILTER (STRSTARTS(STR(?g), "urn:valuemesh:version:")) }'
    )
    return int(str(store.select(query).rows[0][0]))


def test_a_bulk_load_keeps_a_version_of_each_record_as_the_record_by_record_path_does(catalog_file: Path) -> None:
    store = empty_catalog()
    load_files(store, [catalog_file], actor=SYSTEM)
    product = plan_catalog(PRODUCTS, seed=3).products[0].iri
    lines = [
        f'<{product}> <http://purl.org/dc/terms/description> "changed" <{product}> .\n'
        if line.startswith(f"<{product}> <http://purl.org/dc/terms/description> ")
        else line
        for line in catalog_file.read_text().splitlines(keepends=True)
    ]
    catalog_file.write_text("".join(lines))
    load_files(store, [catalog_file], actor=local_operator())
    listed = history(store, product)
    assert [(v.version, v.action) for v in listed] == [(2, Action.UPDATE), (1, Action.REGISTER)]
    assert listed[1].by == SYSTEM.id and listed[0].by == local_operator().id
    assert diff(store, product, 2).added == [f'<{product}> <http://purl.org/dc/terms/description> "changed" .']


def test_records_read_from_several_files_with_blank_nodes_and_turtle_are_the_record_by_record_ones(
    tmp_path: Path,
) -> None:
    trig = tmp_path / "part.trig"
    trig.write_text(
        f"<{CAT}data-product/a> {{ <{CAT}data-product/a> a <{DPROD}DataProduct> ; "
        f'<http://www.w3.org/2000/01/rdf-schema#label> "  Alpha  ONE " ; '
        f"<https://w3id.org/valuemesh/ontology#serviceLevelObjective> [ <http://purl.org/dc/terms/title> "
        f'"Fresh" ] . }}\n'
    )
    more = tmp_path / "more.nq"
    more.write_text(
        f'<{CAT}data-product/a> <http://purl.org/dc/terms/description> "a product" <{CAT}data-product/a> .\n'
    )
    turtle = tmp_path / "domain.ttl"
    turtle.write_text(
        f"<{CAT}domain/x> a <https://w3id.org/valuemesh/ontology#Domain> ; "
        '<http://www.w3.org/2000/01/rdf-schema#label> "X" .\n'
    )
    files = [trig, more, turtle]
    batch = read_batch(files)
    try:
        records = normalised(merge_records(records_of(read_rdf_file(path)) for path in files))
        assert batch.record_iris() == sorted(records)
        for iri, graph in records.items():
            assert isomorphic(batch.record(iri), graph), iri
    finally:
        batch.close()


def test_blank_nodes_of_an_n_quads_file_are_skolemised_as_the_record_by_record_path_does(tmp_path: Path) -> None:
    product = f"{CAT}data-product/b"
    path = tmp_path / "blank.nq"
    path.write_text(
        f"<{product}> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{DPROD}DataProduct> <{product}> .\n"
        f"<{product}> <https://w3id.org/valuemesh/ontology#serviceLevelObjective> _:slo <{product}> .\n"
        f'_:slo <http://purl.org/dc/terms/title> "Fresh" <{product}> .\n'
    )
    batch = read_batch([path])
    try:
        expected = normalised(records_of(read_rdf_file(path)))[product]
        assert "/.well-known/genid/" in expected.serialize(format="nt")
        assert isomorphic(batch.record(product), expected)
    finally:
        batch.close()


@pytest.mark.parametrize("label", [b"_:slo", b"<https://valuemesh.example/a_b> "])
def test_a_blank_node_label_is_seen_wherever_the_reads_split_it(label: bytes) -> None:
    data = b"<https://valuemesh.example/a> <https://valuemesh.example/p> " + label + b" .\n"
    for split in range(1, len(data)):
        reader = bulk_load.CountingReader(io.BytesIO(data), lambda amount: None)
        for size in (split, len(data)):
            reader.readinto(bytearray(size))
        assert reader.blank_label_seen == label.startswith(b"_:"), split


def with_product_lines_removed(lines: list[str], product: str, predicate: str) -> list[str]:
    removed = [line for line in lines if line.startswith(f"<{product}> {predicate} ")]
    assert removed, f"{product} has no {predicate} line"
    return [line for line in lines if line not in removed]


def test_one_bad_record_among_many_refuses_the_whole_load_naming_it(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path, catalog_lines: list[str]
) -> None:
    product = plan_catalog(PRODUCTS, seed=3).products[PRODUCTS // 2]
    bad = tmp_path / "catalog.nq"
    bad.write_text("".join(with_product_lines_removed(catalog_lines, product.iri, OWNER)))
    store_dir = str(tmp_path / "catalog")

    result: CliResult = cli("load", str(bad), "--store", store_dir, "--no-seed")

    assert result.exit_code == 1, result.stderr
    text = " ".join(result.stderr.split())
    assert f"{product.name} ✗ violation a data product needs exactly one owner" in text
    assert "1 checklist violation(s)" in text
    store = open_store(store_dir)
    try:
        assert store.record_iris() == ["https://w3id.org/valuemesh/ontology"]
    finally:
        store.close()


def test_the_bulk_path_refuses_a_bad_record_with_the_record_by_record_report(
    tmp_path: Path, catalog_lines: list[str]
) -> None:
    product = plan_catalog(PRODUCTS, seed=3).products[7]
    bad = tmp_path / "catalog.nq"
    bad.write_text("".join(with_product_lines_removed(catalog_lines, product.iri, OWNER)))
    with pytest.raises(ValidationRefused) as bulk:
        load_files(empty_catalog(), [bad], actor=SYSTEM)
    with pytest.raises(ValidationRefused) as by_record:
        write_documents(empty_catalog(), [read_rdf_file(bad)], actor=SYSTEM)
    assert [r.message for r in bulk.value.report.violations] == [r.message for r in by_record.value.report.violations]


@pytest.mark.parametrize(
    "document",
    [
        # a record's graph describing another record's product
        f"<{CAT}data-product/a> {{ <{CAT}data-product/a> a <{DPROD}DataProduct> . "
        f"<{CAT}data-product/b> {OWNER} <{CAT}agent/x> }}\n",
        # two records describing the same port
        f"<{CAT}data-product/a> {{ <{CAT}data-product/a> a <{DPROD}DataProduct> ; <{DPROD}outputPort> <{CAT}port/p> . "
        f"<{CAT}port/p> a <https://w3id.org/valuemesh/ontology#OutputPort> }}\n"
        f"<{CAT}data-product/b> {{ <{CAT}data-product/b> a <{DPROD}DataProduct> ; <{DPROD}outputPort> <{CAT}port/p> . "
        f"<{CAT}port/p> a <https://w3id.org/valuemesh/ontology#OutputPort> }}\n",
        # a use case served by a product the record is not
        f"<{CAT}data-product/a> {{ <{CAT}data-product/a> a <{DPROD}DataProduct> . "
        f"<{CAT}use-case/u> <https://w3id.org/valuemesh/ontology#servedBy> <{CAT}data-product/b> }}\n",
    ],
    ids=["foreign-statement", "described-twice", "serves-another-product"],
)
def test_statements_about_other_records_are_refused_in_the_same_words(tmp_path: Path, document: str) -> None:
    path = tmp_path / "catalog.trig"
    path.write_text(document)
    with pytest.raises(BadInput) as bulk:
        load_files(empty_catalog(), [path], actor=SYSTEM)
    with pytest.raises(BadInput) as by_record:
        write_documents(empty_catalog(), [read_rdf_file(path)], actor=SYSTEM)
    assert str(bulk.value) == str(by_record.value)


def test_a_malformed_file_is_named_with_its_line_and_column(tmp_path: Path, catalog_lines: list[str]) -> None:
    path = tmp_path / "catalog.nq"
    path.write_text("".join(catalog_lines[:10]) + "<not an iri\n")
    with pytest.raises(BadInput) as refused:
        load_files(empty_catalog(), [path], actor=SYSTEM)
    assert str(refused.value).startswith(f"{path}:11:")


def test_progress_names_the_phases(cli, tmp_path: Path, catalog_file: Path) -> None:  # type: ignore[no-untyped-def]
    result: CliResult = cli("load", str(catalog_file), "--store", str(tmp_path / "catalog"), "--no-seed", "--progress")
    assert result.exit_code == 0, result.stderr
    for phase in ("reading", "validating", "writing"):
        assert phase in result.stderr
    quiet: CliResult = cli("load", str(catalog_file), "--store", str(tmp_path / "other"), "--no-seed")
    assert "reading" not in quiet.stderr


def test_a_batch_staged_on_disk_is_stored_the_same(catalog_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk_load, "IN_MEMORY_LIMIT_BYTES", 0)  # large inputs are staged in a temporary directory
    on_disk, in_memory = empty_catalog(), empty_catalog()
    load_files(on_disk, [catalog_file], actor=SYSTEM)
    monkeypatch.undo()
    load_files(in_memory, [catalog_file], actor=SYSTEM)
    assert_same_records(on_disk, in_memory)


def one_replaced_and_a_domain_added(lines: list[str]) -> list[str]:
    """The generated catalog's lines with its first product's description changed and its commercial domain's
    records again as a new domain's."""
    product = plan_catalog(PRODUCTS, seed=3).products[0].iri
    description = "<http://purl.org/dc/terms/description>"
    changed = [
        f'<{product}> {description} "changed" <{product}> .\n'
        if line.startswith(f"<{product}> {description} ")
        else line
        for line in lines
    ]
    domain = f"{CAT}domain/commercial"
    added = [line.replace(f"<{domain}>", f"<{domain}-2>") for line in lines if line.endswith(f"<{domain}> .\n")]
    return changed + added


def test_a_write_failing_midway_leaves_the_catalog_as_it_was(
    tmp_path: Path, catalog_lines: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = empty_catalog()
    first = tmp_path / "first.nq"
    first.write_text("".join(catalog_lines))
    load_files(store, [first], actor=SYSTEM)
    before = {iri: store.record(iri) for iri in store.record_iris()}
    second = tmp_path / "second.nq"
    second.write_text("".join(one_replaced_and_a_domain_added(catalog_lines)))

    real = OxigraphStore.bulk_extend

    def full_disk(self: OxigraphStore, quads: Iterable[ox.Quad]) -> None:
        real(self, itertools.islice(quads, 1000))  # some of the batch reached the store
        raise OSError("No space left on device")

    monkeypatch.setattr(OxigraphStore, "bulk_extend", full_disk)
    versions_before, events_before = version_count(store), event_count(store)
    with pytest.raises(StoreUnavailable):
        load_files(store, [second], actor=SYSTEM)
    monkeypatch.undo()

    # The versions of the failed write went with it, and the events counter is back where it was.
    assert (version_count(store), event_count(store)) == (versions_before, events_before)
    assert store.record_iris() == sorted(before)
    for iri, graph in before.items():
        assert isomorphic(store.record(iri), graph), iri
