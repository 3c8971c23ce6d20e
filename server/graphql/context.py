"""The GraphQL context of one request: the store, the settings, and fresh DataLoaders."""

from __future__ import annotations

from fastapi import Request
from strawberry.fastapi import BaseContext

from server.catalog import lineage_index
from server.graphql.loaders import Loaders
from server.settings import Settings
from server.store.base import Store


class Context(BaseContext):
    def __init__(self, store: Store, settings: Settings) -> None:
        super().__init__()
        self.store = store
        self.settings = settings
        self.loaders = Loaders(store)

    def after_write(self) -> None:
        """Forget what this request has read: a mutation changed the store."""
        self.loaders = Loaders(self.store)


async def get_context(request: Request) -> Context:
    store = request.app.state.store
    index = lineage_index.for_store(store)
    if index is not None:
        index.ready()  # the first request starts building the lineage index in the background
    return Context(store, request.app.state.settings)
