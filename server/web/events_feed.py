"""`GET /api/v1/events?after=CURSOR&limit=N`: every state change of the catalog, in order (server/catalog/events.py).

Answers `{"events": [...], "cursor": "..."}`: up to `limit` events after `after` (from the first without it), oldest
first; `cursor` is the last one's (or `after` again when there is nothing new), to be sent back as `after`. Cursors
are opaque and the same on every replica of a catalog. Reading it needs what any read needs (public by default).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from server.catalog.service import Catalog
from server.errors import BadInput
from server.web.problems import problem_response

router = APIRouter()

DEFAULT_LIMIT = 100


def _problem(status: int, title: str, detail: str) -> JSONResponse:
    return problem_response(status, title, detail)


@router.get("/api/v1/events")
async def events(request: Request, after: str | None = None, limit: str | None = None) -> JSONResponse:
    catalog: Catalog = request.app.state.catalog
    largest = catalog.settings.max_page_size
    try:
        size = DEFAULT_LIMIT if limit is None else int(limit)
    except ValueError:
        size = 0
    if not 1 <= size <= largest:
        return _problem(400, "Bad request", f"limit must be a whole number from 1 to {largest}, not {limit!r}")
    try:
        page = await catalog.run(catalog.events_after, after or None, size)
    except BadInput as error:
        return _problem(400, "Bad request", str(error))
    cursor = page[-1].cursor if page else after
    return JSONResponse({"events": [event.as_json() for event in page], "cursor": cursor})
