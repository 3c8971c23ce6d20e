"""Linked data: every IRI the catalog mints under its base dereferences through the server.

`GET {base path}data-product/hcp-360` answers the record `{base}data-product/hcp-360`: an HTML page for browsers,
the record's named graph for RDF clients (Turtle, N-Triples, JSON-LD, RDF/XML by `Accept`, or `?format=`). A node
inside a record (a port, an agreement, an SLO) answers its own description. Routes exist only under the record
kinds' paths, so they never shadow `/sparql`, `/graphql` or `/healthz`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import urlsplit

import pyoxigraph as ox
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from rdflib import Graph, Literal, URIRef
from rdflib.term import Node

from server.identity.principal import ANONYMOUS
from server.namespaces import PREFIXES, sparql_prefixes
from server.settings import Settings
from server.store import Store
from server.store.terms import to_oxigraph
from server.web.negotiation import negotiate
from server.web.problems import problem_response
from server.web.record_page import NodeSection, Property, RecordPage, Term

# The record kinds of docs/model.md, each minted as `{base}{kind}/{slug}`.
RECORD_KINDS = ("data-product", "domain", "agent", "source", "goal", "use-case")

# RDF clients get Turtle when they accept anything; browsers ask for text/html by name.
MEDIA_TYPES = ("text/turtle", "text/html", "application/n-triples", "application/ld+json", "application/rdf+xml")
ALIASES = {
    "application/x-turtle": "text/turtle",
    "application/xml": "application/rdf+xml",
    "application/json": "application/ld+json",
}
_ALTERNATES = [
    ("text/turtle", "Turtle"),
    ("application/n-triples", "N-Triples"),
    ("application/ld+json", "JSON-LD"),
    ("application/rdf+xml", "RDF/XML"),
]

# The record (named graph) that holds a node which is not a record itself.
CONTAINING_RECORD = """
SELECT ?node ?record WHERE { GRAPH ?record { ?node ?p ?o } } ORDER BY ?record LIMIT 1
"""

# A node's own statements inside its record, for RDF clients asking for a port, agreement or SLO.
NODE_DESCRIPTION = """
CONSTRUCT { ?node ?p ?o } WHERE { GRAPH ?record { ?node ?p ?o } }
"""

# Engine substitutions must be projected, so each SELECT below names its bound variables (?record, ?node).

# Every statement of the record (or of one node when ?node is bound), with the labels of predicates and values from
# anywhere in the catalog (the ontology's graph labels our terms).
STATEMENTS = (
    sparql_prefixes()
    + """
SELECT ?record ?node ?p ?o (SAMPLE(?pl) AS ?pLabel) (SAMPLE(?ol) AS ?oLabel) (SAMPLE(?nl) AS ?nodeLabel) WHERE {
  GRAPH ?record { ?node ?p ?o }
  OPTIONAL { ?p rdfs:label ?pl }
  OPTIONAL { ?o rdfs:label ?ol }
  OPTIONAL { ?node rdfs:label ?nl }
}
GROUP BY ?record ?node ?p ?o
ORDER BY ?node ?p ?o
"""
)

# One step of lineage each way: the products and sources whose output the record's input ports consume, and the
# products that consume the record's output ports (or the record itself, when it is a data source).
UPSTREAM = (
    sparql_prefixes()
    + """
SELECT ?record ?neighbour (SAMPLE(?l) AS ?label) WHERE {
  # A UNION, not the path `vm:consumes/(^dprod:outputPort)?`: Virtuoso 7 answers that path with nothing once its
  # end is bound.
  { ?record dprod:inputPort/vm:consumes ?neighbour } UNION { ?record dprod:inputPort/vm:consumes/^dprod:outputPort ?neighbour }
  ?neighbour a ?kind . VALUES ?kind { dprod:DataProduct vm:DataSource }
  OPTIONAL { ?neighbour rdfs:label ?l }
}
GROUP BY ?record ?neighbour ORDER BY ?label
"""
)
DOWNSTREAM = (
    sparql_prefixes()
    + """
SELECT ?record ?neighbour (SAMPLE(?l) AS ?label) WHERE {
  { ?neighbour dprod:inputPort/vm:consumes ?record } UNION { ?neighbour dprod:inputPort/vm:consumes/^dprod:outputPort ?record }
  ?neighbour a dprod:DataProduct .
  OPTIONAL { ?neighbour rdfs:label ?l }
}
GROUP BY ?record ?neighbour ORDER BY ?label
"""
)

# Statements in other records that point at this one: use cases served by a product, products of a domain ...
# (not the catalog's own graphs: the versions and events that name the record).
REFERENCED_BY = (
    sparql_prefixes()
    + """
