"""Browser sign-in with the OIDC provider: the authorization code flow with PKCE (the request and challenge made by
Authlib's RFC 6749 and RFC 7636 functions), then a session cookie
(server/web/sessions.py).

- `GET /auth/login?next=/path` sends the browser to the provider with a fresh `state`, `nonce` and S256
  `code_challenge`, remembered in the (signed) session for `SIGN_IN_TIMEOUT_S`;
- `GET /auth/callback` takes the provider's answer back: the state must be the one this browser was sent with, the
  code is exchanged at the token endpoint with the PKCE verifier, and the ID token is checked as bearer tokens are
  (server/identity/oidc.py: signature, issuer, times) for this client's audience and the sign-in's nonce; then the
  session holds the caller and the browser goes to `next`, a path of this server only (never another site);
- `POST /auth/logout` with the session's CSRF token (form field `csrf` or header `X-CSRF-Token`) ends the session;
- `GET /auth/session` says who is signed in, with the CSRF token a page's forms need.

On with `VALUEMESH_OIDC_CLIENT_ID` (and `VALUEMESH_SESSION_SECRET`, required with it).
"""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.middleware.sessions import SessionMiddleware

from server.catalog.service import Catalog
from server.errors import BadInput, Forbidden, Unauthenticated
from server.identity.oidc import OidcVerifier
from server.identity.oidc_keys import HTTP_TIMEOUT_S, IssuerUnreachable, secure_url
from server.identity.principal import Principal
from server.settings import Settings
from server.web.hardening import public_url
from server.web.problems import problem_response
from server.web.sessions import check_csrf, csrf_token, session_options, signed_in, start_session

SIGN_IN_TIMEOUT_S = 600  # from leaving for the provider to coming back
PENDING_KEY = "sign_in"
SCOPES = "openid profile email"
MIN_SECRET_CHARS = 32
SIGN_IN_PATHS = ("/auth/login", "/auth/callback", "/auth/logout", "/auth/session")


