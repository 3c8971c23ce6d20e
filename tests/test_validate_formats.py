"""`valuemesh validate --format ...` as CI systems read it: SHACL's own report (compared with pyshacl's), JUnit XML,
SARIF 2.1.0 and GitHub annotations pointing at the file and line each result comes from."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from xml.etree import ElementTree

import pytest
from pyshacl import validate as pyshacl_validate
from rdflib import RDF, Graph, Literal, URIRef
from rdflib.term import Node

from server.namespaces import SH
from server.resources import resource_dir, shape_files
from tests.conftest import DATA

ORGANISATION = DATA / "shapes" / "organisation-rules.ttl"
REPO = DATA / "descriptor-repo" / "products"
TERRITORY = REPO / "territory-planning.ttl"
SCRATCH = REPO / "scratch-table.valuemesh.yaml"
GOOD = REPO / "hcp-call-planning.valuemesh.yaml"
WITH_RULES = ("--shapes", "builtin", "--shapes", str(ORGANISATION))
IN_CATALOG = ("--context", str(resource_dir("seed")))
ORG = "https://governance.example/shapes#"


def _key(report: Graph, result: Node) -> tuple[str, ...]:
    """A result as the W3C suite compares them: everything but the message (blank-node paths by their predicate)."""
    path = report.value(result, SH.resultPath)
    if path is not None and not isinstance(path, URIRef):
        path = "^" + str(report.value(path, SH.inversePath))
    value = report.value(result, SH.value)
    return (
        str(report.value(result, SH.focusNode)),
        str(path),
        str(report.value(result, SH.sourceConstraint) or report.value(result, SH.sourceShape)),
        str(report.value(result, SH.sourceConstraintComponent)),
        str(report.value(result, SH.resultSeverity)),
        f"{float(value):g}" if isinstance(value, Literal) and isinstance(value.value, int | float) else str(value),
    )


def _results(report: Graph) -> Counter[tuple[str, ...]]:
    return Counter(_key(report, r) for r in report.subjects(RDF.type, SH.ValidationResult))


def test_turtle_is_a_shacl_validation_report_equal_to_pyshacls(cli) -> None:  # type: ignore[no-untyped-def]
    seed = sorted(str(p) for p in resource_dir("seed").glob("*.ttl"))
    result = cli("validate", *seed, str(TERRITORY), *WITH_RULES, "--format", "turtle")
    assert result.exit_code == 1
    ours = Graph().parse(data=result.stdout, format="turtle")
    report = next(ours.subjects(RDF.type, SH.ValidationReport))
    assert ours.value(report, SH.conforms) == Literal(False)

    data, shapes = Graph(), Graph()
    for path in [*seed, TERRITORY]:
        data.parse(path)
    for path in [*shape_files(), ORGANISATION]:
        shapes.parse(path)
    _, expected, _ = pyshacl_validate(data, shacl_graph=shapes, allow_warnings=True)
    assert isinstance(expected, Graph)
    assert _results(ours) == _results(expected)

    product = "https://valuemesh.example/data-product/territory-planning"
    named = {k for k in _results(ours) if k[0] == product and k[2].startswith(ORG)}
    assert named == {
        (product, "http://www.w3.org/ns/dcat#keyword", ORG + "product-keyword",
         str(SH.MinCountConstraintComponent), str(SH.Violation), "None"),
        (product, "None", ORG + "product-name-capitalised",
         str(SH.SPARQLConstraintComponent), str(SH.Violation), "territory planning"),
    }  # fmt: skip
    for node in ours.subjects(RDF.type, SH.ValidationResult):
        assert ours.value(node, SH.resultMessage) is not None
        assert ours.value(node, SH.sourceShape) is not None


def test_junit_has_a_test_case_per_product_and_checklist_item(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("validate", str(REPO), *IN_CATALOG, *WITH_RULES, "--format", "junit")
    assert result.exit_code == 1
    root = ElementTree.fromstring(result.stdout)
    suites = {suite.get("name"): suite for suite in root.iter("testsuite")}
    assert set(suites) == {"HCP call planning", "scratch table", "territory planning"}
    items = [case.get("name") for case in suites["HCP call planning"].iter("testcase")]
    assert items[:2] == ["Owner / Steward", "Data Product name"] and items[-2:] == ["Findable by keyword", "Name style"]
    assert not list(suites["HCP call planning"].iter("failure"))

    failed = {
        case.get("name"): case.find("failure")
        for case in suites["territory planning"].iter("testcase")
        if case.find("failure") is not None
    }
    assert set(failed) == {"Findable by keyword", "Name style"}
    assert 'the product\'s name "territory planning" must start with a capital letter' in (
        failed["Name style"].text or ""
    )
    scratch = suites["scratch table"]
    cases = {case.get("name"): case for case in scratch.iter("testcase")}
    assert list(cases)[: len(items)] == items and scratch.get("tests") == str(len(cases))
    advice = {name: case for name, case in cases.items() if name not in items}  # warnings: passed, with advice
    assert set(advice) == {"Goal traceability", "Consumers"}
    assert all(case.find("failure") is None and case.find("system-out") is not None for case in advice.values())
    assert scratch.get("failures") == str(len([c for c in cases.values() if c.find("failure") is not None])) == "5"
    assert root.get("failures") == str(sum(int(s.get("failures") or 0) for s in suites.values()))


def _line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), start=1) if text in line)


def test_sarif_points_each_result_at_its_file_and_line(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("validate", str(REPO), *IN_CATALOG, *WITH_RULES, "--format", "sarif")
    assert result.exit_code == 1
    log = json.loads(result.stdout)
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    run = log["runs"][0]
    rules = {rule["id"] for rule in run["tool"]["driver"]["rules"]}
    assert {r["ruleId"] for r in run["results"]} <= rules
    assert "org:product-keyword" not in rules and f"{ORG}product-keyword" in rules  # ids are IRIs, whole

    def where(result: dict) -> tuple[str, int]:  # type: ignore[type-arg]
        physical = result["locations"][0]["physicalLocation"]
        return physical["artifactLocation"]["uri"], physical["region"]["startLine"]

    by_message = {r["message"]["text"]: r for r in run["results"]}
    owner = by_message["scratch table: a data product needs exactly one owner (Owner / Steward); it has none"]
    assert owner["level"] == "error"
    assert where(owner)[0].endswith("descriptor-repo/products/scratch-table.valuemesh.yaml")
    assert where(owner)[1] == _line_of(SCRATCH, "name: scratch table")
    style = next(
        r
        for r in run["results"]
        if r["ruleId"] == f"{ORG}product-name-capitalised" and "territory" in r["message"]["text"]
    )
    assert where(style)[0].endswith("descriptor-repo/products/territory-planning.ttl")
    assert where(style)[1] == _line_of(TERRITORY, 'rdfs:label "territory planning"')  # the offending value's line
    warnings = [r for r in run["results"] if r["level"] == "warning"]
    assert warnings and all("scratch table" in r["message"]["text"] for r in warnings)


def test_github_annotations_name_file_line_and_item(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("validate", str(REPO), *IN_CATALOG, *WITH_RULES, "--format", "github")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert all(re.match(r"^::(error|warning) file=[^,]+,line=\d+,title=[^:]+::.+$", line) for line in lines), lines
    port = _line_of(SCRATCH, "name: scratch table")
    assert (
        f"::error file={SCRATCH.relative_to(Path.cwd()) if SCRATCH.is_relative_to(Path.cwd()) else SCRATCH},"
        f"line={port},title=Owner / Steward::scratch table: a data product needs exactly one owner (Owner / Steward); "
        "it has none"
    ) in lines
    assert not [line for line in lines if "HCP call planning" in line]


def test_the_conforming_descriptor_passes_in_every_format(cli) -> None:  # type: ignore[no-untyped-def]
    for output_format in ("sarif", "junit", "turtle"):
        result = cli("validate", str(GOOD), *IN_CATALOG, *WITH_RULES, "--format", output_format)
        assert result.exit_code == 0, (output_format, result.stdout)
    assert cli("validate", str(GOOD), *IN_CATALOG, *WITH_RULES, "--format", "github").stdout == ""


def test_stored_catalog_results_have_no_file(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = str(tmp_path / "catalog")
    result = cli("validate", "--store", store, *WITH_RULES, "--format", "sarif")
    assert result.exit_code == 1
    found = json.loads(result.stdout)["runs"][0]["results"]
    assert found and all("locations" not in r and r["logicalLocations"][0]["fullyQualifiedName"] for r in found)


@pytest.mark.parametrize("option", [("--with-store",), ()])
def test_context_stands_for_the_catalog_only_when_checking_files(cli, option: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    files = (str(GOOD),) if option else ()
    result = cli("validate", *files, *option, *IN_CATALOG)
    assert result.exit_code == 2
    assert "--context" in result.stderr
