"""Access requests: asking to use an output port, and the answer, kept as records of their own.

A request is the record `{base}access-request/{id}` (docs/model.md, "Access requests"): the request node
(`vm:AccessRequest`, `odrl:Request`) names the port (`odrl:target`), the requester (`odrl:assignee`), the stated
purpose, the day access ends (`dct:temporal`) and its status; every change of status adds a PROV activity (who,
when, why) to the record. Approved, the node is also an `odrl:Agreement`: assigner the product's owner, a permission
to use the port, derived (`prov:wasDerivedFrom`) from the product's data sharing agreement (its `odrl:Offer`), so
SPARQL sees who may use what. A port whose agreement is Open Access is granted at once. EXPIRED is never stored: a
pending or approved request whose end date has passed reads as expired and counts as no agreement.

Who may ask, decide, revoke and see is decided in identity/policy.py. Each write goes through
`writes.write_records`, holding the request and the port's product and conditional on the versions of both that
were read: a product changed or removed meanwhile makes the workflow read again (and find, say, that the port is
gone). A product that stops offering a port (changed or removed) closes the requests for it in the same write.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from enum import Enum
from functools import partial

from rdflib import RDF, RDFS, XSD, Graph, Literal, URIRef
from rdflib.term import Node

from server.catalog.events import record_event
from server.catalog.iris import mint
from server.catalog.nodes import with_values
from server.catalog.records import GENID, Records
from server.catalog.writes import StaleRead, record_key, write_records
from server.errors import BadInput, Conflict, NotFound
from server.identity import policy
from server.identity.principal import SYSTEM, Principal
from server.namespaces import DCAT, DCT, DPROD, ODRL, PROV, VM, sparql_prefixes
from server.store.base import Store

__all__ = [
    "AccessRequestRow",
    "Status",
    "access_request",
    "access_requests",
    "announce_closed",
    "closed_with_dropped_ports",
    "decide_access_request",
    "request_access",
    "requests_of_products",
    "revoke_access",
    "seen_by",
]

KIND = "access-request"
MAX_TEXT = 2000  # characters of a purpose or reason: a sentence or a paragraph, not a document
ATTEMPTS = 5  # reads and writes again when what was read changed before the write held it


class Status(str, Enum):
    """The GraphQL AccessRequestStatus; every one but EXPIRED is stored as a concept of vm:AccessRequestStatuses."""

    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"


CONCEPTS = {
    Status.PENDING: VM.Pending,
    Status.APPROVED: VM.Approved,
    Status.REJECTED: VM.Rejected,
    Status.REVOKED: VM.Revoked,
}
STATUS_OF = {str(concept): status for status, concept in CONCEPTS.items()}
IN_FORCE = (Status.PENDING, Status.APPROVED)


@dataclass(frozen=True)
class AccessRequestRow:
    """A request as read (`status` is as of the reading: EXPIRED once the end date has passed)."""

    iri: str
    port: str
    product: str
    owner: str | None
    domain: str | None
    requester: str
    purpose: str
    until: str | None
    status: Status
    requested_at: str
    decided_at: str | None
    decided_by: str | None
    reason: str | None


# Requests with their port's product (a request whose port no product offers any more is history: not listed).
# #VALUES narrows to some requests or some products.
REQUESTS = (
    sparql_prefixes()
    + """
SELECT ?request ?port ?product ?owner ?domain ?requester ?purpose ?until ?status ?requestedAt ?decidedAt
       ?decidedBy ?reason WHERE {
  #VALUES
  ?request a vm:AccessRequest ;
           odrl:target ?port ;
           odrl:assignee ?requester ;
           vm:requestStatus ?status ;
           vm:requestedAt ?requestedAt .
  ?product dprod:outputPort ?port .
  OPTIONAL { ?product dprod:dataProductOwner ?owner }
  OPTIONAL { ?product dprod:domain ?domain }
  OPTIONAL { ?request vm:statedPurpose ?purpose }
  OPTIONAL { ?request dct:temporal/dcat:endDate ?until }
  OPTIONAL { ?request vm:decidedAt ?decidedAt }
  OPTIONAL { ?request vm:decidedBy ?decidedBy }
  OPTIONAL { ?request vm:reason ?reason }
}
"""
)

# The product offering a port.
PRODUCT_OF_PORT = (
    sparql_prefixes() + "SELECT ?port ?product WHERE { ?product a dprod:DataProduct ; dprod:outputPort ?port }"
)  # a bound variable must be projected (engine substitutions)

# Requests still in force (pending or approved) for the output ports of some products (#VALUES).
REQUESTS_ON_PRODUCTS = (
    sparql_prefixes()
    + """
