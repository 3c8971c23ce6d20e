"""`/sparql`: the SPARQL 1.1 Protocol endpoint for architects.

Read-only (updates get 403), never calls other servers (SERVICE gets 403 before anything runs), bounded in query
size (413), time (503) and answer rows (422). The default graph is the union of all records unless the request names
its own dataset with `default-graph-uri` / `named-graph-uri`. Results are written in the format the client's
`Accept` header prefers among the ones the query form allows (406 when none fits).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import parse_qs

import pyoxigraph as ox
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pyparsing import ParseBaseException
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import RDF
from rdflib.plugins.sparql.parser import parseQuery, parseUpdate
from rdflib.plugins.sparql.parserutils import CompValue

from server.errors import BadInput, LimitExceeded, StoreUnavailable
from server.settings import Settings
from server.store import Store
from server.web.hardening import sparql_endpoint_url
from server.web.negotiation import negotiate

router = APIRouter()

SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
FORMATS = Namespace("http://www.w3.org/ns/formats/")

# Media types in the order the server prefers them when the client accepts several equally.
RESULTS_MEDIA_TYPES = (
    "application/sparql-results+json",
    "application/sparql-results+xml",
    "text/csv",
    "text/tab-separated-values",
)
GRAPH_MEDIA_TYPES = ("text/turtle", "application/n-triples", "application/ld+json", "application/rdf+xml")
# Names clients use for the same formats (SPARQLWrapper asks for application/json, rdflib for application/xml).
RESULTS_ALIASES = {
    "application/json": "application/sparql-results+json",
    "application/xml": "application/sparql-results+xml",
}
GRAPH_ALIASES = {
    "application/x-turtle": "text/turtle",
    "application/xml": "application/rdf+xml",
    "text/plain": "application/n-triples",
}
_FORMAT_IRIS = {
    "application/sparql-results+json": FORMATS.SPARQL_Results_JSON,
    "application/sparql-results+xml": FORMATS.SPARQL_Results_XML,
    "text/csv": FORMATS.SPARQL_Results_CSV,
    "text/tab-separated-values": FORMATS.SPARQL_Results_TSV,
    "text/turtle": FORMATS.Turtle,
    "application/n-triples": FORMATS["N-Triples"],
    "application/ld+json": FORMATS["JSON-LD"],
    "application/rdf+xml": FORMATS.RDF_XML,
}
_RDFLIB_FORMATS = {
    "text/turtle": "turtle",
    "application/n-triples": "nt",
    "application/ld+json": "json-ld",
    "application/rdf+xml": "xml",
}

# Queries run on a few dedicated threads, so a runaway query cannot take the threads other requests use.
QUERY_WORKERS = 4
# The engine checks the time limit while it streams results; this is how long the request waits beyond it for an
# engine that is busy in one step (a big sort or aggregate) before answering 503 on its own.
TIMEOUT_GRACE_S = 0.5


class Refused(Exception):
    """A request the endpoint will not run, answered with `status` and a message saying why."""

    def __init__(self, status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.headers = headers


@dataclass(frozen=True)
class ProtocolRequest:
    """What a SPARQL Protocol request asks: the query and the dataset it runs over."""

    query: str | None
    default_graphs: list[str]
    named_graphs: list[str]
    update: bool = False

    @property
    def dataset_given(self) -> bool:
        return bool(self.default_graphs or self.named_graphs)


# --- reading the request --------------------------------------------------------------------------------------


def _single(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name, [])
    if len(values) > 1:
        raise Refused(400, "Bad request", f"give one '{name}' parameter, not {len(values)}")
    return values[0] if values else None


def _protocol_request(params: dict[str, list[str]], body_query: str | None = None) -> ProtocolRequest:
    query = body_query if body_query is not None else _single(params, "query")
    return ProtocolRequest(
        query=query,
        default_graphs=params.get("default-graph-uri", []),
        named_graphs=params.get("named-graph-uri", []),
        update="update" in params,
    )


# A form body percent-encodes the query, up to three bytes per byte: bodies are first checked against this much
# more, then the decoded query text exactly.
ENCODING_ALLOWANCE = 3


def _check_size(size: int, settings: Settings, allowance: int = 1) -> None:
    if size > settings.sparql_max_query_bytes * allowance:
        raise Refused(
            413,
            "Query too large",
            f"the query is {size} bytes; this endpoint accepts at most {settings.sparql_max_query_bytes} bytes",
        )


def _decode(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise Refused(400, "Bad request", f"the request body is not UTF-8 (byte {error.start})") from None


async def read_protocol_request(request: Request, settings: Settings) -> ProtocolRequest:
    """The query and dataset of a GET, a form POST or a direct `application/sparql-query` POST."""
    url_params = parse_qs(request.url.query, keep_blank_values=True)
    if request.method == "GET":
        return _protocol_request(url_params)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    declared = request.headers.get("content-length")
    if declared and declared.isdigit():
        _check_size(int(declared), settings, ENCODING_ALLOWANCE)
    body = await request.body()
    _check_size(len(body), settings, ENCODING_ALLOWANCE)
    if content_type == "application/sparql-query":
        return _protocol_request(url_params, body_query=_decode(body))
    if content_type == "application/sparql-update":
        return ProtocolRequest(query=None, default_graphs=[], named_graphs=[], update=True)
    if content_type == "application/x-www-form-urlencoded":
        return _protocol_request(parse_qs(_decode(body), keep_blank_values=True))
    raise Refused(
        415,
        "Unsupported media type",
        "POST the query as application/x-www-form-urlencoded (query=...) or as application/sparql-query",
    )


# --- what the query is, before anything runs -------------------------------------------------------------------

# Strings, IRIs, prefixed-name escapes and comments, as the SPARQL grammar reads them: text where the word SERVICE is
# not a keyword. Everything else is searched for the keyword.
_NOT_CODE = re.compile(
    r"""'''(?:[^'\\]|\\.|'(?!''))*'''
      | \"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"
      | '(?:[^'\\\n\r]|\\.)*'
      | "(?:[^"\\\n\r]|\\.)*"
      | <(?:[^<>"{}|^`\\\x00-\x20]|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8})*>
      | \\[_~.\-!$&'()*+,;=/?\#@%]
      | \#[^\n\r]*""",
    re.VERBOSE,
)
# Where the word "service" appears outside strings, IRIs and comments: the engine's parser needs no space around
# keywords (`trueSERVICE<x>{}`, `1SERVICE`, `?o.SERVICE`, `SERVICEsilent` all parse), so every occurrence counts
# except inside a variable's name or a prefixed name's local part (`?service`, `dcat:DataService`).
_SERVICE_WORD = re.compile(r"service", re.IGNORECASE)
_UNICODE_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_UPDATE_VERB = re.compile(
    r"(?:\s+|#[^\n]*\n?|BASE\s*<[^>]*>|PREFIX\s+[^\s:]*:\s*<[^>]*>)*(INSERT|DELETE|LOAD|CLEAR|DROP|CREATE|ADD|MOVE|COPY|WITH)\b",
    re.IGNORECASE,
)

SERVICE_REFUSED = (
    "SERVICE is refused: this endpoint answers from the catalog only and never sends requests to other servers"
)
UPDATE_REFUSED = (
    "updates are refused: this endpoint is read-only; change the catalog through `valuemesh load` or the API, "
    "which validate every record"
)


def _unescaped(text: str) -> str:
    return _UNICODE_ESCAPE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), text)


