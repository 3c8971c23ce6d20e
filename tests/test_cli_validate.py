"""`valuemesh validate` as a governance team runs it: exit codes, output formats, and pyshacl's own verdict."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest
from rdflib import RDF, Dataset, Graph, Literal

from server.catalog.seeding import prepare
from server.catalog.writes import write_documents
from server.identity.principal import SYSTEM
from server.namespaces import SH
from server.rdf_io import parse_rdf
from server.resources import shape_files
from server.store import OxigraphStore, open_store
from tests.conftest import DATA

BAD = ["product-without-owner.ttl", "slo-target-out-of-range.ttl"]


@pytest.fixture
def store_dir(tmp_path: Path) -> str:
    return str(tmp_path / "catalog")


def store_holding(store_dir: str, *bad: str) -> None:
    """The seed, plus files written without validation, as a catalog filled by an older version might be."""
    store = OxigraphStore(store_dir)
    prepare(store, with_seed=True)
    for i, name in enumerate(bad):
        # Each fixture describes the same product; give each its own IRI so that both are kept.
        text = (DATA / name).read_text().replace("territory-planning", f"territory-planning-{i}")
        text = text.replace('"Territory planning', f'"Territory planning {i}')
        write_documents(store, [parse_rdf(text, ox.RdfFormat.TURTLE, name)], validate=False, actor=SYSTEM)
    store.close()
    del store
    gc.collect()  # releases the store's lock before the command opens it


def test_a_conforming_file_against_the_catalog_exits_0(cli, store_dir: str) -> None:  # type: ignore[no-untyped-def]
    result = cli("validate", str(DATA / "conforming-product.ttl"), "--with-store", "--store", store_dir)
    assert result.exit_code == 0, result.stderr
    assert "0 violation(s), 0 warning(s): conforms" in result.stdout


def test_violations_exit_1_grouped_by_product(cli, store_dir: str) -> None:  # type: ignore[no-untyped-def]
    result = cli("validate", str(DATA / "product-without-owner.ttl"), "--with-store", "--store", store_dir)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "Territory planning"
    assert "a data product needs exactly one owner (Owner / Steward); it has none" in lines[1]
    assert "1 violation(s)" in lines[-1]


def test_a_file_alone_is_judged_with_nothing_else(cli) -> None:  # type: ignore[no-untyped-def]
    """Without the catalog the product's domain and owner are unknown: the file alone does not conform."""
    result = cli("validate", str(DATA / "conforming-product.ttl"))
    assert result.exit_code == 1
    assert "the business domain must be a registered domain" in result.stdout


def test_several_files_together(cli) -> None:  # type: ignore[no-untyped-def]
    seed = sorted(str(p) for p in (Path(__file__).resolve().parents[1] / "seed").glob("*.ttl"))
    result = cli("validate", *seed, str(DATA / "conforming-product.ttl"))
    assert result.exit_code == 0, result.stdout