SELECT ?request ?product ?port WHERE {
  #VALUES
  ?product dprod:outputPort ?port .
  ?request odrl:target ?port ; a vm:AccessRequest ; vm:requestStatus ?status .
  FILTER (?status IN (vm:Pending, vm:Approved))
}
"""
)


@dataclass(frozen=True)
class _Offer:
    """The product offering a port, and its stored record (the write is conditional on it)."""

    product: str
    owner: str | None
    domain: str | None
    offer: str | None
    open_access: bool
    port_name: str
    record: Graph


# --- reading ---------------------------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def _text(value: Node | None) -> str | None:
    return None if value is None else str(value)


def _status(stored: str, until: str | None, now: datetime) -> Status:
    status = STATUS_OF.get(stored, Status.REVOKED)  # an unknown concept grants nothing
    if status in IN_FORCE and until is not None and _expired(until, now):
        return Status.EXPIRED
    return status


def _expired(until: str, now: datetime) -> bool:
    """Access holds through the whole of its last day (UTC)."""
    try:
        return now.astimezone(UTC).date() > date.fromisoformat(until[:10])
    except ValueError:
        return True  # an end date nobody can read grants nothing


def _rows(store: Store, values: str, now: datetime) -> list[AccessRequestRow]:
    found: dict[str, AccessRequestRow] = {}
    for row in store.select(REQUESTS.replace("#VALUES", values)):
        iri = str(row["request"])
        if iri in found:
            continue  # a second owner or domain (the checklist allows one): the first answers
        until = _text(row["until"])
        found[iri] = AccessRequestRow(
            iri=iri,
            port=str(row["port"]),
            product=str(row["product"]),
            owner=_text(row["owner"]),
            domain=_text(row["domain"]),
            requester=str(row["requester"]),
            purpose=_text(row["purpose"]) or "",
            until=until,
            status=_status(str(row["status"]), until, now),
            requested_at=str(row["requestedAt"]),
            decided_at=_text(row["decidedAt"]),
            decided_by=_text(row["decidedBy"]),
            reason=_text(row["reason"]),
        )
    return sorted(found.values(), key=lambda r: (r.requested_at, r.iri), reverse=True)


def seen_by(viewer: Principal, rows: list[AccessRequestRow], status: Status | None = None) -> list[AccessRequestRow]:
    """The rows `viewer` may see (identity/policy.py), only those with `status` when given."""
    return [
        row
        for row in rows
        if (status is None or row.status is status)
        and policy.may_see_access_request(viewer, row.requester, row.owner, row.domain)
    ]


def access_requests(
    store: Store,
    *,
    viewer: Principal,
    status: Status | None = None,
    products: list[str] | None = None,
    now: datetime | None = None,
) -> list[AccessRequestRow]:
    """The requests `viewer` may see, newest first; only those with `status`, or to ports of `products`."""
    if products is not None and not products:
        return []
    values = with_values("VALUES ?product { $nodes }", products) if products is not None else ""
    return seen_by(viewer, _rows(store, values, now or _now()), status)


def requests_of_products(
    store: Store, products: list[str], now: datetime | None = None
) -> dict[str, list[AccessRequestRow]]:
    """Every request to each product's ports, newest first, in one question (a batch: filter with `seen_by`)."""
    answer: dict[str, list[AccessRequestRow]] = {product: [] for product in products}
    if products:
        for row in _rows(store, with_values("VALUES ?product { $nodes }", products), now or _now()):
            answer[row.product].append(row)
    return answer


def access_request(
    store: Store, iri: str, *, viewer: Principal, now: datetime | None = None
) -> AccessRequestRow | None:
    """One request, or None when there is none or `viewer` may not see it."""
    found = seen_by(viewer, _rows(store, with_values("VALUES ?request { $nodes }", [iri]), now or _now()))
    return found[0] if found else None


