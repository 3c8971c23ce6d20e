"""`valuemesh load` of a large file into a catalog that holds no records yet (a migration) goes straight into the
store: what it stores is what the scratch path stores, it refuses what that path refuses in the same words, and a
refused or failed load leaves the store as it was, every quad of it (its API tokens and marker included)."""

from __future__ import annotations

import io
import json
import re
import shlex
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from rdflib.compare import isomorphic

from bench.generate import generate_catalog, plan_catalog
from server.catalog import bulk_load
from server.catalog.bulk_in_place import in_place_applies, load_files_alone
from server.catalog.bulk_load import BulkProgress, dump_everything, load_files
from server.catalog.events import event_count
from server.catalog.seeding import ONTOLOGY_GRAPH, prepare
from server.catalog.writes import WriteOutcome
from server.errors import BadInput, ValidationRefused
from server.governance.shapes import read_shapes
from server.identity.principal import SYSTEM, Role
from server.identity.tokens import ApiTokens
from server.resources import shape_files
from server.store.oxigraph import OxigraphStore
from tests.conftest import CliResult
from tests.test_bulk_load import CAT, DPROD, OWNER, PRODUCTS, empty_catalog, version_count, with_product_lines_removed

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
DCT = "http://purl.org/dc/terms/"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
E = TypeVar("E", bound=Exception)


@pytest.fixture(autouse=True)
def every_file_is_large(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk_load, "IN_MEMORY_LIMIT_BYTES", 0)  # the in-place path is for files too large for memory


@pytest.fixture(scope="module")
def catalog_lines() -> list[str]:
    return list(generate_catalog(PRODUCTS, seed=3))


@pytest.fixture
def catalog_file(tmp_path: Path, catalog_lines: list[str]) -> Path:
    path = tmp_path / "catalog.nq"
    path.write_text("".join(catalog_lines))
    return path


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[OxigraphStore]:
    """A catalog on disk as `valuemesh load --no-seed` opens it the first time, with an API token already issued."""
    store = OxigraphStore(tmp_path / "catalog")
    prepare(store, with_seed=False)
    ApiTokens(store).create("pipeline", agent=f"{CAT}agent/platform", domains=[], roles=[Role.ADMIN], expires_in=None)
    yield store
    store.close()


def silent() -> BulkProgress:
    return BulkProgress(start=lambda phase, total: None, advance=lambda amount: None)


def everything(store: OxigraphStore) -> list[str]:
    """Every quad of the store as N-Quads lines (the store's own graphs hold no blank nodes)."""
    out = io.BytesIO()
    dump_everything(store, out)
    return sorted(out.getvalue().decode().splitlines())


def load_alone(store: OxigraphStore, path: Path) -> WriteOutcome:
    return load_files_alone(store, [path], actor=SYSTEM, progress=silent())


def refusals(store: OxigraphStore, path: Path, error: type[E]) -> tuple[E, E]:
    """How `path` is refused in place (the store left as it was, every quad) and by the scratch path."""
    before = everything(store)
    with pytest.raises(error) as in_place:
        load_alone(store, path)
    assert everything(store) == before
    with pytest.raises(error) as by_scratch:
        load_files(empty_catalog(), [path], actor=SYSTEM)
    return in_place.value, by_scratch.value


def test_a_migration_is_loaded_in_place_and_stored_as_the_scratch_path_stores_it(
    fresh: OxigraphStore, catalog_file: Path
) -> None:
    assert in_place_applies(fresh, [catalog_file], SYSTEM)
    outcome = load_alone(fresh, catalog_file)
    scratch = empty_catalog()
    expected = load_files(scratch, [catalog_file], actor=SYSTEM)
    assert outcome.added == sorted(expected.added) and len(outcome.added) > PRODUCTS
    assert {w.message for w in outcome.report.warnings} == {w.message for w in expected.report.warnings}
    assert fresh.record_iris() == scratch.record_iris()
    for iri in fresh.record_iris():
        assert isomorphic(fresh.record(iri), scratch.record(iri)), iri
    assert version_count(fresh) == version_count(scratch) == len(outcome.added)
    assert event_count(fresh) == event_count(scratch)
    assert ApiTokens(fresh).all()  # the token issued before the load still stands
    # Now the catalog holds records: a second load takes the scratch path and finds nothing changed.
    assert not in_place_applies(fresh, [catalog_file], SYSTEM)
    again = load_alone(fresh, catalog_file)
    assert again.added == [] and sorted(again.unchanged) == outcome.added