def test_unusable_input_exits_2_with_its_location(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("validate", str(DATA / "malformed.ttl"))
    assert result.exit_code == 2
    assert "malformed.ttl:" in result.stderr and "not valid Turtle" in result.stderr
    missing = cli("validate", str(DATA / "no-such-file.ttl"))
    assert missing.exit_code == 2


def test_the_whole_store_conforms_and_strict_fails_on_its_warning(cli, store_dir: str) -> None:  # type: ignore[no-untyped-def]
    result = cli("validate", "--store", store_dir)
    assert result.exit_code == 0, result.stderr
    assert "Medical inquiries" in result.stdout  # seed/README.md: the product that serves no use case
    assert "0 violation(s), 1 warning(s): conforms" in result.stdout
    strict = cli("validate", "--strict", "--store", store_dir)
    assert strict.exit_code == 1


def test_warnings_only_file_passes_unless_strict(cli, store_dir: str) -> None:  # type: ignore[no-untyped-def]
    args = ("validate", str(DATA / "warnings-only-product.ttl"), "--with-store", "--store", store_dir)
    assert cli(*args).exit_code == 0
    assert cli(*args, "--strict").exit_code == 1


def test_turtle_is_a_standard_validation_report(cli, store_dir: str) -> None:  # type: ignore[no-untyped-def]
    result = cli(
        "validate", str(DATA / "slo-target-out-of-range.ttl"), "--with-store", "-f", "turtle", "--store", store_dir
    )
    assert result.exit_code == 1
    report = Graph().parse(data=result.stdout, format="turtle")
    (node,) = report.subjects(RDF.type, SH.ValidationReport)
    assert report.value(node, SH.conforms).toPython() is False  # type: ignore[union-attr]
    (violation,) = report.objects(node, SH.result)
    assert report.value(violation, SH.resultSeverity) == SH.Violation
    assert report.value(violation, SH.sourceConstraintComponent) == SH.MaxInclusiveConstraintComponent
    assert "an SLO target is a percentage from 0 to 100" in str(report.value(violation, SH.resultMessage))


def test_json_lists_every_result(cli, store_dir: str) -> None:  # type: ignore[no-untyped-def]
    result = cli(
        "validate", str(DATA / "agreement-without-slo.ttl"), "--with-store", "-f", "json", "--store", store_dir
    )
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["conforms"] is False and report["violations"] == 1
    (only,) = report["results"]
    assert only["recordName"] == "Territory planning"
    assert only["item"] == "Data sharing agreement"


@pytest.mark.parametrize("bad", [[], BAD], ids=["seed", "seed-with-violations"])
def test_pyshacls_own_cli_agrees_over_an_export(cli, store_dir: str, tmp_path: Path, bad: list[str]) -> None:  # type: ignore[no-untyped-def]
    """A governance team running pyshacl over `valuemesh export` gets our verdict and our number of violations."""
    store_holding(store_dir, *bad)
    exported = cli("export", "--format", "nquads", "--store", store_dir)
    assert exported.exit_code == 0, exported.stderr
    dataset = Dataset()
    dataset.parse(data=exported.stdout, format="nquads")
    data = Graph()
    for s, p, o, _ in dataset.quads((None, None, None, None)):
        data.add((s, p, o))
    data_file, shapes_file = tmp_path / "catalog.ttl", tmp_path / "shapes.ttl"
    data.serialize(data_file, format="turtle")
    shapes_file.write_text("\n".join(p.read_text() for p in shape_files()))

    theirs = subprocess.run(
        [sys.executable, "-m", "pyshacl", "-s", str(shapes_file), "-w", "-f", "turtle", str(data_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    their_report = Graph().parse(data=theirs.stdout, format="turtle")
    their_violations = len(list(their_report.subjects(SH.resultSeverity, SH.Violation)))
    their_conforms = (None, SH.conforms, Literal(True)) in their_report

    ours = cli("validate", "-f", "json", "--store", store_dir)
    our_report = json.loads(ours.stdout)
    assert our_report["conforms"] is their_conforms is (not bad)
    assert our_report["violations"] == their_violations
    assert ours.exit_code == (0 if their_conforms else 1)
    assert their_violations == (2 if bad else 0)  # each bad product misses one checklist item


def test_descriptors_are_checked_as_register_reads_them(cli: Any, tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    missing = cli("validate", str(DATA / "descriptors" / "product-missing-checklist-items.valuemesh.yaml"))
    assert missing.exit_code == 1
    assert "violation" in missing.stdout
    good = cli(
        "validate", str(DATA / "descriptors" / "hcp-call-planning.valuemesh.yaml"), "--with-store", "--store", store
    )
    assert good.exit_code == 0, good.stdout + good.stderr


def test_a_dry_run_and_a_check_against_the_catalog_work_while_the_server_holds_the_store(
    cli: Any, tmp_path: Path
) -> None:
    store = str(tmp_path / "store")
    opened = open_store(store)
    prepare(opened, with_seed=True)
    try:  # the store is held, as `valuemesh serve` holds it
        descriptor = str(DATA / "descriptors" / "hcp-call-planning.valuemesh.yaml")
        dry = cli("register", descriptor, "--dry-run", "--store", store)
        assert dry.exit_code == 0, dry.stderr
        assert "dry run: nothing was written" in dry.stderr
        checked = cli("validate", descriptor, "--with-store", "--store", store)
        assert checked.exit_code == 0, checked.stderr
        assert not opened.record("https://valuemesh.example/data-product/hcp-call-planning")
    finally:
        opened.close()