def _offer_of(store: Store, port: str) -> _Offer:
    """The product offering `port`, read from its stored record (what a write is then conditional on)."""
    found = store.select(PRODUCT_OF_PORT, {"port": URIRef(port)}).column("product")
    if not found:
        raise NotFound(f"no data product offers the output port {port}; ask for access to an output port's id")
    product = URIRef(str(found[0]))
    record = store.record(str(product))
    if (product, DPROD.outputPort, URIRef(port)) not in record:
        raise StaleRead(f"<{product}> changed while it was read; nothing was stored, try again")
    offer = record.value(product, ODRL.hasPolicy)
    return _Offer(
        product=str(product),
        owner=_text(record.value(product, DPROD.dataProductOwner)),
        domain=_text(record.value(product, DPROD.domain)),
        offer=_text(offer),
        open_access=offer is not None and (offer, DCT.accessRights, VM.OpenAccess) in record,
        port_name=_text(record.value(URIRef(port), RDFS.label)) or port,
        record=record,
    )


def _stored_request(store: Store, iri: str, now: datetime) -> tuple[AccessRequestRow, Graph, _Offer]:
    """A request as its stored record says, with its port's product (whoever asks: the right is judged next)."""
    record = store.record(iri)
    node = URIRef(iri)
    port = record.value(node, ODRL.target)
    if (node, RDF.type, VM.AccessRequest) not in record or port is None:
        raise NotFound(f"no access request {iri} in the catalog")
    try:
        offer = _offer_of(store, str(port))
    except NotFound:
        raise NotFound(f"the output port of the access request {iri} is no longer offered: it is closed") from None
    until = (
        record.value(record.value(node, DCT.temporal), DCAT.endDate) if (node, DCT.temporal, None) in record else None
    )
    row = AccessRequestRow(
        iri=iri,
        port=str(port),
        product=offer.product,
        owner=offer.owner,
        domain=offer.domain,
        requester=str(record.value(node, ODRL.assignee)),
        purpose=_text(record.value(node, VM.statedPurpose)) or "",
        until=_text(until),
        status=_status(str(record.value(node, VM.requestStatus)), _text(until), now),
        requested_at=str(record.value(node, VM.requestedAt)),
        decided_at=_text(record.value(node, VM.decidedAt)),
        decided_by=_text(record.value(node, VM.decidedBy)),
        reason=_text(record.value(node, VM.reason)),
    )
    return row, record, offer


# --- input -------------------------------------------------------------------------------------------------------


