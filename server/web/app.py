"""The app factory: one FastAPI app, its faces mounted as routers over one store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from server import __version__
from server.catalog.seeding import prepare
from server.errors import StoreUnavailable
from server.settings import Settings
from server.store import Store, open_store


def create_app(settings: Settings | None = None, store: Store | None = None) -> FastAPI:
    """Build the app; the store is opened (and seeded when empty) at startup unless one is given."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = store is None
        app.state.store = store if store is not None else open_store(settings.store)
        if owned:
            prepare(app.state.store, with_seed=settings.seed)
        try:
            yield
        finally:
            if owned:
                app.state.store.close()

    app = FastAPI(title="valuemesh", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    if store is not None:
        app.state.store = store

    @app.get("/healthz")
    def healthz(request: Request) -> JSONResponse:
        """Liveness and store reachability."""
        try:
            current: Store = request.app.state.store
            current.ask("ASK { }")
        except StoreUnavailable as error:
            return JSONResponse({"status": "unavailable", "detail": str(error)}, status_code=503)
        return JSONResponse({"status": "ok", "store": current.location, "version": __version__})

    return app