SELECT ?record ?node ?p (SAMPLE(?nl) AS ?nodeLabel) (SAMPLE(?pl) AS ?pLabel) WHERE {
  GRAPH ?g { ?node ?p ?record }
  FILTER(?g != ?record && !STRSTARTS(STR(?g), "urn:valuemesh:"))
  OPTIONAL { ?node rdfs:label ?nl }
  OPTIONAL { ?p rdfs:label ?pl }
}
GROUP BY ?record ?node ?p ORDER BY ?nodeLabel ?node LIMIT 500
"""
)


class CatalogLinks:
    """How IRIs of the catalog map to paths of this server and back."""

    def __init__(self, base: str) -> None:
        self.base = base if base.endswith("/") else base + "/"
        self.base_path = urlsplit(self.base).path or "/"

    def local_href(self, iri: str) -> str | None:
        """The link a page shows for an IRI: a path on this server under the base, the IRI for other web IRIs."""
        if iri.startswith(self.base):
            return self.base_path + iri[len(self.base) :]
        if iri.startswith(("http://", "https://")):
            return iri
        return None  # e.g. urn: or javascript: IRIs are shown, never linked

    def curie(self, iri: str) -> str:
        """A short name for an IRI without a label: `vm:consumes`, `data-product/hcp-360`."""
        prefixed = _prefixed(iri)
        if prefixed is not None:
            return prefixed
        if iri.startswith(self.base):
            return iri[len(self.base) :]
        return iri


def _prefixed(iri: str) -> str | None:
    for prefix, namespace in PREFIXES.items():
        if iri.startswith(namespace) and len(iri) > len(namespace):
            return f"{prefix}:{iri[len(namespace) :]}"
    return None


def _literal_note(term: Literal) -> str:
    if term.language:
        return f"@{term.language}"
    if term.datatype is not None:
        return _prefixed(str(term.datatype)) or str(term.datatype)
    return ""


def _term(links: CatalogLinks, value: Node | None, label: Node | None) -> Term:
    if isinstance(value, URIRef):
        iri = str(value)
        text = str(label) if label is not None else links.curie(iri)
        return Term(text, links.local_href(iri))
    if isinstance(value, Literal):
        return Term(str(value), None, _literal_note(value))
    return Term("" if value is None else f"_:{value}")


def _anchor(links: CatalogLinks, iri: str) -> str:
    return links.curie(iri).rsplit("/", 1)[-1] or "node"


def build_page(
    store: Store, links: CatalogLinks, iri: str, record: str, hidden: Callable[[str], bool] = lambda _: False
) -> RecordPage:
    """Gather what the HTML page of `iri` (a record, or a node inside `record`) shows; nodes `hidden` from the
    caller (restricted records) are neither listed as neighbours nor named by their labels."""
    subject = URIRef(iri)
    bindings: dict[str, Node] = {"record": URIRef(record)}
    if iri != record:
        bindings["node"] = subject
    sections: dict[str, NodeSection] = {}
    order: list[str] = []
    for found in store.select(STATEMENTS, bindings):
        row = dict(found)
        if row["o"] is not None and hidden(str(row["o"])):
            row["oLabel"] = None  # a restricted node a readable record names: its IRI, never its label
        node = str(row["node"])
        if node not in sections:
            label = str(row["nodeLabel"]) if row["nodeLabel"] is not None else links.curie(node)
            sections[node] = NodeSection(node, label, _anchor(links, node), [], [])
            order.append(node)
        section = sections[node]
        if str(row["p"]) == PREFIXES["rdf"] + "type":
            section.types.append(_term(links, row["o"], row["oLabel"]))
            continue
        predicate = _term(links, row["p"], row["pLabel"])
        if section.properties and section.properties[-1].predicate == predicate:
            section.properties[-1].values.append(_term(links, row["o"], row["oLabel"]))
        else:
            section.properties.append(Property(predicate, [_term(links, row["o"], row["oLabel"])]))
    # The page's own node first; the record's other nodes (ports, agreement, SLOs) after it, in IRI order.
    ordered = [sections[iri]] if iri in sections else []
    ordered += [sections[node] for node in order if node != iri]
    for section in ordered:  # the label is shown as the heading, not again as a property row
        section.properties[:] = [p for p in section.properties if p.predicate.text not in {"label", "rdfs:label"}]
    label = ordered[0].label if ordered and ordered[0].iri == iri else links.curie(iri)
    neighbours = {"record": subject}
    upstream = [
        _term(links, row["neighbour"], row["label"])
        for row in store.select(UPSTREAM, neighbours)
        if not hidden(str(row["neighbour"]))
    ]
    downstream = [
        _term(links, row["neighbour"], row["label"])
        for row in store.select(DOWNSTREAM, neighbours)
        if not hidden(str(row["neighbour"]))
    ]
    referenced_by = [
        (_term(links, row["node"], row["nodeLabel"]), _term(links, row["p"], row["pLabel"]))
        for row in store.select(REFERENCED_BY, neighbours)
        if not hidden(str(row["node"]))
    ]
    part_of = None
    if iri != record:
        record_label = store.select(STATEMENTS, {"record": URIRef(record), "node": URIRef(record)})
        names = [r["nodeLabel"] for r in record_label if r["nodeLabel"] is not None]
        part_of = Term(str(names[0]) if names else links.curie(record), links.local_href(record))
    return RecordPage(
        iri=iri,
        label=label,
        sections=ordered,
        part_of=part_of,
        upstream=upstream,
        downstream=downstream,
        referenced_by=referenced_by,
        alternates=_ALTERNATES,
    )


def find_record(store: Store, iri: str) -> tuple[str, Graph] | None:
    """The record holding `iri` and the graph to send RDF clients: the whole record, or the node's description."""
    graph = store.record(iri)
    if len(graph):
        return iri, graph
    found = store.select(CONTAINING_RECORD, {"node": URIRef(iri)})
    if not len(found):
        return None
    record = str(found.column("record")[0])
    return record, store.construct(NODE_DESCRIPTION, {"node": URIRef(iri), "record": URIRef(record)})


