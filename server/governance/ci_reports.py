"""A validation report for CI systems: JUnit XML, SARIF 2.1.0 and GitHub workflow annotations.

Each result is pointed at the file (and line) its record came from when the input was files (`Sources`); over the
stored catalog there is no file, and the result is named by its focus node alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

from server import __version__
from server.governance.results import ValidationReport, ValidationResult
from server.namespaces import PREFIXES, SH

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVELS = {"Violation": "error", "Warning": "warning", "Info": "note"}


@dataclass(frozen=True)
class Location:
    file: str
    line: int | None = None


@dataclass
class Sources:
    """Where each record was read from: results are pointed at that file, at the line naming their focus node."""

    files: dict[str, Path] = field(default_factory=dict)  # record IRI -> file
    _texts: dict[Path, list[str]] = field(default_factory=dict, repr=False)

    def locate(self, result: ValidationResult) -> Location | None:
        path = self.files.get(result.record or "") or self.files.get(result.focus_node)
        if path is None:
            return None
        lines = self._texts.get(path)
        if lines is None:
            lines = self._texts[path] = path.read_text(encoding="utf-8", errors="replace").splitlines()
        # The offending value first (the owner that is no agent, the name in the wrong style), then the node itself.
        for term in (result.value, result.focus_node, result.record, result.record_name):
            line = _line_naming(lines, term) if term else None
            if line is not None:
                return Location(str(path), line)
        return Location(str(path), 1)


def _slug(text: str) -> str:
    return "-" + re.sub(r"[^0-9a-z]+", "-", text.lower()).strip("-") + "-"


def _line_naming(lines: list[str], term: str) -> int | None:
    """The first line naming `term`: an IRI in full (<iri>) or by its last segment, as a prefixed name, a relative
    IRI or the words a descriptor writes it with ("head-of-customer-insights": "Head of Customer Insights"); a
    literal by its text."""
    exact = f"<{term}>" if "://" in term else term  # a literal as written, before any looser match
    for number, text in enumerate(lines, start=1):
        if exact in text and not text.lstrip().startswith("#"):
            return number
    local = _slug(re.split(r"[/#:]", term.rstrip("/#"))[-1] if "://" in term else term)
    if local == "--":
        return None
    for number, text in enumerate(lines, start=1):
        if local in _slug(text) and not text.lstrip().startswith("#"):  # a comment (Turtle and YAML) names nothing
            return number
    return None


def _short(iri: str | None) -> str:
    if not iri:
        return ""
    for prefix, namespace in PREFIXES.items():
        if iri.startswith(namespace) and len(iri) > len(namespace):
            return f"{prefix}:{iri[len(namespace) :]}"
    return iri


def rule_id(result: ValidationResult) -> str:
    """A stable name for the rule a result breaks: the SPARQL constraint or named shape, else path and component
    (a property shape written in brackets has no name of its own)."""
    if result.constraint and ":" in result.constraint:
        return _short(result.constraint)
    if result.source_shape and ":" in result.source_shape:
        return _short(result.source_shape)
    component = (result.component or "").removeprefix(str(SH)).removesuffix("ConstraintComponent")
    return " ".join(part for part in (_short(result.path), component) if part) or "shape"


def _subject(result: ValidationResult) -> str:
    return result.record_name or result.record or result.focus_node


# --- JUnit XML --------------------------------------------------------------------------------------------------


def junit_xml(report: ValidationReport, products: Iterable[tuple[str, str]], items: Iterable[str]) -> str:
    """One test suite per product (`products`: IRI and name), one test case per checklist item, failed with the
    violations' messages; results about other records or outside the items are test cases of their own."""
    items = tuple(items)
    grouped: dict[tuple[str, str], list[ValidationResult]] = {}
    for result in report.results:
        grouped.setdefault((result.record or result.focus_node, result.item or rule_id(result)), []).append(result)
    names = {iri: name for iri, name in products}
    suites: dict[str, list[tuple[str, list[ValidationResult]]]] = {
        iri: [(item, grouped.pop((iri, item), [])) for item in items] for iri, _ in products
    }
    for (record, case), results in sorted(grouped.items()):
        suites.setdefault(record, []).append((case, results))
        names.setdefault(record, _subject(results[0]))
    root = ElementTree.Element("testsuites", name="valuemesh validate")
    total = failed = 0
    for record, cases in suites.items():
        suite = ElementTree.SubElement(root, "testsuite", name=names.get(record, record), id=record)
        suite_failures = 0
        for case, results in cases:
            testcase = ElementTree.SubElement(suite, "testcase", name=case, classname=names.get(record, record))
            violations = [r for r in results if r.severity == "Violation"]
            if violations:
                suite_failures += 1
                failure = ElementTree.SubElement(
                    testcase, "failure", message=violations[0].detail or violations[0].message, type="sh:Violation"
                )
                failure.text = "\n".join(r.message for r in violations)
            advice = [r.message for r in results if r.severity != "Violation"]
            if advice:
                ElementTree.SubElement(testcase, "system-out").text = "\n".join(advice)
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(suite_failures))
        total += len(cases)
        failed += suite_failures
    root.set("tests", str(total))
    root.set("failures", str(failed))
    ElementTree.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root, encoding="unicode") + "\n"


