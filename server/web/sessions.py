"""Browser sessions after an OIDC sign-in (server/web/sign_in.py): a signed cookie holding who signed in, until when,
and the session's CSRF token.

The cookie is Starlette's SessionMiddleware (itsdangerous-signed JSON: readable by its holder, forgeable by no one
without `VALUEMESH_SESSION_SECRET`), HttpOnly, SameSite=Lax, Secure and `__Host-` prefixed when `VALUEMESH_BASE` is
https. A session lasts `SESSION_MAX_AGE_S` from sign-in, however much it is used. It holds what the ID token said
(roles, and domains from the groups claim): a change at the provider reaches a browser at its next sign-in. Domains
from `org:memberOf` in the graph are read again at every request (server/web/identify.py), so a membership given
or taken in the catalog counts at once.
"""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.types import Scope

from server.errors import Forbidden
from server.identity.principal import Principal, Role
from server.settings import Settings

SESSION_MAX_AGE_S = 8 * 3600
PRINCIPAL_KEY = "principal"
EXPIRES_KEY = "expires"
CSRF_KEY = "csrf"


def session_options(settings: Settings) -> dict[str, Any]:
    """The SessionMiddleware arguments for this catalog."""
    https = urlsplit(settings.base).scheme == "https"
    return {
        "secret_key": settings.session_secret,
        # `__Host-`: a browser takes this cookie only over https, for this host and path "/" (no sibling domain
        # can plant one)
        "session_cookie": "__Host-valuemesh-session" if https else "valuemesh-session",
        "max_age": SESSION_MAX_AGE_S,
        "same_site": "lax",
        "https_only": https,
    }


def start_session(session: dict[str, Any], principal: Principal, now: float | None = None) -> None:
    """Forget whatever the session held (a pending sign-in, an earlier identity) and hold `principal`."""
    session.clear()
    session[PRINCIPAL_KEY] = {
        "id": principal.id,
        "name": principal.name,
        "roles": sorted(role.value for role in principal.roles),
        "domains": sorted(principal.domains),
    }
    session[EXPIRES_KEY] = int((now or time.time()) + SESSION_MAX_AGE_S)
    session[CSRF_KEY] = secrets.token_urlsafe(32)


def signed_in(scope: Scope, now: float | None = None) -> Principal | None:
    """The principal of the request's session, or None (no session, nobody signed in, or expired: then cleared)."""
    session = scope.get("session")
    if not isinstance(session, dict) or PRINCIPAL_KEY not in session:
        return None
    held = session[PRINCIPAL_KEY]
    if not isinstance(session.get(EXPIRES_KEY), int) or session[EXPIRES_KEY] <= (now or time.time()):
        session.clear()
        return None
    return Principal(
        id=held["id"],
        name=held["name"],
        roles=frozenset(Role(role) for role in held["roles"]),
        domains=frozenset(held["domains"]),
        via="oidc",
    )


def csrf_token(request: Request) -> str:
    """The session's CSRF token, for a form's hidden `csrf` field (made when the session has none)."""
    token = request.session.get(CSRF_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[CSRF_KEY] = token
    return token


def check_csrf(request: Request, form_value: str | None) -> None:
    """Forbidden unless `form_value` is this session's CSRF token (a form another site makes cannot know it)."""
    expected = request.session.get(CSRF_KEY) if "session" in request.scope else None
    if not isinstance(expected, str) or not form_value or not secrets.compare_digest(expected, form_value):
        raise Forbidden(
            "the form's CSRF token is missing or does not match this session; reload the page and try again"
        )
