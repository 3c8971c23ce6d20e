"""The pages' Jinja2 environment: autoescaped templates from this package, and what every page is given.

Every value from the graph reaches HTML through autoescaping (names and descriptions with markup render as text);
page data for scripts goes through `|tojson`, which escapes `<`, `>` and `&`, inside `<script type="application/json">`
blocks that browsers never run. Static files carry a short content hash in their URL, so a new release is never
served from a stale cache while unchanged files stay cached.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from server import __version__
from server.identity.principal import ANONYMOUS, Principal
from server.web.linked_data import CatalogLinks
from server.web.sessions import csrf_token

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
STATIC_PATH = "/static/"

# The pages of the navigation bar, in order: (path, label).
NAVIGATION = (
    ("/", "Catalog"),
    ("/value-tree", "Value tree"),
    ("/use-cases", "Use cases"),
    ("/interaction-map", "Interaction map"),
    ("/overlaps", "Overlaps"),
    ("/register", "Register"),
    ("/graphql", "GraphQL"),
)


@cache
def _fingerprint(relative: str) -> str:
    return hashlib.sha256((STATIC_DIR / relative).read_bytes()).hexdigest()[:12]


def static_url(relative: str) -> str:
    """The URL of a file under server/web/static/, with its content hash as a query (immutable caching)."""
    return f"{STATIC_PATH}{relative}?v={_fingerprint(relative)}"


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("server.web.ui", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,  # a misspelt variable fails the test that renders it, not silently empty
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(static=static_url, navigation=NAVIGATION, version=__version__)
    return env


ENVIRONMENT = _environment()


def principal_of(request: Request) -> Principal:
    return getattr(request.state, "principal", None) or ANONYMOUS


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page: the template rendered with the caller, the current path (for the navigation) and `context`.

    `href(iri)` is where a page links an IRI (a path of this server for the catalog's own IRIs, the IRI for other
    web IRIs, None for the rest, which are shown and never linked); `curie(iri)` a short name for it."""
    links = CatalogLinks(request.app.state.settings.base)
    sessions = "session" in request.scope  # browser sign-in is configured (server/web/sign_in.py)
    page = ENVIRONMENT.get_template(template).render(
        viewer=principal_of(request),
        signed_in=principal_of(request) is not ANONYMOUS,
        sign_in_enabled=sessions,
        csrf_token=csrf_token(request) if sessions else "",
        current_path=request.url.path,
        href=links.local_href,
        curie=links.curie,
        **context,
    )
    return HTMLResponse(page, status_code=status_code)