def test_a_refused_migration_leaves_the_store_as_it_was_with_the_scratch_paths_report(
    fresh: OxigraphStore, tmp_path: Path, catalog_lines: list[str]
) -> None:
    product = plan_catalog(PRODUCTS, seed=3).products[11]
    bad = tmp_path / "bad.nq"
    bad.write_text("".join(with_product_lines_removed(catalog_lines, product.iri, OWNER)))
    in_place, by_scratch = refusals(fresh, bad, ValidationRefused)
    refused = [r.message for r in in_place.report.violations]
    assert refused == [r.message for r in by_scratch.report.violations] and refused


def with_many_faults(lines: list[str]) -> list[str]:
    """The generated catalog with faults of several kinds: two products without an owner, one without a description,
    one naming a domain that no record describes, a domain without a name, and a product declaring a class."""
    products = plan_catalog(PRODUCTS, seed=3).products
    faulty = with_product_lines_removed(lines, products[11].iri, OWNER)
    faulty = with_product_lines_removed(faulty, products[12].iri, OWNER)
    faulty = with_product_lines_removed(faulty, products[13].iri, f"<{DCT}description>")
    faulty = with_product_lines_removed(faulty, f"{CAT}domain/medical-affairs", f"<{RDFS}label>")
    domain_of_14 = f"<{products[14].iri}> <{DPROD}domain> "
    faulty = [
        f"{domain_of_14}<{CAT}domain/nowhere> <{products[14].iri}> .\n" if line.startswith(domain_of_14) else line
        for line in faulty
    ]
    p15 = products[15].iri
    return [*faulty, f"<{p15}> <{RDFS}subClassOf> <{DPROD}DataProduct> <{p15}> .\n"]


