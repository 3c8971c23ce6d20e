"""From an `Authorization` header to a principal: API tokens (`vmt_...`) and OIDC access tokens (JWTs).

No header is the anonymous reader (or, with `VALUEMESH_ANONYMOUS_WRITES=1` on loopback, an anonymous writer).
A header that does not hold (malformed, unknown, expired, revoked, forged) is refused, never read as anonymous.
"""

from __future__ import annotations

from typing import Protocol

from server.errors import Unauthenticated
from server.identity.principal import ANONYMOUS, ANONYMOUS_WRITER, Principal
from server.identity.tokens import PREFIX, ApiTokens
from server.settings import Settings
from server.store.base import Store


class TokenVerifier(Protocol):
    """Checks a bearer JWT (signature, issuer, audience, times) and maps its claims to a principal."""

    def verify(self, token: str) -> Principal: ...


class Authenticator:
    def __init__(self, settings: Settings, store: Store, oidc: TokenVerifier | None = None) -> None:
        self.settings = settings
        self.tokens = ApiTokens(store)
        self.oidc = oidc

    def anonymous(self) -> Principal:
        return ANONYMOUS_WRITER if self.settings.anonymous_writes else ANONYMOUS

    def current(self, principal: Principal) -> Principal:
        """A browser session's principal with its graph memberships as they are now (blocking: it reads the store)."""
        with_memberships = getattr(self.oidc, "with_memberships", None)
        return with_memberships(principal) if with_memberships is not None else principal

    def principal(self, authorization: str | None) -> Principal:
        """The principal of a request's `Authorization` header (blocking: it may read the store or the issuer)."""
        if authorization is None or not authorization.strip():
            return self.anonymous()
        scheme, _, credentials = authorization.strip().partition(" ")
        credentials = credentials.strip()
        if scheme.lower() != "bearer" or not credentials:
            raise Unauthenticated("the Authorization header must be `Bearer <token>`")
        if credentials.startswith(PREFIX):
            return self.tokens.principal(credentials)
        if self.oidc is None:
            raise Unauthenticated(
                "this catalog accepts no OIDC tokens (VALUEMESH_OIDC_ISSUER is not set); use an API token"
            )
        return self.oidc.verify(credentials)
