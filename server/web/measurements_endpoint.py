"""`POST /api/v1/measurements`: SLI points, all or nothing per batch, as the caller (docs/measurements.md).

Body: `{"measurements": [{"slo": IRI, "time": RFC 3339 with zone, "good": int, "total": int}, ...]}`, or `"value"`
instead of the counts for an SLO with a threshold, and an optional `"id"` per point. A batch with any unusable
point is refused as problem JSON whose `errors` name each point by index with the reason; nothing of it is stored.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from server.catalog.service import Catalog
from server.errors import BadInput, ValuemeshError
from server.identity.policy import require_writer
from server.identity.principal import ANONYMOUS, Principal
from server.web.problems import problem

router = APIRouter()


def _batch(body: bytes) -> Any:
    try:
        document = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        line = getattr(error, "lineno", None)
        column = getattr(error, "colno", None)
        raise BadInput(f"the body is not JSON: {error}", source="body", line=line, column=column) from None
    if not isinstance(document, dict) or "measurements" not in document:
        raise BadInput('send a JSON object {"measurements": [...]}', source="body")
    return document["measurements"]


@router.post("/api/v1/measurements")
async def measurements(request: Request) -> JSONResponse:
    catalog: Catalog = request.app.state.catalog
    principal: Principal = getattr(request.state, "principal", ANONYMOUS)
    try:
        require_writer(principal)  # before reading the body: an anonymous caller learns nothing of the SLOs
        batch = _batch(await request.body())
        recorded = await catalog.run(catalog.record_measurements, batch, principal)
    except ValuemeshError as error:
        return problem(error)
    return JSONResponse({"accepted": recorded.accepted, "duplicates": recorded.duplicates})
