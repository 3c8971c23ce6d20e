"""What a validation found: one result per (focus node, constraint, value), and the report that holds them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from rdflib.term import Node


@dataclass(frozen=True)
class ValidationResult:
    focus_node: str
    severity: str  # "Violation" | "Warning" | "Info"
    message: str  # for people: "HCP 360: a data product needs exactly one owner (Owner / Steward); it has none"
    path: str | None = None  # the predicate IRI, or "^" + IRI for an inverse path
    source_shape: str | None = None
    component: str | None = None  # sh:sourceConstraintComponent
    constraint: str | None = None  # sh:sourceConstraint (SPARQL-based constraints)
    value: str | None = None
    record: str | None = None  # the record (product, use case...) the focus node belongs to
    record_name: str | None = None
    item: str | None = None  # the checklist item in the article's words ("Owner / Steward")
    detail: str | None = None  # the message without the record's name in front, for output grouped by record
    focus_term: Node | None = field(default=None, compare=False, repr=False)
    value_term: Node | None = field(default=None, compare=False, repr=False)
    shape_term: Node | None = field(default=None, compare=False, repr=False)  # the shape, blank node or not

    def to_json(self) -> dict[str, str | None]:
        return {
            "record": self.record,
            "recordName": self.record_name,
            "focusNode": self.focus_node,
            "severity": self.severity,
            "item": self.item,
            "message": self.message,
            "path": self.path,
            "value": self.value,
            "sourceShape": self.source_shape,
            "sourceConstraintComponent": self.component,
        }


@dataclass
class ValidationReport:
    results: list[ValidationResult] = field(default_factory=list)

    @property
    def violations(self) -> list[ValidationResult]:
        return [r for r in self.results if r.severity == "Violation"]

    @property
    def warnings(self) -> list[ValidationResult]:
        return [r for r in self.results if r.severity == "Warning"]

    @property
    def conforms(self) -> bool:
        """No violation; warnings do not count (like pyshacl --allow-warnings)."""
        return not self.violations

    def by_record(self) -> dict[str, list[ValidationResult]]:
        """Results grouped under the name of the product (or use case...) they are about, in a stable order."""
        grouped: dict[str, list[ValidationResult]] = defaultdict(list)
        for result in sorted(self.results, key=_order):
            grouped[result.record_name or result.record or result.focus_node].append(result)
        return dict(grouped)

    def to_json(self) -> dict[str, object]:
        return {
            "conforms": self.conforms,
            "violations": len(self.violations),
            "warnings": len(self.warnings),
            "results": [r.to_json() for r in sorted(self.results, key=_order)],
        }


_SEVERITY_ORDER = {"Violation": 0, "Warning": 1, "Info": 2}


def _order(result: ValidationResult) -> tuple[str, int, str]:
    return (
        result.record_name or result.record or result.focus_node,
        _SEVERITY_ORDER.get(result.severity, 3),
        result.message,
    )