def _checked_text(value: str | None, what: str, *, required: bool) -> str | None:
    text = (value or "").strip()
    if not text:
        if required:
            raise BadInput(f"give a {what}: what the data will be used for, in a sentence")
        return None
    if len(text) > MAX_TEXT:
        raise BadInput(f"a {what} is at most {MAX_TEXT} characters; this one has {len(text)}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput(f"the {what} is not valid Unicode text (it holds a lone surrogate)") from None
    return text


def parse_until(until: str | None, now: datetime) -> str | None:
    """An end date `YYYY-MM-DD`, today or later (UTC); BadInput otherwise."""
    if until is None:
        return None
    text = until.strip()
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError
        day = date.fromisoformat(text)
    except ValueError:
        raise BadInput(f"until must be an ISO 8601 date such as 2030-12-31, not {until!r}") from None
    if day < now.astimezone(UTC).date():
        raise BadInput(f"until ({text}) is in the past: access would end before it starts")
    return day.isoformat()


# --- the record ----------------------------------------------------------------------------------------------


def _moment(now: datetime) -> Literal:
    return Literal(now.astimezone(UTC).isoformat(timespec="seconds"), datatype=XSD.dateTime)


def _part(request: URIRef, name: str) -> URIRef:
    """A node of the request's record, named under the record's skolem IRIs (records.py: blank nodes would be
    labelled afresh by each write, and two writes could give two nodes one label). Each change of status happens
    once per request, so its name is enough."""
    return URIRef(f"{request}{GENID}{name}")


ACTIVITIES = {
    VM.RequestingAccess: "requested",
    VM.ApprovingAccess: "approved",
    VM.RejectingAccess: "rejected",
    VM.RevokingAccess: "revoked",
}


def _activity(record: Graph, request: URIRef, kind: URIRef, agent: str, now: datetime, reason: str | None) -> URIRef:
    """One change of status as a PROV activity of the record."""
    activity = _part(request, ACTIVITIES[kind])
    record.add((activity, RDF.type, PROV.Activity))
    record.add((activity, RDF.type, kind))
    record.add((activity, PROV.wasAssociatedWith, URIRef(agent)))
    record.add((activity, PROV.endedAtTime, _moment(now)))
    if reason:
        record.add((activity, VM.reason, Literal(reason)))
    record.add((request, PROV.wasGeneratedBy if kind == VM.RequestingAccess else PROV.wasInfluencedBy, activity))
    return activity


def _set(record: Graph, node: URIRef, predicate: URIRef, value: Node | None) -> None:
    record.remove((node, predicate, None))
    if value is not None:
        record.add((node, predicate, value))


def _new_record(
    iri: str, port: str, requester: Principal, purpose: str, until: str | None, now: datetime, label: str
) -> Graph:
    node = URIRef(iri)
    record = Graph(identifier=iri)
    record.add((node, RDF.type, VM.AccessRequest))
    record.add((node, RDF.type, ODRL.Request))
    record.add((node, RDFS.label, Literal(label)))
    record.add((node, ODRL.uid, node))
    record.add((node, ODRL.target, URIRef(port)))
    record.add((node, ODRL.assignee, URIRef(requester.id)))
    record.add((node, VM.statedPurpose, Literal(purpose)))
    record.add((node, VM.requestStatus, VM.Pending))
    record.add((node, VM.requestedAt, _moment(now)))
    if until is not None:
        period = _part(node, "period")
        record.add((node, DCT.temporal, period))
        record.add((period, RDF.type, DCT.PeriodOfTime))
        record.add((period, DCAT.endDate, Literal(until, datatype=XSD.date)))
    _activity(record, node, VM.RequestingAccess, requester.id, now, None)
    return record


def _approved(record: Graph, node: URIRef, row: AccessRequestRow, offer: _Offer) -> None:
    """The request becomes an ODRL agreement: a permission to use the port, under the product's offer."""
    record.add((node, RDF.type, ODRL.Agreement))
    if offer.owner is not None:
        record.add((node, ODRL.assigner, URIRef(offer.owner)))
    if offer.offer is not None:
        record.add((node, PROV.wasDerivedFrom, URIRef(offer.offer)))
    permission = _part(node, "permission")
    record.add((node, ODRL.permission, permission))
    record.add((permission, RDF.type, ODRL.Permission))
    record.add((permission, ODRL.action, ODRL.use))
    record.add((permission, ODRL.target, URIRef(row.port)))
    record.add((permission, ODRL.assignee, URIRef(row.requester)))
    if offer.owner is not None:
        record.add((permission, ODRL.assigner, URIRef(offer.owner)))
    if row.until is not None:
        # ODRL's own way to say it, for policy engines: use is permitted up to and including the end date.
        constraint = _part(node, "until")
        record.add((permission, ODRL.constraint, constraint))
        record.add((constraint, RDF.type, ODRL.Constraint))
        record.add((constraint, ODRL.leftOperand, ODRL.dateTime))
        record.add((constraint, ODRL.operator, ODRL.lteq))
        record.add((constraint, ODRL.rightOperand, Literal(row.until, datatype=XSD.date)))


def _no_longer_agreed(record: Graph, node: URIRef) -> None:
    """A revoked agreement is an agreement no more (the approving activity stays, as what happened)."""
    record.remove((node, RDF.type, ODRL.Agreement))
    record.remove((node, ODRL.assigner, None))
    record.remove((node, PROV.wasDerivedFrom, None))
    for part in ("permission", "until"):
        record.remove((_part(node, part), None, None))
    record.remove((node, ODRL.permission, None))


def _decided(
    record: Graph,
    row: AccessRequestRow,
    status: Status,
    *,
    actor: str,
    decider: str | None,
    reason: str | None,
    now: datetime,
    offer: _Offer | None = None,
) -> Graph:
    """A copy of `record` with its new status, who decided and why, and the activity that changed it."""
    changed = Graph(identifier=row.iri)
    changed += record
    node = URIRef(row.iri)
    _set(changed, node, VM.requestStatus, CONCEPTS[status])
    _set(changed, node, VM.reason, Literal(reason) if reason else None)
    if status in (Status.APPROVED, Status.REJECTED):
        _set(changed, node, VM.decidedAt, _moment(now))
        _set(changed, node, VM.decidedBy, URIRef(decider) if decider else None)
    kind = {Status.APPROVED: VM.ApprovingAccess, Status.REJECTED: VM.RejectingAccess}.get(status, VM.RevokingAccess)
    activity = _activity(changed, node, kind, actor, now, reason)
    if status is Status.APPROVED and offer is not None:
        _approved(changed, node, row, offer)
        if offer.offer is not None:
            changed.add((activity, PROV.used, URIRef(offer.offer)))
    if status is Status.REVOKED:
        _no_longer_agreed(changed, node)
    return changed


# --- the workflow ----------------------------------------------------------------------------------------------


def _write(
    store: Store,
    iri: str,
    record: Graph,
    offer: _Offer,
    *,
    actor: Principal,
    read: Graph | None,
    precondition: Callable[[], None] | None = None,
) -> None:
    """Store the request's record, holding it and the port's product, if neither changed since it was read (a new
    request: if its IRI is free) and `precondition` holds (checked under the same hold)."""
    write_records(
        store,
        {iri: record},
        actor=actor,
        new=read is None,
        authorized_by=policy.ACCESS_REQUESTS,
        holding=[record_key(offer.product)],
        unchanged_since={offer.product: offer.record, **({iri: read} if read is not None else {})},
        precondition=precondition,
    )


def _retrying(attempt: Callable[[], AccessRequestRow]) -> AccessRequestRow:
    """Run `attempt` (read, decide, write) again while what it read changed before its write held it."""
    for _ in range(ATTEMPTS - 1):
        try:
            return attempt()
        except StaleRead:
            continue
    return attempt()


def _as_written(row: AccessRequestRow, status: Status, **changes: str | None) -> AccessRequestRow:
    return replace(row, status=status, **changes)  # type: ignore[arg-type]


def request_access(
    store: Store,
    base: str,
    port: str,
    purpose: str,
    until: str | None,
    *,
    actor: Principal,
    now: datetime | None = None,
) -> AccessRequestRow:
    """Ask for access to `port` as `actor`: granted at once where its agreement is Open Access, pending otherwise."""
    policy.authorize_access_request(actor)
    now = now or _now()
    stated = _checked_text(purpose, "purpose", required=True) or ""
    end = parse_until(until, now)
    iri = mint(base, KIND, secrets.token_hex(8))

    def refuse_a_second_pending(offer: _Offer) -> None:
        pending = [
            r.iri
            for r in access_requests(store, viewer=actor, status=Status.PENDING, products=[offer.product], now=now)
            if r.port == port and r.requester == actor.id
        ]
        if pending:
            raise Conflict(
                f"{actor.name} already has a pending request for {port}: {pending[0]}; wait for its decision"
            )

    def attempt() -> AccessRequestRow:
        offer = _offer_of(store, port)
        refuse_a_second_pending(offer)  # at once, before any work; again under the write's hold (a racing twin)
        label = f"access request: {offer.port_name}"  # shown wherever the port is (linked data): names nobody
        record = _new_record(iri, port, actor, stated, end, now, label)
        row = AccessRequestRow(
            iri, port, offer.product, offer.owner, offer.domain, actor.id, stated, end, Status.PENDING,
            str(_moment(now)), None, None, None,
        )  # fmt: skip
        if offer.open_access:
            reason = "granted at once: the product's data sharing agreement is Open Access"
            record = _decided(record, row, Status.APPROVED, actor=SYSTEM.id, decider=None, reason=reason, now=now,
                              offer=offer)  # fmt: skip
            row = _as_written(row, Status.APPROVED, decided_at=str(_moment(now)), reason=reason)
        _write(store, iri, record, offer, actor=actor, read=None, precondition=partial(refuse_a_second_pending, offer))
        return row

    row = _retrying(attempt)
    _announce(store, "requested", row, actor)
    if row.status is Status.APPROVED:
        _announce(store, "decided", row, SYSTEM)
    return row


def decide_access_request(
    store: Store,
    iri: str,
    approve: bool,
    reason: str | None,
    *,
    actor: Principal,
    now: datetime | None = None,
) -> AccessRequestRow:
    """Approve or reject a pending request, as its product's owner, a member of its domain, or ADMIN."""
    now = now or _now()
    why = _checked_text(reason, "reason", required=False)

    def attempt() -> AccessRequestRow:
        row, record, offer = _stored_request(store, iri, now)
        policy.authorize_access_decision(actor, row.product, row.owner, row.domain)
        if row.status is not Status.PENDING:
            raise Conflict(
                f"the access request {iri} is {row.status.value.lower()} already; only a pending one is decided"
            )
        status = Status.APPROVED if approve else Status.REJECTED
        changed = _decided(record, row, status, actor=actor.id, decider=actor.id, reason=why, now=now, offer=offer)
        _write(store, iri, changed, offer, actor=actor, read=record)
        return _as_written(row, status, decided_at=str(_moment(now)), decided_by=actor.id, reason=why)

    row = _retrying(attempt)
    _announce(store, "decided", row, actor)
    return row


def revoke_access(
    store: Store, iri: str, reason: str | None, *, actor: Principal, now: datetime | None = None
) -> AccessRequestRow:
    """End a pending request or an agreement in force: its product's owner or domain, ADMIN, or the requester."""
    now = now or _now()
    why = _checked_text(reason, "reason", required=False)

    def attempt() -> AccessRequestRow:
        row, record, offer = _stored_request(store, iri, now)
        policy.authorize_access_revocation(actor, row.requester, row.product, row.owner, row.domain)
        if row.status not in IN_FORCE:
            raise Conflict(
                f"the access request {iri} is {row.status.value.lower()}; only a pending request or an agreement in "
                "force can be revoked"
            )
        changed = _decided(record, row, Status.REVOKED, actor=actor.id, decider=None, reason=why, now=now)
        _write(store, iri, changed, offer, actor=actor, read=record)
        return _as_written(row, Status.REVOKED, reason=why)

    row = _retrying(attempt)
    _announce(store, "revoked", row, actor)
    return row


def closed_with_dropped_ports(
    store: Store, records: Records, *, actor: Principal, now: datetime | None = None
) -> tuple[Records, list[AccessRequestRow]]:
    """For a write of `records` (run under its hold): the requests in force for output ports that a stored product
    stops offering (the product changed without them, or is dropped: an empty record), closed by `actor`, and their
    rows as closed. Pending ones are rejected, agreements revoked."""
    now = now or _now()
    # Products written or dropped (an empty record); a new product's ports have no requests yet.
    products = [iri for iri, g in records.items() if not len(g) or (URIRef(iri), RDF.type, DPROD.DataProduct) in g]
    if not products:
        return {}, []
    values = with_values("VALUES ?product { $nodes }", products)
    found = store.select(REQUESTS_ON_PRODUCTS.replace("#VALUES", values))
    closing: Records = {}
    closed: list[AccessRequestRow] = []
    for hit in found:
        product, port = URIRef(str(hit["product"])), URIRef(str(hit["port"]))
        if (product, DPROD.outputPort, port) in records[str(product)]:
            continue  # still offered
        row, record, _ = _stored_request(store, str(hit["request"]), now)
        if row.iri in closing or row.status not in IN_FORCE:
            continue
        status = Status.REVOKED if row.status is Status.APPROVED else Status.REJECTED
        reason = f"the data product <{row.product}> no longer offers the output port <{row.port}>"
        closing[row.iri] = _decided(
            record, row, status, actor=actor.id, decider=actor.id if status is Status.REJECTED else None,
            reason=reason, now=now,
        )  # fmt: skip
        closed.append(_as_written(row, status, reason=reason))
    return closing, closed


def announce_closed(store: Store, rows: list[AccessRequestRow], actor: Principal) -> None:
    """Tell the world about requests a product write closed (after it committed)."""
    for row in rows:
        _announce(store, "revoked" if row.status is Status.REVOKED else "decided", row, actor)


def _announce(store: Store, what: str, request: AccessRequestRow, actor: Principal) -> None:
    """THE place an access-request event is published (`access-request.requested`, `.decided` (approved or
    rejected: `status` says which), `.revoked`), once per state change, after its write committed: the events feed
    and the webhooks (server/catalog/events.py) carry it to whoever provisions the grants."""
    data = {
        "status": request.status.value,
        "outputPort": request.port,
        "dataProduct": request.product,
        "requester": request.requester,
        "until": request.until,
        "reason": request.reason,
    }
    record_event(store, f"access-request.{what}", request.iri, actor, data)
