"""The GraphQL context of one request: the Catalog service, and fresh DataLoaders."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from strawberry.fastapi import BaseContext

from server.catalog.lineage_index import LineageIndex
from server.catalog.restrictions import Unknown, Visibility
from server.catalog.service import Catalog
from server.graphql.loaders import Loaders
from server.identity.principal import ANONYMOUS, Principal
from server.settings import Settings
from server.store.base import Store

T = TypeVar("T")


class Context(BaseContext):
    def __init__(
        self, catalog: Catalog, principal: Principal = ANONYMOUS, visibility: Visibility | None = None
    ) -> None:
        super().__init__()
        self.catalog = catalog
        self.principal = principal  # who is asking (server/web/identify.py settled it)
        self.store: Store = catalog.store
        self.index: LineageIndex | None = catalog.index
        self.settings: Settings = catalog.settings
        # What the caller may not read (restricted records): every resolver answers as if it were absent.
        self.visibility = visibility if visibility is not None else catalog.visibility(principal)
        self.loaders = Loaders(catalog, self.visibility)

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """Store work, off the event loop (see Catalog.run)."""
        return await self.catalog.run(work, *args)

    def after_write(self) -> None:
        """Forget what this request has read: a mutation changed the store."""
        self.loaders = Loaders(self.catalog, self.visibility)


async def get_context(request: Request) -> Context:
    catalog: Catalog = request.app.state.catalog
    if catalog.index is not None:
        catalog.index.ready()  # the first request starts building the lineage index in the background
    principal = getattr(request.state, "principal", ANONYMOUS)
    known = catalog.cached_restrictions()  # current without a store question: no thread needed
    try:
        visibility = (
            known.visibility(principal) if known is not None else await catalog.run(catalog.visibility, principal)
        )
    except Exception as error:
        visibility = Unknown(error)
    return Context(catalog, principal, visibility)
