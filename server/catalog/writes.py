"""The write path: records are validated with their neighbourhood, then replace their named graphs atomically.

Nothing partial is ever stored: a batch is refused whole on the first unusable document or on any checklist
violation, and the store is left as it was.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rdflib import Graph
from rdflib.compare import isomorphic

from server.catalog.events import EVENTS_KEY
from server.catalog.history import Action, Change, refuse_service_names, write_with_history
from server.catalog.ownership import check_ownership
from server.catalog.records import Records, merge_records, normalised, records_of
from server.errors import Conflict, ValidationRefused
from server.governance.shapes import Shapes
from server.identity.policy import ACCESS_REQUESTS, authorize_access_request_records, authorize_records
from server.identity.principal import Principal
from server.namespaces import DPROD, VM
from server.rdf_io import RdfDocument
from server.store.base import Store
from server.validation import ValidationReport, check_write

if TYPE_CHECKING:
    from server.catalog.access_requests import AccessRequestRow

# One writer at a time per process, so that what was validated is what gets committed (writers in other processes
# on a shared server are held off by the store's `exclusive`).
write_lock = threading.Lock()


@dataclass
class WriteOutcome:
    """What a write did: which records it added or replaced, and the (non-blocking) warnings."""

    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    report: ValidationReport = field(default_factory=ValidationReport)
    # The stored version of each replaced record, which the history keeps.
    before: dict[str, Graph] = field(default_factory=dict, repr=False)

    @property
    def written(self) -> list[str]:
        return self.added + self.replaced


class StaleRead(Conflict):
    """A record the write was conditional on changed between reading it and writing: read again and retry."""


def _refuse_changed(store: Store, read: Mapping[str, Graph]) -> None:
    for iri, version in read.items():
        stored = store.record(iri)
        if len(stored) != len(version) or not isomorphic(stored, version):
            raise StaleRead(f"<{iri}> changed while this write was being prepared; nothing was stored, try again")


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
            outcome.before[iri] = stored
    return outcome


def depends_on(records: Records) -> list[str]:
    """What a write of `records` must hold against other writers: each record; each product's name in its domain
    (the checklist's "unique name" reads the other products of that name) and its domain (whose "regulated" the
    checklist reads); and each port a record consumes or offers (a consumer and the removal or rewrite of the
    product owning the port must not pass each other)."""
    # And the events counter: every write numbers the events of its versions (events.py), in commit order.
    keys = [EVENTS_KEY, *(record_key(iri) for iri in records)]
    for graph in records.values():
        for product, key in graph.subject_objects(VM.nameKey):
            for domain in graph.objects(product, DPROD.domain):
                keys += [f"name {domain} {key}", record_key(str(domain))]
        keys += [port_key(str(fed)) for fed in graph.objects(None, VM.consumes)]
        keys += [port_key(str(port)) for port in graph.objects(None, DPROD.outputPort)]
    return keys


def record_key(iri: str) -> str:
    return f"record {iri}"


def port_key(iri: str) -> str:
    return f"port {iri}"


def write_records(
    store: Store,
    records: Records,
    *,
    actor: Principal,
    validate: bool = True,
    dry_run: bool = False,
    new: bool = False,
    authorized_by: str | None = None,
    holding: Iterable[str] = (),
    unchanged_since: Mapping[str, Graph] | None = None,
    action: Action | None = None,
    precondition: Callable[[], None] | None = None,
    shapes: Shapes | None = None,
) -> WriteOutcome:
    """Validate and store `records` in one transaction, or raise ValidationRefused and store nothing.

    `actor` must have the right to write every record (identity/policy.py), judged against the stored versions
    under the same hold as the rest, so a product cannot change domain between the check and the commit.
    `authorized_by=policy.ACCESS_REQUESTS` says the access-request workflow decided the right already (under its
    own rules, on the versions in `unchanged_since`): the product rules are not run, and the write may then hold
    access-request records only. `holding` adds keys to hold; with `unchanged_since`, a record whose stored
    version differs from the one given there refuses the write (StaleRead), checked under the hold; so does
    whatever `precondition` raises, called under the hold (a rule about other records, e.g. one pending request).

    A record stating anything about another record's nodes is refused first (BadInput), so what the checklist
    judges is exactly what is stored. What the write reads to judge it is held against writers in this process
    and in others (`Store.exclusive`) until it has committed; with `new`, a record that exists already is a
    Conflict, checked under the same hold.

    Each record written gets a version in its history (server/catalog/history.py), committed with it: `action`, or
    REGISTER for a record that was not stored and UPDATE for one replaced.

    The records are judged by `shapes`, by default the shapes in force of the catalog whose store this is
    (validation.py `shapes_in_force`).
    """
    refuse_service_names(records)
    records = normalised(records)
    closed: list[AccessRequestRow] = []
    with _held(store, [*depends_on(records), *holding], dry_run):
        if unchanged_since:
            _refuse_changed(store, unchanged_since)
        if precondition is not None:
            precondition()
        if new:
            taken = [iri for iri in records if len(store.record(iri))]
            if taken:
                raise Conflict(f"{taken[0]} already exists; update it instead, or choose another name")
        if authorized_by is None:
            authorize_records(actor, store, records)
        elif authorized_by == ACCESS_REQUESTS:
            authorize_access_request_records(actor, store, records)
        else:
            raise ValueError(f"no policy named {authorized_by!r} authorizes writes")
        check_ownership(store, records)
        outcome = _classify(store, records)
        if validate:
            outcome.report = check_write(store, records, shapes)
            if not outcome.report.conforms:
                raise ValidationRefused(outcome.report)
        if not dry_run:
            changed = {iri: records[iri] for iri in outcome.written}
            closing: dict[str, Graph] = {}
            if changed and authorized_by is None:
                # A product that stops offering a port ends the requests and agreements to use it, in this write.
                from server.catalog import access_requests  # late: the workflow writes through this module

                closing, closed = access_requests.closed_with_dropped_ports(store, changed, actor=actor)
                changed.update(closing)
            if changed:
                kept = [
                    Change(iri, outcome.before.get(iri, Graph()), action or _action(iri, outcome), records[iri])
                    for iri in outcome.written
                ]
                kept += [Change(iri, store.record(iri), Action.UPDATE, graph) for iri, graph in closing.items()]
                write_with_history(store, changed, kept, actor)
    if closed:
        from server.catalog import access_requests

        access_requests.announce_closed(store, closed, actor)
    return outcome


@contextlib.contextmanager
def _held(store: Store, keys: list[str], dry_run: bool) -> Iterator[None]:
    """The write's hold on what it reads: this process's writers, and other processes' through the store's claims.
    A dry run commits nothing, so it takes no hold: a preview (which anyone who may read may ask for) never waits
    on writers, never makes them wait, and never writes a claim to a shared server."""
    if dry_run:
        yield
        return
    with write_lock, store.exclusive(keys):
        yield


def _action(iri: str, outcome: WriteOutcome) -> Action:
    return Action.REGISTER if iri in outcome.added else Action.UPDATE


def write_documents(
    store: Store,
    documents: Iterable[RdfDocument],
    *,
    actor: Principal,
    validate: bool = True,
    dry_run: bool = False,
    new: bool = False,
    shapes: Shapes | None = None,
) -> WriteOutcome:
    """Split parsed documents into records and write them all or nothing."""
    records = merge_records(records_of(d) for d in documents)
    return write_records(store, records, actor=actor, validate=validate, dry_run=dry_run, new=new, shapes=shapes)
