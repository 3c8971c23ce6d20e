"""What every page needs from its request: the catalog, and what the caller may read."""

from __future__ import annotations

from fastapi import Request

from server.catalog.restrictions import Visibility
from server.catalog.service import Catalog
from server.identity.principal import Principal
from server.web.ui.templating import principal_of


def catalog_of(request: Request) -> Catalog:
    catalog: Catalog = request.app.state.catalog
    if catalog.index is not None:
        catalog.index.ready()  # the first request starts building the lineage index in the background
    return catalog


async def visibility_of(request: Request) -> Visibility:
    """What the caller may read, as GraphQL decides it (restricted products are absent for outsiders)."""
    catalog = catalog_of(request)
    principal: Principal = principal_of(request)
    known = catalog.cached_restrictions()  # current without a store question: no thread needed
    if known is not None:
        return known.visibility(principal)
    return await catalog.run(catalog.visibility, principal)
