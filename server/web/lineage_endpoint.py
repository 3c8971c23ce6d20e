"""`POST /api/v1/lineage`: OpenLineage run events, as Marquez takes them, so any OpenLineage producer (Airflow,
Spark, dbt, Flink, the `openlineage-python` client's HTTP transport) can point at the catalog unchanged.

The body is one event or an array of them (JSON; `Content-Encoding: gzip` as the client's compression option sends
it), up to `VALUEMESH_MAX_BODY_BYTES` (sent and unpacked) and `VALUEMESH_LINEAGE_MAX_EVENTS` events. It is checked,
attributed and stored on a worker thread by the Catalog service (server/openlineage/observed.py), all or nothing:
201 Created, as Marquez answers, with what was done; problem JSON naming the event and the failing field otherwise.

The SLI points the stored events give (data-quality assertions, null counts, run endings: server/openlineage/
measurements.py) are then recorded as `POST /api/v1/measurements` records them, idempotent by their ids. The events
are kept even when their points are not (a point older than the retention, say): the answer says how many points
were recorded and why the others were not.
"""

from __future__ import annotations

import zlib
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from server.catalog.restrictions import EVERYTHING_VISIBLE
from server.catalog.service import Catalog
from server.errors import BadInput, ValuemeshError
from server.identity.policy import reads_everything, require_writer
from server.identity.principal import ANONYMOUS, Principal
from server.openlineage.observed import Ingested
from server.openlineage.validation import parse_events
from server.web.problems import problem

router = APIRouter()


def _unpacked(body: bytes, encoding: str, limit: int) -> bytes:
    """The body as JSON text: gzip unpacked up to `limit` bytes (a small bomb is refused, never unpacked whole)."""
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        raise BadInput(f"send the events plain or gzip-compressed, not with Content-Encoding {encoding}")
    unpacker = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
    try:
        text = unpacker.decompress(body, limit + 1)
    except zlib.error as error:
        raise BadInput(f"the gzip body cannot be unpacked: {error}") from None
    if len(text) > limit or unpacker.unconsumed_tail:
        raise BadInput(f"the unpacked body is larger than {limit} bytes, the limit of this catalog")
    return text


def _record_points(catalog: Catalog, points: list[dict[str, Any]], principal: Principal) -> dict[str, Any]:
    if not points:
        return {"recorded": 0, "duplicates": 0}
    try:
        recorded = catalog.record_measurements(points, principal)
    except ValuemeshError as error:
        return {"recorded": 0, "duplicates": 0, "refused": len(points), "reason": str(error)}
    return {"recorded": recorded.accepted, "duplicates": recorded.duplicates}


def _answer(outcome: Ingested, measurements: dict[str, Any]) -> JSONResponse:
    return JSONResponse(
        {
            "received": outcome.received,
            "stored": outcome.stored,
            "duplicates": outcome.duplicates,
            "expired": outcome.expired,
            "ignored": outcome.ignored,
            "unattributed": outcome.unattributed,
            "dataProducts": outcome.products,
            "measurements": measurements,
        },
        status_code=201,
    )


@router.post("/api/v1/lineage", status_code=201)
async def lineage(request: Request) -> JSONResponse:
    """Take OpenLineage run events in (one event or an array of them), all or nothing."""
    catalog: Catalog = request.app.state.catalog
    principal: Principal = getattr(request.state, "principal", ANONYMOUS)
    try:
        require_writer(principal)  # before reading the body: an anonymous caller is told at once
        encoding = (request.headers.get("content-encoding") or "").strip().lower()
        body = _unpacked(await request.body(), encoding, catalog.settings.max_body_bytes)
        observed = catalog.observed_lineage

        def take() -> tuple[Ingested, dict[str, Any]]:
            # GOVERNANCE and ADMIN read everything: no need to read the restrictions (re-read after every write).
            visibility = EVERYTHING_VISIBLE if reads_everything(principal) else catalog.visibility(principal)
            outcome = observed.record(parse_events(body), principal, visibility)
            return outcome, _record_points(catalog, outcome.points, principal)

        outcome, measurements = await catalog.run(take)
    except ValuemeshError as error:
        return problem(error)
    return _answer(outcome, measurements)
