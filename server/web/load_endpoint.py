"""`POST /api/v1/load`: records in bulk (N-Quads, TriG, Turtle...) through a running catalog, validated, all or
nothing, as the caller (`valuemesh load --server` sends its batch here).

The body is spooled to a temporary file as it arrives (never held whole), up to `VALUEMESH_MAX_LOAD_BYTES`; then the
Catalog service reads and writes it on a worker thread exactly as `valuemesh load` does on the server's machine.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from server.catalog.service import Catalog
from server.errors import BadInput, ValuemeshError
from server.identity.policy import require_writer
from server.identity.principal import ANONYMOUS, Principal
from server.rdf_io import FORMATS_BY_SUFFIX
from server.web.problems import problem

router = APIRouter()

# Media type -> the file suffix the readers know it by.
SUFFIX_OF = {
    "application/n-quads": ".nq",
    "application/trig": ".trig",
    "text/turtle": ".ttl",
    "application/n-triples": ".nt",
    "application/ld+json": ".jsonld",
    "application/rdf+xml": ".rdf",
}


@router.post("/api/v1/load")
async def load(request: Request) -> JSONResponse:
    catalog: Catalog = request.app.state.catalog
    principal: Principal = getattr(request.state, "principal", ANONYMOUS)
    try:
        require_writer(principal)
        media_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
        suffix = SUFFIX_OF.get(media_type)
        if suffix is None or suffix not in FORMATS_BY_SUFFIX:
            raise BadInput(f"send the records as one of {', '.join(SUFFIX_OF)}, not {media_type or 'no Content-Type'}")
        with tempfile.TemporaryDirectory(prefix="valuemesh-upload-") as workdir:
            path = Path(workdir) / f"batch{suffix}"
            with path.open("wb") as spool:
                async for chunk in request.stream():
                    await anyio.to_thread.run_sync(spool.write, chunk)
            outcome = await catalog.run(catalog.load_files, [path], principal)
    except ValuemeshError as error:
        return problem(error)
    return JSONResponse(
        {
            "added": outcome.added,
            "replaced": outcome.replaced,
            "unchanged": len(outcome.unchanged),
            "warnings": [w.message for w in outcome.report.warnings],
        }
    )