def check_settings(settings: Settings) -> None:
    """BadInput (the catalog does not start) unless browser sign-in can work safely as configured."""
    if not settings.oidc_issuer:
        raise BadInput("VALUEMESH_OIDC_CLIENT_ID needs VALUEMESH_OIDC_ISSUER, the provider browsers sign in with")
    if not settings.session_secret or len(settings.session_secret) < MIN_SECRET_CHARS:
        raise BadInput(
            f"VALUEMESH_SESSION_SECRET must be set with VALUEMESH_OIDC_CLIENT_ID, at least {MIN_SECRET_CHARS} "
            "characters: it signs the session cookies (make one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )
    if not secure_url(settings.base):
        raise BadInput(
            f"browser sign-in needs VALUEMESH_BASE to be the https URL browsers reach this catalog at (plain http "
            f"only on a loopback address), not {settings.base!r}: session cookies must not cross the network in clear"
        )


def install(app: FastAPI, settings: Settings) -> None:
    """The sign-in routes and the session cookie, when a client id is configured (call after Identify is added:
    the session must be read before Identify looks for a principal in it)."""
    if not settings.oidc_client_id:
        return
    check_settings(settings)
    app.add_middleware(SessionMiddleware, **session_options(settings))
    app.include_router(sign_in_router(settings))


def safe_next(value: str | None) -> str:
    """`value` when it is a path of this server, else "/": a sign-in never sends the browser to another site."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ord(c) < 0x21 or c == "\x7f" for c in value):
        return "/"
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else "/"


def _problem(status: int, title: str, detail: str) -> JSONResponse:
    return problem_response(status, title, detail, {"Cache-Control": "no-store"})


def _verifier(request: Request) -> OidcVerifier:
    verifier = request.app.state.catalog.identity.oidc
    assert isinstance(verifier, OidcVerifier)  # check_settings: a client id comes with an issuer
    return verifier


def _endpoint(discovery: dict[str, Any], name: str, issuer: str) -> str:
    url = discovery.get(name)
    if not isinstance(url, str) or not secure_url(url):
        raise IssuerUnreachable(f"the issuer {issuer} names no https `{name}` in its discovery document")
    return url


def authorization_url(settings: Settings, endpoint: str, *, state: str, nonce: str, code_verifier: str) -> str:
    """Where the browser goes to sign in: the code flow, with the S256 challenge of `code_verifier`."""
    return str(
        prepare_grant_uri(
            endpoint,
            client_id=settings.oidc_client_id,
            response_type="code",
            redirect_uri=public_url(settings, "auth/callback"),
            scope=SCOPES,
            state=state,
            nonce=nonce,
            code_challenge=create_s256_code_challenge(code_verifier),
            code_challenge_method="S256",
        )
    )


def _exchange(settings: Settings, token_endpoint: str, code: str, code_verifier: str) -> dict[str, Any]:
    """The token endpoint's answer to the code (RFC 6749 4.1.3, with the PKCE verifier); a confidential client
    authenticates with HTTP Basic (client_secret_basic), a public one names itself in the body."""
    assert settings.oidc_client_id is not None
    body = prepare_token_request(
        "authorization_code",
        code=code,
        redirect_uri=public_url(settings, "auth/callback"),
        code_verifier=code_verifier,
        client_id=None if settings.oidc_client_secret else settings.oidc_client_id,
    )
    auth: httpx.Auth | None = None
    if settings.oidc_client_secret:  # RFC 6749 2.3.1: both form-encoded before Basic
        auth = httpx.BasicAuth(quote(settings.oidc_client_id, safe=""), quote(settings.oidc_client_secret, safe=""))
    try:
        with httpx.Client(timeout=HTTP_TIMEOUT_S, follow_redirects=False, auth=auth) as client:
            response = client.post(
                token_endpoint,
                content=body,
                headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
            )
        answer = response.json()
    except (httpx.HTTPError, ValueError) as error:
        raise IssuerUnreachable(
            f"cannot reach the identity provider's token endpoint ({type(error).__name__}); try again later"
        ) from None
    if not isinstance(answer, dict):
        raise IssuerUnreachable("the identity provider's token endpoint answered something other than JSON")
    if response.status_code != 200 or "error" in answer:
        refusal = str(answer.get("error"))[:100]
        if refusal == "invalid_client":
            raise Unauthenticated(
                "the identity provider does not accept this catalog's client credentials (invalid_client): its "
                "operator should check VALUEMESH_OIDC_CLIENT_ID and VALUEMESH_OIDC_CLIENT_SECRET"
            )
        raise Unauthenticated(
            f"the identity provider refused the sign-in code ({refusal}: a code is used once and expires quickly); "
            "sign in again"
        )
    return answer


def _finish(settings: Settings, verifier: OidcVerifier, code: str, pending: dict[str, Any]) -> Principal:
    """Exchange the code (with the PKCE verifier) and check the ID token (blocking: it asks the provider)."""
    token_endpoint = _endpoint(verifier.keys.discovery(), "token_endpoint", verifier.issuer)
    token = _exchange(settings, token_endpoint, code, pending["verifier"])
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise Unauthenticated("the identity provider answered without an ID token (is the `openid` scope allowed?)")
    assert settings.oidc_client_id is not None
    return verifier.verify_id_token(id_token, audience=settings.oidc_client_id, nonce=pending["nonce"])


def sign_in_router(settings: Settings) -> APIRouter:
    router = APIRouter(prefix="/auth")

    @router.get("/login")
    async def login(request: Request, next_path: str | None = Query(None, alias="next")) -> Response:
        """Send the browser to the provider to sign in; it comes back to /auth/callback."""
        catalog: Catalog = request.app.state.catalog
        verifier = _verifier(request)
        try:
            discovery = await catalog.run(verifier.keys.discovery)
            endpoint = _endpoint(discovery, "authorization_endpoint", verifier.issuer)
        except IssuerUnreachable as error:
            return _problem(502, "Identity provider unavailable", str(error))
        state, nonce, code_verifier = (secrets.token_urlsafe(32) for _ in range(3))
        url = authorization_url(settings, endpoint, state=state, nonce=nonce, code_verifier=code_verifier)
        request.session[PENDING_KEY] = {
            "state": state,
            "nonce": nonce,
            "verifier": code_verifier,
            "next": safe_next(next_path),
            "started": int(time.time()),
        }
        return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})

    @router.get("/callback")
    async def callback(request: Request) -> Response:
        """The provider's answer: check it, exchange the code, check the ID token, start the session."""
        pending = request.session.pop(PENDING_KEY, None)  # one answer per sign-in, whatever it is
        state = request.query_params.get("state", "")
        if (
            not isinstance(pending, dict)
            or not secrets.compare_digest(state.encode(), str(pending.get("state", "")).encode())
            or time.time() - pending.get("started", 0) > SIGN_IN_TIMEOUT_S
        ):
            return _problem(
                400,
                "Sign-in not recognised",
                "this sign-in was not started in this browser, was already finished, or took longer than "
                f"{SIGN_IN_TIMEOUT_S // 60} minutes; start again at /auth/login",
            )
        if "error" in request.query_params:
            described = request.query_params.get("error_description") or request.query_params["error"]
            return _problem(401, "Sign-in refused", f"the identity provider refused the sign-in: {described[:300]}")
        code = request.query_params.get("code")
        if not code:
            return _problem(400, "Sign-in not recognised", "the identity provider sent no code back")
        catalog: Catalog = request.app.state.catalog
        try:
            principal = await catalog.run(_finish, settings, _verifier(request), code, pending)
        except IssuerUnreachable as error:
            return _problem(502, "Identity provider unavailable", str(error))
        except Unauthenticated as error:
            return _problem(401, "Sign-in refused", str(error))
        start_session(request.session, principal)
        return RedirectResponse(pending["next"], status_code=303, headers={"Cache-Control": "no-store"})

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        """End the session; the form must carry the session's CSRF token (field `csrf`, or `X-CSRF-Token`)."""
        form_value = request.headers.get("x-csrf-token")
        if form_value is None:
            media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if media_type == "application/x-www-form-urlencoded":
                form = parse_qs((await request.body()).decode("utf-8", "replace"))
                form_value = next(iter(form.get("csrf", [])), None)
        try:
            check_csrf(request, form_value)
        except Forbidden as error:
            return _problem(403, "Forbidden", str(error))
        request.session.clear()
        return RedirectResponse("/", status_code=303, headers={"Cache-Control": "no-store"})

    @router.get("/session")
    async def session(request: Request) -> JSONResponse:
        """Who is signed in in this browser, and the CSRF token its forms carry."""
        if signed_in(request.scope) is None:
            return JSONResponse({"signedIn": False}, headers={"Cache-Control": "no-store"})
        principal = request.state.principal  # as of now: the session's, with the graph's memberships read again
        return JSONResponse(
            {
                "signedIn": True,
                "id": principal.id,
                "name": principal.name,
                "roles": sorted(role.value for role in principal.roles),
                "domains": sorted(principal.domains),
                "csrfToken": csrf_token(request),
            },
            headers={"Cache-Control": "no-store"},
        )

    return router
