"""The HTTP API's documentation for people: Swagger UI at `/docs`, over FastAPI's OpenAPI document, from this
package's files (server/web/static/vendor/swagger-ui/; FastAPI's own page loads them from a CDN, so it stays blank
offline). The page runs no inline script: Swagger UI starts from static/api-docs.js, which reads its settings from
the page; its policy is hardening.api_docs_policy.

There is no `/redoc`: ReDoc's bundle always loads its logo from cdn.redoc.ly, and Swagger UI documents the same
operations."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import swagger_ui_default_parameters
from fastapi.responses import HTMLResponse

from server.web.ui.templating import ENVIRONMENT

DOCS_PATHS = ("/docs",)
router = APIRouter(include_in_schema=False)


@router.get("/docs", response_class=HTMLResponse)
async def swagger_ui(request: Request) -> HTMLResponse:
    openapi_url = request.app.openapi_url or "/openapi.json"
    # What FastAPI's page gives Swagger UI, without the badge its standalone layout would load from
    # validator.swagger.io (sending that service the document's URL)
    settings = {**swagger_ui_default_parameters, "url": openapi_url, "validatorUrl": None}
    template = ENVIRONMENT.get_template("swagger_ui.html")
    return HTMLResponse(template.render(title=request.app.title, openapi_url=openapi_url, settings=settings))
