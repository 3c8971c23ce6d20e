"""API tokens through the API, for an ADMIN: a running catalog's tokens are made and revoked here, since
`valuemesh token` cannot open an embedded store that `serve` holds (`valuemesh token ... --server URL` uses these)."""

from __future__ import annotations

import strawberry

from server.catalog.iris import mint
from server.errors import Forbidden
from server.graphql import types as t
from server.graphql.viewer import Role
from server.identity.principal import Principal
from server.identity.principal import Role as PolicyRole
from server.identity.tokens import ApiToken, parse_duration


@strawberry.type(description="An API token as listed: never its secret.")
class ApiTokenInfo:
    id: strawberry.ID
    name: str
    agent: strawberry.ID
    roles: list[Role]
    domains: list[strawberry.ID]
    "ISO 8601 timestamps."
    created: str
    expires: str | None
    state: str

    @classmethod
    def of(cls, token: ApiToken, state: str) -> ApiTokenInfo:
        return cls(
            id=strawberry.ID(token.id),
            name=token.name,
            agent=strawberry.ID(token.agent),
            roles=[Role(r.value) for r in token.roles],
            domains=[strawberry.ID(d) for d in token.domains],
            created=token.created.isoformat(),
            expires=token.expires.isoformat() if token.expires else None,
            state=state,
        )


@strawberry.type(description="A new API token: `secret` is shown only in this answer.")
class CreatedApiToken:
    secret: str
    token: ApiTokenInfo


def _require_admin(principal: Principal, what: str) -> None:
    from server.identity.policy import require_writer

    require_writer(principal)
    if not principal.has(PolicyRole.ADMIN):
        raise Forbidden(f"{principal.name} may not {what}: that needs ADMIN")


async def create_api_token(
    info: t.Info,
    name: str,
    domains: list[strawberry.ID] | None = None,
    roles: list[Role] | None = None,
    agent: strawberry.ID | None = None,
    expires: str | None = None,
) -> CreatedApiToken:
    _require_admin(info.context.principal, "create API tokens")
    chosen = {PolicyRole(r.value) for r in roles or []} | {PolicyRole.READER}
    if domains:
        chosen.add(PolicyRole.DOMAIN_MEMBER)
    tokens = info.context.catalog.identity.tokens
    secret, token = await info.context.run(
        lambda: tokens.create(
            name,
            agent=str(agent) if agent else mint(info.context.settings.base, "agent", name),
            domains=[str(d) for d in domains or []],
            roles=sorted(chosen, key=list(PolicyRole).index),
            expires_in=parse_duration(expires) if expires else None,
        )
    )
    return CreatedApiToken(secret=secret, token=ApiTokenInfo.of(token, "active"))


async def revoke_api_token(info: t.Info, name: str) -> ApiTokenInfo:
    _require_admin(info.context.principal, "revoke API tokens")
    token = await info.context.run(info.context.catalog.identity.tokens.revoke, name)
    return ApiTokenInfo.of(token, "revoked")
