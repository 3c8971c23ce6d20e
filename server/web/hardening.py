"""HTTP hardening in front of every face: which `Host` is served, how large a body may be, what each response says
about itself to browsers (CSP, nosniff, referrer, framing).

Pure ASGI middlewares (no `BaseHTTPMiddleware`): the body limit must act on the byte stream before anything reads
the body whole, and the headers are added to the response start without touching the body.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from ipaddress import ip_address
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.settings import Settings

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
_LOOPBACK_BINDS = {"localhost", "127.0.0.1", "::1", "[::1]"}
_ANY_ADDRESS = {"0.0.0.0", "::", "[::]", ""}
ANY_HOST = "*"

# Every response but the GraphiQL and API docs pages: nothing loads from elsewhere, no script or style runs inline (the pages' scripts
# and stylesheet are files under /static/), nothing frames us.
_STRICT_POLICY = (
    "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


# --- public URLs ---------------------------------------------------------------------------------------------


def public_url(settings: Settings, path: str) -> str:
    """The URL of a path of this server as the world sees it: the origin of `VALUEMESH_BASE`, never the request's
    `Host` (the linked-data pages serve `{base}kind/slug` at the base's path, so the server's root is the base's
    origin)."""
    parts = urlsplit(settings.base)
    return f"{parts.scheme}://{parts.netloc}/{path.lstrip('/')}"


def sparql_endpoint_url(settings: Settings) -> str:
    """The `sd:endpoint` of the SPARQL service description."""
    return public_url(settings, "sparql")


# --- problem responses ---------------------------------------------------------------------------------------


async def _send_problem(send: Send, status: int, title: str, detail: str) -> None:
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail}).encode()
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),  # the rest of a refused body is never read
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


# --- Host ----------------------------------------------------------------------------------------------------


def _bracketed(address: str) -> str:
    return f"[{address}]" if ":" in address and not address.startswith("[") else address


def is_loopback(host: str) -> bool:
    """Whether a bind address reaches only this machine."""
    if host in _LOOPBACK_BINDS:
        return True
    try:
        return ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def allowed_hosts(settings: Settings) -> frozenset[str] | None:
    """The host names this server answers to, or None for any (`VALUEMESH_ALLOWED_HOSTS=*`).

    By default: the loopback names, the host of `VALUEMESH_BASE`, and the address `serve` is bound to when it is a
    specific one. A page on another site that rebinds its own name to this machine sends that name, and is refused."""
    if settings.allowed_hosts is not None:
        names = {name.strip().lower().rstrip(".") for name in settings.allowed_hosts if name.strip()}
        return None if ANY_HOST in names else frozenset(names)
    names = set(LOOPBACK_NAMES)
    base_host = urlsplit(settings.base).hostname
    if base_host:
        names.add(_bracketed(base_host.lower()))
    bind = settings.host.strip().lower()
    if bind not in _LOOPBACK_BINDS and bind not in _ANY_ADDRESS:
        names.add(_bracketed(bind))
    return frozenset(names)


def host_name(header: str | None) -> str | None:
    """The host of a `Host` header, lower case, without port or trailing dot; None when it is not a host."""
    if not header:
        return None
    header = header.strip().lower()
    if header.startswith("["):  # an IPv6 literal, with or without a port
        end = header.find("]")
        rest = header[end + 1 :]
        if end < 0 or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return None
        try:
            ip_address(header[1:end])
        except ValueError:
            return None
        return header[: end + 1]
    name, _, port = header.partition(":")
    if (port and not port.isdigit()) or not re.fullmatch(r"[a-z0-9_.\-]+", name):
        return None
    return name.rstrip(".") or None


class TrustedHosts:
    """Answers 400 (problem JSON) to any request whose `Host` is not one this server is configured to answer to."""

    def __init__(self, app: ASGIApp, hosts: frozenset[str] | None) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.hosts is None or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        raw = _header(scope, b"host")
        name = host_name(raw)
        if name is not None and name in self.hosts:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        shown = (raw or "")[:100]
        await _send_problem(
            send,
            400,
            "Unknown host",
            f"this server does not answer to the host {shown!r}; it answers to {', '.join(sorted(self.hosts))}. "
            "Its operator can add names with VALUEMESH_ALLOWED_HOSTS",
        )


# --- body size -----------------------------------------------------------------------------------------------


class _BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """Answers 413 (problem JSON) to a request body over `max_bytes`: at once from `Content-Length`, and for a body
    sent without one (chunked) as soon as the bytes received pass the limit, so no more than that is ever held."""

    def __init__(self, app: ASGIApp, max_bytes: int, larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = larger or {}  # paths whose bodies are spooled to disk, with their own limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope["path"], self.max_bytes)

        def detail(size: str) -> str:
            return f"the request body is {size}; this server accepts at most {limit} bytes here"

        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await _send_problem(send, 413, "Request body too large", detail(f"{int(declared)} bytes"))
            return

        received = 0
        refused = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, refused
            if refused:  # the app asks again after the refusal: the client is, as far as it is concerned, gone
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:  # whatever the app makes of the interrupted body, the client gets the 413
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not refused:  # only what the interrupted body caused (ours, or however the app wrapped it) ends here
                raise
        if refused and not started:
            await _send_problem(send, 413, "Request body too large", detail(f"over {limit} bytes"))


# --- security headers ----------------------------------------------------------------------------------------


def page_policy() -> str:
    """The policy of every page and response: scripts and stylesheets from this server only, nothing inline."""
    return _STRICT_POLICY


def graphiql_policy() -> str:
    """What the GraphiQL page needs, and no more: its scripts and stylesheets from this server (vendored, see
    scripts/vendor-assets.sh), no inline script, requests to this server only; its stylesheet embeds its fonts and
    icons as data: URLs. Inline styles are allowed because GraphiQL's dialogs (settings, keyboard shortcuts) lock the
    page's scrolling by writing a <style> element at run time (react-remove-scroll-bar); without 'unsafe-inline' the
    browser refuses it each time a dialog opens. (Style attributes set from script, as React sets them, are not
    subject to the policy: only that element needs it.)"""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    )


def api_docs_policy() -> str:
    """What the HTTP API's documentation page needs (Swagger UI at /docs, server/web/api_docs.py): the strict policy,
    and the data: URLs its stylesheet embeds its icons as. Its script and stylesheet come from this server (vendored),
    it runs no inline script and writes no <style> element; it asks this server only (the OpenAPI document, and the
    calls "Try it out" makes)."""
    return _STRICT_POLICY.replace("script-src 'self';", "script-src 'self'; img-src 'self' data:;")


class SecurityHeaders:
    """Adds `Content-Security-Policy`, `X-Content-Type-Options`, `X-Frame-Options` and `Referrer-Policy` to every
    response; an HTML page at one of `page_policies`' paths (GraphiQL, the API docs) gets that policy instead. An
    answer over https also says `Strict-Transport-Security`, so the browser never again reaches the catalog (or sends
    its session) in clear."""

    def __init__(self, app: ASGIApp, policy: str, page_policies: Mapping[str, str]) -> None:
        self.app = app
        self.policy = policy.encode()
        self.page_policies = {path.rstrip("/"): value.encode() for path, value in page_policies.items()}
        self.always = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY")]
        self.always.append((b"referrer-policy", b"no-referrer"))
        self.over_https = [*self.always, (b"strict-transport-security", b"max-age=31536000")]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {key.lower() for key, _ in headers}
                content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                own = self.page_policies.get(scope["path"].rstrip("/"))
                if own is None or not content_type.startswith(b"text/html"):
                    own = self.policy
                for name, value in (
                    (b"content-security-policy", own),
                    *(self.over_https if scope.get("scheme") == "https" else self.always),
                ):
                    if name not in present:
                        headers.append((name, value))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
