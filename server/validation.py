"""SHACL validation of writes and of the stored catalog (the article's Data Product MVP checklist)."""

from __future__ import annotations

from dataclasses import dataclass, field

from server.store.base import Store


@dataclass(frozen=True)
class ValidationResult:
    focus_node: str
    severity: str  # "Violation" | "Warning" | "Info"
    message: str
    path: str | None = None
    source_shape: str | None = None


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
        return not self.violations


def check_write(store: Store, records: dict) -> ValidationReport:  # type: ignore[type-arg]
    """Validate candidate records with the neighbourhood the shapes need. (Shapes arrive with governance.)"""
    return ValidationReport()