def test_a_migration_with_many_faults_is_refused_in_place_with_every_result_of_the_scratch_path(
    fresh: OxigraphStore, tmp_path: Path, catalog_lines: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The organisation's shapes target nodes beyond the records: the domain no record describes and the ontology's
    # classes, which the store holds beside the batch, are context and judged on neither path.
    shapes = read_shapes([*shape_files(), DATA / "shapes-nodes-beyond-the-records.ttl"])
    bad = tmp_path / "bad.nq"
    bad.write_text("".join(with_many_faults(catalog_lines)))
    before = everything(fresh)
    with pytest.raises(ValidationRefused) as in_place:
        load_files_alone(fresh, [bad], actor=SYSTEM, progress=silent(), shapes=shapes)
    assert everything(fresh) == before
    monkeypatch.undo()  # the scratch path in memory, where each focus node is judged as a write judges it
    with pytest.raises(ValidationRefused) as by_scratch:
        load_files(empty_catalog(), [bad], actor=SYSTEM, shapes=shapes)
    report, expected = in_place.value.report, by_scratch.value.report
    assert Counter(report.results) == Counter(expected.results)
    assert sorted(r.message for r in report.violations) == sorted(r.message for r in expected.violations)
    assert sorted(r.message for r in report.warnings) == sorted(r.message for r in expected.warnings)
    products = plan_catalog(PRODUCTS, seed=3).products
    violated = {(r.focus_node, r.path) for r in report.violations}
    assert {
        (products[11].iri, OWNER[1:-1]),
        (products[12].iri, OWNER[1:-1]),
        (products[13].iri, f"{DCT}description"),
        (products[14].iri, f"{DPROD}domain"),
        (f"{CAT}domain/medical-affairs", f"{RDFS}label"),
    } <= violated
    assert [r.focus_node for r in report.warnings if r.path == f"{RDFS}subClassOf"] == [products[15].iri]
    assert f"{CAT}domain/nowhere" not in {r.focus_node for r in report.results}


@pytest.mark.parametrize(
    "document",
    [
        f"<{CAT}data-product/a> {{ <{CAT}data-product/a> a <{DPROD}DataProduct> . "
        f"<{CAT}data-product/b> {OWNER} <{CAT}agent/x> }}\n",
        f"<{CAT}data-product/a> {{ <{CAT}data-product/a> a <{DPROD}DataProduct> ; <{DPROD}outputPort> <{CAT}port/p> . "
        f"<{CAT}port/p> a <https://w3id.org/valuemesh/ontology#OutputPort> }}\n"
        f"<{CAT}data-product/b> {{ <{CAT}data-product/b> a <{DPROD}DataProduct> ; <{DPROD}outputPort> <{CAT}port/p> . "
        f"<{CAT}port/p> a <https://w3id.org/valuemesh/ontology#OutputPort> }}\n",
        f"<urn:valuemesh:tokens> {{ <urn:valuemesh:token/x> a <{DPROD}DataProduct> }}\n",
        "<https://valuemesh.example/data-product/a> { <https://valuemesh.example/data-product/a> <not an iri\n",
    ],
    ids=["foreign-statement", "described-twice", "service-graph", "malformed"],
)
def test_bad_input_is_refused_in_the_scratch_paths_words_and_the_store_is_as_it_was(
    fresh: OxigraphStore, tmp_path: Path, document: str
) -> None:
    path = tmp_path / "catalog.trig"
    path.write_text(document)
    in_place, by_scratch = refusals(fresh, path, BadInput)
    assert str(in_place) == str(by_scratch)


def test_triples_outside_named_graphs_are_split_into_records_as_the_scratch_path_does(
    fresh: OxigraphStore, tmp_path: Path
) -> None:
    path = tmp_path / "domain.nq"
    path.write_text(
        f"<{CAT}domain/x> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
        "<https://w3id.org/valuemesh/ontology#Domain> .\n"
        f'<{CAT}domain/x> <http://www.w3.org/2000/01/rdf-schema#label> "X" .\n'
    )
    outcome = load_alone(fresh, path)
    assert outcome.added == [f"{CAT}domain/x"]
    assert len(fresh.record(f"{CAT}domain/x")) == 2


# Runs in a child: the store's files may not grow past a cap from the given phase on (RLIMIT_FSIZE, SIGXFSZ
# ignored: the write fails with EFBIG, as on a full disk; see tests/test_store_disk_full.py); prints what it saw.
FAULT = r"""
import io, json, resource, signal, sys
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar
from server.catalog import bulk_load
from server.catalog.bulk_in_place import load_files_alone
from server.catalog.bulk_load import BulkProgress, dump_everything
from server.catalog.seeding import prepare
from server.errors import StoreUnavailable
from server.identity.principal import SYSTEM, Role
from server.identity.tokens import ApiTokens
from server.resources import shape_files
from server.store.oxigraph import OxigraphStore

directory, document, cap, phase = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
bulk_load.IN_MEMORY_LIMIT_BYTES = 0
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
store = OxigraphStore(directory)
prepare(store, with_seed=False)
ApiTokens(store).create("pipeline", agent="https://example.org/agent/platform", domains=[], roles=[Role.ADMIN],
                        expires_in=None)

def everything():
    out = io.BytesIO()
    dump_everything(store, out)
    return sorted(out.getvalue().decode().splitlines())

def start(name, total):
    if name == phase:
        resource.setrlimit(resource.RLIMIT_FSIZE, (cap, hard))

before = everything()
try:
    load_files_alone(store, [document], actor=SYSTEM, progress=BulkProgress(start=start, advance=lambda n: None))
    error = None
except StoreUnavailable as refused:
    error = str(refused)
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
print(json.dumps({"error": error, "as_it_was": everything() == before, "before": before}))
"""


def test_a_store_failing_while_the_batch_is_loaded_is_left_as_it_was(tmp_path: Path) -> None:
    # 1,000 products (13 MB) and a cap of 1 MB from the reading phase on: the bulk loader's first file of the batch
    # passes the cap, so nothing of the batch is stored; the store's own data (a few hundred quads) are put back.
    large = tmp_path / "catalog.nq"
    large.write_text("".join(generate_catalog(1000, seed=3)))
    child = subprocess.run(
        [sys.executable, "-c", FAULT, str(tmp_path / "catalog"), str(large), str(1_000_000), "reading"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    seen = json.loads(child.stdout.splitlines()[-1])
    assert seen["error"] == (
        "the store could not write the batch (a store file reached the largest size this process may write); "
        "nothing was stored"
    )
    assert seen["as_it_was"]


def test_a_store_failing_while_the_history_is_written_and_put_back_says_how_to_put_it_back_later(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    # A cap of 4 kB from the writing phase on: writing the history fails, and so does putting the store's own graphs
    # back (the disk is still full). Their copy is kept, and the error names it and the command; once space is back
    # (the child exits), that command puts every quad back (the API token too).
    large = tmp_path / "catalog.nq"
    large.write_text("".join(generate_catalog(1000, seed=3)))
    directory = tmp_path / "catalog"
    child = subprocess.run(
        [sys.executable, "-c", FAULT, str(directory), str(large), "4096", "writing"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    seen = json.loads(child.stdout.splitlines()[-1])
    assert not seen["as_it_was"]
    said = re.fullmatch(
        r"the store failed while loading the batch and could not be put back \(a store file reached the largest "
        r"size this process may write\); it may hold part of the batch and lack its own data \(the ontology, API "
        r"tokens, the change log\), kept in (?P<kept>\S+)\. Once the store can write again \(space freed\), put it "
        r"back as it was before this load with: (?P<command>valuemesh load --put-back .*)",
        seen["error"],
    )
    assert said is not None, seen["error"]
    kept = Path(said["kept"])
    assert kept.is_file()
    program, *arguments = shlex.split(said["command"])
    assert program == "valuemesh" and arguments[-1] == str(kept) and str(directory) in arguments

    # The store lacks its ontology now: a later command neither puts it right nor seeds it, and says what to do.
    refused = cli("register", str(ROOT / "tests/data/conforming-product.ttl"), "--store", str(directory))
    assert refused.exit_code == 2 and said["command"] in refused.stderr

    done = cli(*arguments)
    assert done.exit_code == 0, done.stderr
    assert "is back as it was before the failed load" in done.stderr
    store = OxigraphStore(directory)
    try:
        assert everything(store) == seen["before"]
        assert [token.name for token in ApiTokens(store).all()] == ["pipeline"]
        assert store.record_iris() == [ONTOLOGY_GRAPH]
    finally:
        store.close()
    shutil.rmtree(kept.parent)


def quads_of_a_fresh_catalog(directory: Path) -> list[str]:
    """A catalog as `fresh` makes it, at `directory`, closed again (the store is let go: its lock too)."""
    store = OxigraphStore(directory)
    prepare(store, with_seed=False)
    ApiTokens(store).create("pipeline", agent=f"{CAT}agent/platform", domains=[], roles=[Role.ADMIN], expires_in=None)
    quads = everything(store)
    store.close()
    return quads


def test_put_back_takes_only_a_copy_a_failed_load_kept_and_leaves_the_store_alone_otherwise(
    cli: Callable[..., CliResult], tmp_path: Path, catalog_file: Path
) -> None:
    directory = tmp_path / "catalog"
    before = quads_of_a_fresh_catalog(directory)
    done = cli("load", "--put-back", "--store", str(directory), str(catalog_file))  # a catalog, not a kept copy
    assert done.exit_code == 2
    assert "not the copy of a store's own data that a failed load kept" in done.stderr
    assert str(catalog_file) in done.stderr
    store = OxigraphStore(directory)
    try:
        assert everything(store) == before
    finally:
        store.close()


def test_the_cli_loads_a_migration_in_place_with_its_phases(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path, catalog_file: Path
) -> None:
    result: CliResult = cli("load", str(catalog_file), "--store", str(tmp_path / "c"), "--no-seed", "--progress")
    assert result.exit_code == 0, result.stderr
    for phase in ("reading", "validating", "writing"):
        assert phase in result.stderr
    assert "record(s) added, 0 replaced, 0 unchanged" in " ".join(result.stderr.split())
    store = OxigraphStore(tmp_path / "c")
    try:
        assert len(store.record_iris()) > PRODUCTS and version_count(store) == len(store.record_iris()) - 1
    finally:
        store.close()
