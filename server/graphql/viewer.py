"""`viewer`: who the caller is and what they may do, as the Catalog service's policy sees them."""

from __future__ import annotations

from enum import Enum

import strawberry

from server.catalog import domains
from server.graphql import types as t
from server.identity.policy import writable_domains
from server.identity.principal import Principal


@strawberry.enum
class Role(Enum):
    READER = "READER"
    DOMAIN_MEMBER = "DOMAIN_MEMBER"
    GOVERNANCE = "GOVERNANCE"
    ADMIN = "ADMIN"


@strawberry.type(description="Who is asking, resolved from the bearer token (an OIDC JWT or an API token).")
class Viewer:
    id: strawberry.ID
    name: str
    roles: list[Role]
    principal: strawberry.Private[Principal]

    @strawberry.field(description="Domains whose products the viewer may register, change and remove.")
    async def domains(self, info: t.Info) -> list[t.Domain]:
        known = await info.context.run(domains.all_domains, info.context.store)
        rows = await info.context.loaders.domain.load_many(writable_domains(self.principal, known))
        return [t.Domain.of(row) for row in rows if row is not None]

    @classmethod
    def of(cls, principal: Principal) -> Viewer | None:
        if not principal.authenticated:
            return None
        roles = [
            Role(role.value) for role in sorted(principal.roles, key=lambda r: list(Role.__members__).index(r.value))
        ]
        return cls(id=strawberry.ID(principal.id), name=principal.name, roles=roles, principal=principal)