def _serialize(graph: Graph, media_type: str) -> bytes:
    """The graph in `media_type`, written by Oxigraph so literals keep their exact lexical form (98.0 stays 98.0)."""
    rdf_format = ox.RdfFormat.from_media_type(media_type)
    triples = [ox.Triple(to_oxigraph(s), to_oxigraph(p), to_oxigraph(o)) for s, p, o in graph]  # type: ignore[arg-type]
    prefixes = PREFIXES if rdf_format in (ox.RdfFormat.TURTLE, ox.RdfFormat.RDF_XML) else None
    return ox.serialize(triples, format=rdf_format, prefixes=prefixes)  # type: ignore[return-value]


def _not_acceptable(offered: str) -> JSONResponse:
    return problem_response(
        406, "Not acceptable", f"records can be read as {', '.join(MEDIA_TYPES)}; asked for {offered!r}"
    )


def dereference(request: Request, iri: str, links: CatalogLinks) -> Response:
    """Answer one IRI of the catalog by content negotiation (or `?format=` for links people can click)."""
    store: Store = request.app.state.store
    asked = request.query_params.get("format")
    accept = asked if asked is not None else request.headers.get("accept")
    media_type = negotiate(accept, MEDIA_TYPES, ALIASES)
    if media_type is None or (asked is not None and asked not in MEDIA_TYPES):
        return _not_acceptable(str(accept))
    headers = {"Vary": "Accept"}
    try:
        ox.NamedNode(iri)
    except ValueError:  # a path no IRI of the catalog can have, e.g. with spaces or angle brackets
        found = None
    else:
        # A record the caller may not read (restricted) answers as if it did not exist, for each of its IRIs.
        visibility = request.app.state.catalog.visibility(getattr(request.state, "principal", ANONYMOUS))
        found = None if visibility.hidden(iri) else find_record(store, iri)
        if found is not None and visibility.hidden(found[0]):
            found = None
    if found is None:
        return problem_response(404, "Not found", f"no record or node has the IRI {iri}", headers)
    _, graph = found
    charset = "; charset=utf-8" if media_type.startswith("text/") else ""
    return Response(_serialize(graph, media_type), media_type=media_type + charset, headers=headers)


# The UI's page for a record of one kind (server/web/ui/pages.py RECORD_PAGES): its HTML answer to a browser, or None
# when the IRI is not a record it draws (a port, an SLO inside a product), which then gets the generic record page.
RecordPageMaker = Callable[[Request, str], Awaitable[Response | None]]
# The page of any IRI of the catalog (server/web/ui/record.py): the record's statements, or a page saying it is unknown.
AnyRecordPage = Callable[[Request, str], Awaitable[Response]]


def wants_html(request: Request) -> bool:
    asked = request.query_params.get("format")
    accept = asked if asked is not None else request.headers.get("accept")
    return negotiate(accept, MEDIA_TYPES, ALIASES) == "text/html" and (asked is None or asked == "text/html")


def _route_for(
    kind: str, links: CatalogLinks, page: RecordPageMaker | None, any_record: AnyRecordPage
) -> Callable[[Request, str], Awaitable[Response]]:
    async def record_route(request: Request, rest: str) -> Response:
        iri = f"{links.base}{kind}/{rest}"
        if wants_html(request):
            answer = await page(request, iri) if page is not None else None
            return answer if answer is not None else await any_record(request, iri)
        return await run_in_threadpool(dereference, request, iri, links)  # store work: never on the event loop

    return record_route


def linked_data_router(
    settings: Settings, pages: Mapping[str, RecordPageMaker], any_record: AnyRecordPage
) -> APIRouter:
    """Routes for `{base path}{kind}/{rest}` of every record kind; nothing else is claimed. A browser asking for a
    record of a kind in `pages` gets that page (the product page, the domain page), for any other IRI `any_record`'s
    page (the UI's generic record page, a 404 page for an unknown IRI); every other client gets the RDF."""
    links = CatalogLinks(settings.base)
    router = APIRouter()
    for kind in RECORD_KINDS:
        router.add_api_route(
            f"{links.base_path}{kind}/{{rest:path}}",
            _route_for(kind, links, pages.get(kind), any_record),
            methods=["GET"],
            name=f"linked_data_{kind.replace('-', '_')}",
            response_model=None,
            include_in_schema=False,
        )
    return router