def _walk(node: object) -> Iterator[CompValue]:
    if isinstance(node, CompValue):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list | tuple) or type(node).__name__ == "ParseResults":
        for item in node:  # type: ignore[attr-defined]
            yield from _walk(item)


def _mentions_service_keyword(code: str) -> bool:
    for match in _SERVICE_WORD.finditer(code):
        start = match.start()
        while start > 0 and (code[start - 1].isalnum() or code[start - 1] == "_"):  # back over the name it ends
            start -= 1
        if start == 0 or code[start - 1] not in "?$:":
            return True
    return False


def refuse_service(text: str) -> None:
    """Raise `Refused` (403) when the query could make the engine call another server.

    Two independent readings must both find no SERVICE: a scan of the text outside strings, IRIs and comments, and
    rdflib's SPARQL parser (its parse tree). A text that never spells "service" skips the parser, the common case."""
    if "service" not in text.lower() and "service" not in _unescaped(text).lower():
        return
    if _mentions_service_keyword(_NOT_CODE.sub(" ", text)):
        raise Refused(403, "SERVICE refused", SERVICE_REFUSED)
    try:
        tree = parseQuery(text)
    except ParseBaseException as error:
        if is_update(text):
            raise Refused(403, "Updates refused", UPDATE_REFUSED) from None
        raise Refused(
            400,
            "Malformed query",
            f"the query mentions 'service' and could not be checked for a SERVICE clause: {error.msg} "
            f"at line {error.lineno}, column {error.col}",
        ) from None
    if any(node.name == "ServiceGraphPattern" for node in _walk(tree)):
        raise Refused(403, "SERVICE refused", SERVICE_REFUSED)


def is_update(text: str) -> bool:
    """Whether a text that failed to parse as a query is an update (well-formed or not)."""
    if _UPDATE_VERB.match(text):
        return True
    try:
        parseUpdate(text)
    except (ParseBaseException, ValueError, TypeError):
        return False
    return True


def query_form(text: str) -> str:
    """SELECT, ASK or GRAPH (CONSTRUCT/DESCRIBE), read by the engine's own parser on an empty store.

    Runs only after `refuse_service`, so nothing the dry run does can leave the process."""
    try:
        result = ox.Store().query(text)
    except SyntaxError as error:
        if is_update(text):
            raise Refused(403, "Updates refused", UPDATE_REFUSED) from None
        raise Refused(400, "Malformed query", f"malformed SPARQL: {error}") from None
    if isinstance(result, ox.QueryTriples):
        return "GRAPH"
    return "ASK" if isinstance(result, ox.QueryBoolean) else "SELECT"


# --- answering -------------------------------------------------------------------------------------------------


