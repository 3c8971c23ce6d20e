"""The `validation` query's report: the whole stored catalog, or the results about chosen nodes."""

from __future__ import annotations

from server.store.base import Store
from server.validation import ValidationReport, validate_store


def validation_report(store: Store, ids: list[str] | None) -> ValidationReport:
    """The checklist report of the stored catalog; with `ids`, the results about those nodes or their records."""
    report = validate_store(store)
    if ids is None:
        return report
    chosen = set(ids)
    return ValidationReport([r for r in report.results if r.focus_node in chosen or r.record in chosen])
