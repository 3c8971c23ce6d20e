"""The app factory: one FastAPI app, its faces mounted as routers over one Catalog service."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial

import anyio
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp

from server import __version__
from server.catalog.service import Catalog
from server.errors import StoreUnavailable
from server.governance.shapes import Shapes
from server.graphql.router import graphql_router
from server.settings import Settings
from server.store import OxigraphStore, Store
from server.web import (
    api_docs,
    events_feed,
    lineage_endpoint,
    load_endpoint,
    measurements_endpoint,
    sign_in,
    sparql_endpoint,
)
from server.web.hardening import (
    BodySizeLimit,
    SecurityHeaders,
    TrustedHosts,
    allowed_hosts,
    api_docs_policy,
    graphiql_policy,
    page_policy,
)
from server.web.identify import Identify
from server.web.linked_data import linked_data_router
from server.web.problems import problem
from server.web.ui.pages import record_pages, static_files, ui_router
from server.web.ui.record import record_page


class CatalogApp(FastAPI):
    """FastAPI with the security headers as its outermost layer, outside even Starlette's error middleware, so the
    500 page of an unhandled error carries them too."""

    security_headers: Callable[[ASGIApp], ASGIApp] | None = None

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        return self.security_headers(stack) if self.security_headers is not None else stack


def create_app(settings: Settings | None = None, store: Store | None = None, shapes: Shapes | None = None) -> FastAPI:
    """Build the app; the store is opened (and seeded when empty) at startup unless one is given. The shapes in
    force are `settings.shapes`, read and checked now (bad ones raise ShapesRefused), unless given already read."""
    settings = settings or Settings.from_env()

    catalog = Catalog(settings, store, shapes)
    if store is not None:
        catalog.open()  # a store of the caller's is ready at once

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if store is None:
            await anyio.to_thread.run_sync(catalog.open)  # opening and seeding take a while: not on the loop
        try:
            await anyio.to_thread.run_sync(catalog.start_webhooks)
        except BaseException:
            catalog.close()  # misconfigured: nothing of the catalog keeps running
            raise
        app.state.store = catalog.store
        sparql_endpoint.start_query_workers(app)
        catalog.start_workers()
        catalog.start_conformance_check()
        try:
            yield
        finally:
            sparql_endpoint.stop_query_workers(app)
            catalog.close()

    # The API docs pages are server/web/api_docs.py's: FastAPI's load their scripts from a CDN.
    app = CatalogApp(title="valuemesh", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.catalog = catalog

    @app.exception_handler(StoreUnavailable)
    async def store_unavailable(request: Request, error: StoreUnavailable) -> JSONResponse:
        """Any face whose store does not answer: 503, and the next request tries the store again."""
        return problem(error)

    if store is not None:
        app.state.store = catalog.store
    graphql = graphql_router(settings)
    app.include_router(graphql, prefix="/graphql")

    @app.get("/healthz")
    def healthz(request: Request) -> JSONResponse:
        """Liveness and store reachability, for reads and writes (a full disk is unavailable until writes succeed)."""
        current: Catalog = request.app.state.catalog
        try:
            backend = current.backend
            backend.ask("ASK { }")
            cannot_write = backend.write_problem() if isinstance(backend, OxigraphStore) else None
        except StoreUnavailable as error:
            return JSONResponse({"status": "unavailable", "detail": str(error)}, status_code=503)
        halted = getattr(current.store, "halted", None)  # a load that could not put the store back: said first
        if halted is not None:
            cannot_write = halted
        if cannot_write is not None:
            detail = f"the store answers reads but cannot write: {cannot_write}"
            return JSONResponse({"status": "unavailable", "detail": detail}, status_code=503)
        index = current.index
        copy = current.records_copy()  # a remote store's records, copied for SPARQL (catalog/records_copy.py)
        return JSONResponse(
            {
                "status": "ok",
                "store": backend.location.partition(":")[0],  # its kind; where it lives is the server's business
                "version": __version__,
                "lineage_index": index.state if index is not None else "not used",
                "sparql_records_copy": copy.state if copy is not None else "not used",
                "checklists": current.checklists.state,  # "filling" while verdicts are judged ahead
                "stored_conformance": current.stored_conformance.to_json(),
            }
        )

    app.include_router(sparql_endpoint.router)
    app.include_router(load_endpoint.router)
    app.include_router(measurements_endpoint.router)
    app.include_router(lineage_endpoint.router)
    app.include_router(events_feed.router)
    app.include_router(linked_data_router(settings, record_pages(), record_page))
    app.include_router(ui_router())
    app.include_router(api_docs.router)
    app.mount("/static", static_files(), name="static")
    _harden(app, settings)
    return app


def _harden(app: CatalogApp, settings: Settings) -> None:
    """The HTTP hardening: headers on every answer (outermost, see CatalogApp), refusals and errors included; then
    the Host check, then the body limit (the last middleware added runs first), before any face reads a byte; then
    CORS (only for the configured origins), then the browser session (server/web/sign_in.py), then who is calling
    (server/web/identify.py)."""
    app.add_middleware(Identify, catalog=app.state.catalog)
    sign_in.install(app, settings)  # with a client id: the session cookie, read before Identify, and /auth/*
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Accept"],
        )
    app.add_middleware(
        BodySizeLimit, max_bytes=settings.max_body_bytes, larger={"/api/v1/load": settings.max_load_bytes}
    )
    app.add_middleware(TrustedHosts, hosts=allowed_hosts(settings))
    app.security_headers = partial(
        SecurityHeaders,
        policy=page_policy(),
        page_policies={"/graphql": graphiql_policy(), **dict.fromkeys(api_docs.DOCS_PATHS, api_docs_policy())},
    )
