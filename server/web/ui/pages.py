"""The UI's routes: each page lives in its own module with its own `router`; this one puts them together and
serves the static files they use (context.py gives each page the catalog and what its caller may read)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from server.web.linked_data import RecordPageMaker
from server.web.ui import home, interaction_map, overlaps, register, use_cases, value_tree
from server.web.ui.domain import domain_record_page
from server.web.ui.product import product_page
from server.web.ui.templating import STATIC_DIR


class _Static(StaticFiles):
    """A file asked for by its fingerprinted URL (`?v=`, templating.static_url) never changes: cached for a year."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        scope = args[2] if len(args) > 2 else kwargs.get("scope", {})
        if b"v=" in scope.get("query_string", b""):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


def static_files() -> StaticFiles:
    """server/web/static/ at /static/: the stylesheet, the drawing script, the vendored libraries."""
    return _Static(directory=STATIC_DIR, follow_symlink=False)


def record_pages() -> dict[str, RecordPageMaker]:
    """The UI's page for each record kind that has its own; `record_page` (server/web/ui/record.py) draws the rest."""
    return {"data-product": product_page, "domain": domain_record_page}


def ui_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    for page in (home, value_tree, use_cases, interaction_map, overlaps, register):
        router.include_router(page.router)
    return router
