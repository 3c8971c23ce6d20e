"""Who is calling, settled once per request before any face runs: the principal goes in `request.state.principal`.

A browser signed in with the OIDC provider (server/web/sign_in.py) is identified by its session cookie when it
sends no `Authorization` header. Credentials that do not hold are refused here with 401 (as a GraphQL error on
`/graphql`, problem JSON elsewhere) and `WWW-Authenticate: Bearer`; with `VALUEMESH_READ=authenticated`, so is
every request without credentials, except the health check and the sign-in routes. It also refuses cross-site
writes before they reach GraphQL: a POST to `/graphql` must be `application/json` (or
`application/graphql-response+json`), which a form or a `text/plain` fetch cannot send without a CORS preflight
the server does not grant.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

from server.catalog.service import Catalog
from server.errors import Unauthenticated
from server.identity.principal import Principal
from server.web.sessions import signed_in
from server.web.sign_in import SIGN_IN_PATHS

# Answered to anyone, even where reads need an identity (signing in must be possible).
OPEN_PATHS = ("/healthz", *SIGN_IN_PATHS)
GRAPHQL_BODY_TYPES = ("application/json", "application/graphql-response+json")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


async def _refuse(scope: Scope, send: Send, status: int, code: str, message: str) -> None:
    headers = [(b"connection", b"close")]
    if scope["path"].startswith("/graphql"):
        body = json.dumps({"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}).encode()
        headers.append((b"content-type", b"application/json"))
    else:
        title = {401: "Unauthenticated", 415: "Unsupported media type"}.get(status, "Refused")
        body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": message}).encode()
        headers.append((b"content-type", b"application/problem+json"))
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="valuemesh"'))
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Identify:
    def __init__(self, app: ASGIApp, catalog: Catalog) -> None:
        self.app = app
        self.catalog = catalog

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            # No face speaks WebSocket; one would be outside CORS and the checks below.
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path.startswith("/graphql") and scope["method"] == "POST":
            media_type = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
            if media_type not in GRAPHQL_BODY_TYPES:
                await _refuse(
                    scope,
                    send,
                    415,
                    "BAD_INPUT",
                    f"a GraphQL POST must be application/json, not {media_type or 'without a Content-Type'} "
                    "(forms and text/plain are refused: they could be sent by another site)",
                )
                return
        authorization = _header(scope, b"authorization")
        try:
            # No Authorization header: a browser signed in (server/web/sign_in.py) carries its session instead.
            session_principal = signed_in(scope) if authorization is None else None
            if session_principal is not None:
                principal: Principal = await self.catalog.run(self.catalog.identity.current, session_principal)
            else:
                principal = await self.catalog.authenticate(authorization)
        except Unauthenticated as error:
            await _refuse(scope, send, 401, error.code, str(error))
            return
        if (
            self.catalog.settings.read_access == "authenticated"
            and not principal.authenticated
            and path not in OPEN_PATHS
        ):
            await _refuse(scope, send, 401, "UNAUTHENTICATED", "this catalog is read only by identified callers")
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)
