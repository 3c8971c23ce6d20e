"""The write path: records are validated with their neighbourhood, then replace their named graphs atomically.

Nothing partial is ever stored: a batch is refused whole on the first unusable document or on any checklist
violation, and the store is left as it was.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from rdflib.compare import isomorphic

from server.catalog.ownership import check_ownership
from server.catalog.records import Records, merge_records, normalised, records_of
from server.errors import ValidationRefused
from server.rdf_io import RdfDocument
from server.store.base import Store
from server.validation import ValidationReport, check_write

# One writer at a time per process, so that what was validated is what gets committed.
write_lock = threading.Lock()


@dataclass
class WriteOutcome:
    """What a write did: which records it added or replaced, and the (non-blocking) warnings."""

    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    report: ValidationReport = field(default_factory=ValidationReport)

    @property
    def written(self) -> list[str]:
        return self.added + self.replaced


def _classify(store: Store, records: Records) -> WriteOutcome:
    outcome = WriteOutcome()
    for iri, graph in records.items():
        stored = store.record(iri)
        if not len(stored):
            outcome.added.append(iri)
        elif isomorphic(stored, graph):
            outcome.unchanged.append(iri)
        else:
            outcome.replaced.append(iri)
    return outcome


def write_records(store: Store, records: Records, *, validate: bool = True, dry_run: bool = False) -> WriteOutcome:
    """Validate and store `records` in one transaction, or raise ValidationRefused and store nothing.

    A record stating anything about another record's nodes is refused first (BadInput), so what the checklist
    judges is exactly what is stored.
    """
    records = normalised(records)
    with write_lock:
        check_ownership(store, records)
        outcome = _classify(store, records)
        if validate:
            outcome.report = check_write(store, records)
            if not outcome.report.conforms:
                raise ValidationRefused(outcome.report)
        if not dry_run:
            changed = {iri: records[iri] for iri in outcome.written}
            if changed:
                store.replace_records(changed)
        return outcome


def write_documents(store: Store, documents: Iterable[RdfDocument], **options: bool) -> WriteOutcome:
    """Split parsed documents into records and write them all or nothing."""
    return write_records(store, merge_records(records_of(d) for d in documents), **options)
