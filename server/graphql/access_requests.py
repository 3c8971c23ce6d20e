"""GraphQL for access requests: the AccessRequest type and the resolvers that ask for, decide, revoke and list them.

Each resolver is a few lines calling `server.catalog.access_requests`, where the workflow runs and identity/policy.py
decides who may do and see what.
"""

from __future__ import annotations

from enum import Enum
from functools import partial

import strawberry
from strawberry import Private

from server.catalog import access_requests as workflow
from server.catalog.access_requests import AccessRequestRow
from server.errors import NotFound
from server.graphql import types as t

# What the requester of a port of a restricted product they may not read (yet) is told of it: its IRI only.
RESTRICTED_PORT = "an output port of a restricted data product"
RESTRICTED_PRODUCT = "a restricted data product"


@strawberry.enum
class AccessRequestStatus(Enum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"


@strawberry.type(
    description="A request to use an output port. Approved, it is an ODRL agreement in the graph (odrl:Agreement, "
    "odrl:assignee)."
)
class AccessRequest(t.Node):
    id: strawberry.ID
    row: Private[AccessRequestRow]

    @strawberry.field
    async def output_port(self, info: t.Info) -> t.OutputPort:
        if info.context.visibility.hidden(self.row.port):  # a restricted product's: its IRI (asked for), no more
            return t.OutputPort(id=strawberry.ID(self.row.port), name=RESTRICTED_PORT, mechanism="")
        for port in await info.context.loaders.ports.load(self.row.product):
            if port.iri == self.row.port and not port.is_input:
                return t.OutputPort(id=strawberry.ID(port.iri), name=port.name, mechanism=port.mechanism)
        raise NotFound(f"{self.row.product} no longer offers the output port {self.row.port}")

    @strawberry.field
    async def data_product(self, info: t.Info) -> t.DataProduct:
        if info.context.visibility.hidden(self.row.product):
            return t.DataProduct(id=strawberry.ID(self.row.product), name=RESTRICTED_PRODUCT, known=None)
        found = await t.product(info, self.row.product)
        if found is None:
            raise NotFound(f"the data product {self.row.product} is no longer in the catalog")
        return found

    @strawberry.field
    async def requester(self, info: t.Info) -> t.Agent:
        return (await t.agents_by_iri(info, [self.row.requester]))[0]

    @strawberry.field
    def purpose(self) -> str:
        return self.row.purpose

    @strawberry.field(description="ISO 8601 date the access ends, when limited.")
    def until(self) -> str | None:
        return self.row.until

    @strawberry.field
    def status(self) -> AccessRequestStatus:
        return AccessRequestStatus(self.row.status.value)

    @strawberry.field
    async def decided_by(self, info: t.Info) -> t.Agent | None:
        if self.row.decided_by is None:
            return None
        return (await t.agents_by_iri(info, [self.row.decided_by]))[0]

    @strawberry.field
    def reason(self) -> str | None:
        return self.row.reason

    @strawberry.field(description="ISO 8601 timestamps.")
    def requested_at(self) -> str:
        return self.row.requested_at

    @strawberry.field
    def decided_at(self) -> str | None:
        return self.row.decided_at

    @classmethod
    def of(cls, row: AccessRequestRow) -> AccessRequest:
        return cls(id=strawberry.ID(row.iri), row=row)


def _status(status: AccessRequestStatus | None) -> workflow.Status | None:
    return None if status is None else workflow.Status(status.value)


async def listed(info: t.Info, status: AccessRequestStatus | None, data_product: str | None) -> list[AccessRequest]:
    """`Query.accessRequests`: those the caller may see."""
    products = [data_product] if data_product is not None else None
    rows = await info.context.run(
        partial(workflow.access_requests, viewer=info.context.principal, status=_status(status), products=products),
        info.context.store,
    )
    return [AccessRequest.of(row) for row in rows]


async def of_product(info: t.Info, product: str, status: AccessRequestStatus | None) -> list[AccessRequest]:
    """`DataProduct.accessRequests`: batched over the products of one answer."""
    rows = await info.context.loaders.access_requests.load(product)
    return [AccessRequest.of(row) for row in workflow.seen_by(info.context.principal, rows, _status(status))]


async def node(info: t.Info, iri: str) -> AccessRequest | None:
    """`Query.node` for a request: null where there is none or the caller may not see it."""
    row = await info.context.run(
        partial(workflow.access_request, viewer=info.context.principal), info.context.store, iri
    )
    return AccessRequest.of(row) if row is not None else None


async def requested(info: t.Info, output_port: str, purpose: str, until: str | None) -> AccessRequest:
    row = await info.context.run(
        partial(workflow.request_access, actor=info.context.principal),
        info.context.store,
        info.context.settings.base,
        output_port,
        purpose,
        until,
    )
    info.context.after_write()
    return AccessRequest.of(row)


async def decided(info: t.Info, iri: str, approve: bool, reason: str | None) -> AccessRequest:
    row = await info.context.run(
        partial(workflow.decide_access_request, actor=info.context.principal),
        info.context.store,
        iri,
        approve,
        reason,
    )
    info.context.after_write()
    return AccessRequest.of(row)


async def revoked(info: t.Info, iri: str, reason: str | None) -> AccessRequest:
    row = await info.context.run(
        partial(workflow.revoke_access, actor=info.context.principal), info.context.store, iri, reason
    )
    info.context.after_write()
    return AccessRequest.of(row)