# --- SARIF 2.1.0 --------------------------------------------------------------------------------------------------


def sarif(report: ValidationReport, sources: Sources | None = None) -> str:
    """The report as a SARIF 2.1.0 log: one rule per shape or constraint, one result per finding."""
    sources = sources or Sources()
    rules: dict[str, dict[str, object]] = {}
    results = []
    for result in report.results:
        rule = rule_id(result)
        rules.setdefault(
            rule,
            {
                "id": rule,
                "name": result.item or rule,
                "shortDescription": {"text": result.item or rule},
                "properties": {"sourceShape": result.source_shape, "sourceConstraintComponent": result.component},
            },
        )
        entry: dict[str, object] = {
            "ruleId": rule,
            "level": _LEVELS.get(result.severity, "note"),
            "message": {"text": result.message},
            "logicalLocations": [{"fullyQualifiedName": result.focus_node, "kind": "resource"}],
            "properties": {"focusNode": result.focus_node, "resultPath": result.path, "value": result.value},
        }
        where = sources.locate(result)
        if where is not None:
            physical: dict[str, object] = {"artifactLocation": {"uri": _uri(where.file)}}
            if where.line is not None:
                physical["region"] = {"startLine": where.line}
            entry["locations"] = [{"physicalLocation": physical}]
        results.append(entry)
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "valuemesh",
                        "version": __version__,
                        "informationUri": "https://w3id.org/valuemesh",
                        "rules": list(rules.values()),
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"


def _relative(file: str) -> str | None:
    """The path relative to the working directory, as CI systems name a repository's files; None outside it."""
    path = Path(file).resolve()
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return None


def _uri(file: str) -> str:
    return _relative(file) or Path(file).resolve().as_uri()


# --- GitHub workflow commands ---------------------------------------------------------------------------------------


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotations(report: ValidationReport, sources: Sources | None = None) -> str:
    """One `::error` (violation) or `::warning` line per result, on the file and line it came from when known."""
    sources = sources or Sources()
    lines = []
    for result in report.results:
        command = "error" if result.severity == "Violation" else "warning" if result.severity == "Warning" else "notice"
        properties = []
        where = sources.locate(result)
        if where is not None:
            properties.append(f"file={_escape_property(_relative(where.file) or str(Path(where.file).resolve()))}")
            if where.line is not None:
                properties.append(f"line={where.line}")
        properties.append(f"title={_escape_property(result.item or rule_id(result))}")
        lines.append(f"::{command} {','.join(properties)}::{_escape_data(result.message)}")
    return "".join(line + "\n" for line in lines)
