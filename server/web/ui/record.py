"""The page of any other record, or of a node inside a record (a goal, a use case, an agent, a source, a port, an
SLO): its statements node by node, its lineage neighbours and what refers to it, in the catalog's own layout. The
product and domain pages draw their records with more; every IRI of the catalog still dereferences to a page."""

from __future__ import annotations

from collections.abc import Callable

import pyoxigraph as ox
from fastapi import Request
from starlette.responses import Response

from server.store.base import Store
from server.web.linked_data import CatalogLinks, build_page, find_record
from server.web.record_page import RecordPage
from server.web.ui.context import catalog_of, visibility_of
from server.web.ui.domain import RDF_FORMS
from server.web.ui.templating import render


def gather(store: Store, links: CatalogLinks, iri: str, hidden: Callable[[str], bool]) -> RecordPage | None:
    """What the page of `iri` shows; None when no record the caller may read holds it (a restricted record
    answers as if it did not exist, for each of its IRIs)."""
    try:
        ox.NamedNode(iri)
    except ValueError:  # a path no IRI of the catalog can have, e.g. with spaces or angle brackets
        return None
    if hidden(iri):
        return None
    found = find_record(store, iri)
    if found is None or hidden(found[0]):
        return None
    return build_page(store, links, iri, found[0], hidden)


async def record_page(request: Request, iri: str) -> Response:
    catalog = catalog_of(request)
    visibility = await visibility_of(request)
    links = CatalogLinks(request.app.state.settings.base)
    page = await catalog.run(gather, catalog.store, links, iri, visibility.hidden)
    if page is None:
        response = render(request, "not_found.html", status_code=404, iri=iri)
    else:
        response = render(request, "record.html", page=page, rdf_forms=RDF_FORMS)
    response.headers["Vary"] = "Accept"
    return response