def _media_type(form: str, accept: str | None) -> str:
    offers, aliases = (GRAPH_MEDIA_TYPES, GRAPH_ALIASES) if form == "GRAPH" else (RESULTS_MEDIA_TYPES, RESULTS_ALIASES)
    chosen = negotiate(accept, offers, aliases)
    if chosen is None:
        kind = "CONSTRUCT and DESCRIBE answers" if form == "GRAPH" else f"{form} results"
        raise Refused(406, "Not acceptable", f"{kind} can be written as {', '.join(offers)}; Accept was {accept!r}")
    return chosen


def answer_query(store: Store, settings: Settings, request: ProtocolRequest, accept: str | None) -> Response:
    """Check, run and serialize one query; raises `Refused` for everything the endpoint will not do."""
    text = request.query or ""
    _check_size(len(text.encode()), settings)
    refuse_service(text)
    form = query_form(text)
    media_type = _media_type(form, accept)
    try:
        body = store.query_serialized(
            text,
            media_type,
            default_graphs=request.default_graphs if request.dataset_given else None,
            named_graphs=request.named_graphs if request.dataset_given else None,
            timeout_s=settings.sparql_timeout_s,
            max_rows=settings.sparql_max_rows,
        )
    except LimitExceeded as error:
        if error.limit == "time":
            raise Refused(503, "Query timeout", str(error)) from None
        raise Refused(422, "Too many results", str(error)) from None
    except BadInput as error:
        raise Refused(400, "Bad request", str(error)) from None
    except StoreUnavailable as error:
        raise Refused(503, "Store unavailable", str(error)) from None
    charset = "; charset=utf-8" if media_type.startswith("text/") else ""
    return Response(body, media_type=media_type + charset, headers={"Vary": "Accept"})


def service_description(endpoint: str, accept: str | None) -> Response:
    """The endpoint described in the SPARQL service description vocabulary (sd:)."""
    media_type = negotiate(accept, GRAPH_MEDIA_TYPES, GRAPH_ALIASES)
    if media_type is None:
        raise Refused(
            406, "Not acceptable", f"the service description can be written as {', '.join(GRAPH_MEDIA_TYPES)}"
        )
    graph = Graph()
    graph.bind("sd", SD)
    graph.bind("formats", FORMATS)
    service, dataset, default_graph = URIRef(endpoint), BNode(), BNode()
    graph.add((service, RDF.type, SD.Service))
    graph.add((service, SD.endpoint, service))
    graph.add((service, SD.supportedLanguage, SD.SPARQL11Query))
    graph.add((service, SD.feature, SD.UnionDefaultGraph))
    for format_iri in _FORMAT_IRIS.values():
        graph.add((service, SD.resultFormat, format_iri))
    graph.add((service, SD.defaultDataset, dataset))
    graph.add((dataset, RDF.type, SD.Dataset))
    graph.add((dataset, SD.defaultGraph, default_graph))
    graph.add((default_graph, RDF.type, SD.Graph))
    graph.add(
        (dataset, URIRef("http://purl.org/dc/terms/description"), Literal("The union of every record of the catalog"))
    )
    body = graph.serialize(format=_RDFLIB_FORMATS[media_type], encoding="utf-8")
    return Response(body, media_type=media_type, headers={"Vary": "Accept"})


def _problem(error: Refused) -> JSONResponse:
    return JSONResponse(
        {"type": "about:blank", "title": error.title, "status": error.status, "detail": error.detail},
        status_code=error.status,
        media_type="application/problem+json",
        headers=error.headers,
    )


def _workers(app: FastAPI) -> ThreadPoolExecutor:
    workers: ThreadPoolExecutor | None = getattr(app.state, "sparql_workers", None)
    if workers is None:
        workers = ThreadPoolExecutor(max_workers=QUERY_WORKERS, thread_name_prefix="sparql")
        app.state.sparql_workers = workers
    return workers


async def _in_worker(request: Request, settings: Settings, work: Callable[[], Response]) -> Response:
    future = asyncio.wrap_future(_workers(request.app).submit(work))
    try:
        return await asyncio.wait_for(future, timeout=settings.sparql_timeout_s + TIMEOUT_GRACE_S)
    except TimeoutError:
        raise Refused(
            503,
            "Query timeout",
            f"the query ran longer than the time limit of {settings.sparql_timeout_s:g} s and was stopped; "
            "narrow it or add a LIMIT",
        ) from None


@router.api_route("/sparql", methods=["GET", "POST"], name="sparql", response_model=None)
async def sparql(request: Request) -> Response:
    """SPARQL 1.1 Protocol: GET ?query=, POST form or application/sparql-query; no query: the service description."""
    settings: Settings = request.app.state.settings
    store: Store = request.app.state.store
    accept = request.headers.get("accept")
    try:
        protocol_request = await read_protocol_request(request, settings)
        if protocol_request.query is None:
            if protocol_request.update:
                raise Refused(403, "Updates refused", UPDATE_REFUSED)
            if request.method == "POST":
                raise Refused(400, "Bad request", "no 'query' given")
            return service_description(sparql_endpoint_url(settings), accept)
        return await _in_worker(request, settings, lambda: answer_query(store, settings, protocol_request, accept))
    except Refused as error:
        return _problem(error)
