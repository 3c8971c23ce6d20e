"""`/sparql`: the SPARQL 1.1 Protocol endpoint for architects.

Read-only (updates get 403), never calls other servers (SERVICE gets 403 before anything runs, and the engine runs
where it cannot open a connection: `network_sandbox`), bounded in query size (413), time (503), answer rows (422) and,
on the embedded store on disk, memory (422: queries run in worker processes that are killed at a limit,
`query_workers`). The default graph is the union of all records unless the request names
its own dataset with `default-graph-uri` / `named-graph-uri`. Results are written in the format the client's
`Accept` header prefers among the ones the query form allows (406 when none fits).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import parse_qs

import anyio
import pyoxigraph as ox
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pyparsing import ParseBaseException
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import RDF
from rdflib.plugins.sparql.parser import parseUpdate

from server import network_sandbox, query_workers
from server.catalog.records_copy import READY_WAIT_S
from server.catalog.service import Catalog
from server.errors import BadInput, LimitExceeded, StoreUnavailable
from server.identity.principal import ANONYMOUS
from server.query_workers import QueryJob, QueryWorkers, Snapshotted
from server.settings import Settings
from server.sparql_errors import explain_syntax_error, not_a_query
from server.sparql_text import ServiceRefused, query_form, refuse_service
from server.store import Store
from server.store.oxigraph import OxigraphStore
from server.web.hardening import sparql_endpoint_url
from server.web.negotiation import negotiate
from server.web.problems import problem_response
from server.web.sparql_datasets import Datasets

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

# The engine checks the time limit while it streams results; a worker process busy in one step (a big sort or
# aggregate) is killed this long after it.
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

_UPDATE_VERB = re.compile(
    r"(?:\s+|#[^\n]*\n?|BASE\s*<[^>]*>|PREFIX\s+[^\s:]*:\s*<[^>]*>)*(INSERT|DELETE|LOAD|CLEAR|DROP|CREATE|ADD|MOVE|COPY|WITH)\b",
    re.IGNORECASE,
)

UPDATE_REFUSED = (
    "updates are refused: this endpoint is read-only; change the catalog through `valuemesh load` or the API, "
    "which validate every record"
)


def is_update(text: str) -> bool:
    """Whether a text that is no query is an update (well-formed or not)."""
    if _UPDATE_VERB.match(text):
        return True
    try:
        parseUpdate(text)
    except (ParseBaseException, ValueError, TypeError):
        return False
    return True


def checked_form(text: str) -> str:
    """SELECT, ASK or GRAPH (CONSTRUCT/DESCRIBE), once the text is known to call no other server."""
    try:
        refuse_service(text)
    except ServiceRefused as error:
        raise Refused(403, "SERVICE refused", str(error)) from None
    except BadInput as error:
        raise Refused(400, "Malformed query", str(error)) from None
    form = query_form(text)
    if form is None:
        if is_update(text):
            raise Refused(403, "Updates refused", UPDATE_REFUSED)
        form = _engine_form(text)
    return "GRAPH" if form in ("CONSTRUCT", "DESCRIBE") else form


def _engine_form(text: str) -> str:
    """The form as the engine reads it, for a text whose first keyword the tokenizer did not find (or the engine's
    syntax error). Read on an empty store in a thread that cannot reach the network."""

    def read() -> str:
        result = ox.Store().query(text)
        if isinstance(result, ox.QueryTriples):
            return "CONSTRUCT"
        return "ASK" if isinstance(result, ox.QueryBoolean) else "SELECT"

    if not network_sandbox.available():
        raise Refused(400, "Malformed query", str(not_a_query(text)))
    try:
        return network_sandbox.run_walled_off(read)
    except SyntaxError as error:
        raise Refused(400, "Malformed query", str(explain_syntax_error(text, str(error)))) from None


# --- answering -------------------------------------------------------------------------------------------------


def _media_type(form: str, accept: str | None) -> str:
    offers, aliases = (GRAPH_MEDIA_TYPES, GRAPH_ALIASES) if form == "GRAPH" else (RESULTS_MEDIA_TYPES, RESULTS_ALIASES)
    chosen = negotiate(accept, offers, aliases)
    if chosen is None:
        kind = "CONSTRUCT and DESCRIBE answers" if form == "GRAPH" else f"{form} results"
        raise Refused(406, "Not acceptable", f"{kind} can be written as {', '.join(offers)}; Accept was {accept!r}")
    return chosen


def answer_query(
    store: Store,
    settings: Settings,
    request: ProtocolRequest,
    accept: str | None,
    workers: QueryWorkers | None = None,
    run: Callable[[QueryJob], bytes] | None = None,
) -> Response:
    """Check, run and serialize one query; raises `Refused` for everything the endpoint will not do.

    `run` answers it over the caller's dataset (sparql_datasets.py). Otherwise, on the embedded store on disk the
    query runs in a worker process (`workers`); else on this thread, which for an embedded store is one that cannot
    reach the network."""
    text = request.query or ""
    _check_size(len(text.encode()), settings)
    media_type = _media_type(checked_form(text), accept)
    job = QueryJob(
        text,
        media_type,
        default_graphs=request.default_graphs if request.dataset_given else None,
        named_graphs=request.named_graphs if request.dataset_given else None,
        timeout_s=settings.sparql_timeout_s,
        max_rows=settings.sparql_max_rows,
    )
    try:
        if run is None:
            run = workers.run if workers is not None else job.run_on_store(store)
        body = run(job)
    except LimitExceeded as error:
        if error.limit == "time":
            raise Refused(503, "Query timeout", str(error)) from None
        if error.limit == "memory":
            raise Refused(422, "Query too expensive", str(error)) from None
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
    return problem_response(error.status, error.title, error.detail, error.headers)


def _threads(app: FastAPI) -> ThreadPoolExecutor:
    """The threads queries are handled on: walled off from the network unless the store itself is over the network."""
    threads: ThreadPoolExecutor | None = getattr(app.state, "sparql_threads", None)
    if threads is None:
        walled = isinstance(app.state.catalog.backend, OxigraphStore) and network_sandbox.available()
        threads = ThreadPoolExecutor(
            # A request waiting for a worker process holds a thread: enough that they queue for workers, not threads.
            max_workers=max(8, 4 * app.state.settings.sparql_workers),
            thread_name_prefix="sparql",
            initializer=network_sandbox.wall_off_this_thread if walled else None,
        )
        app.state.sparql_threads = threads
    return threads


def start_query_workers(app: FastAPI) -> None:
    """Start the worker processes for the app's store when it is the embedded store on disk (see query_workers)."""
    settings: Settings = app.state.settings
    catalog: Catalog = app.state.catalog
    store = catalog.backend
    copy = catalog.records_copy()  # a remote store's records on this replica's disk: queried as the embedded store is
    queried: Snapshotted | None = None
    if copy is not None and query_workers.sandbox_available():
        queried = copy
    elif isinstance(store, OxigraphStore) and query_workers.available(store):
        queried = store
    if queried is not None:
        workers = QueryWorkers(
            queried, workers=settings.sparql_workers, memory_limit_bytes=settings.sparql_max_memory_mb * 2**20
        )
        workers.start()
        app.state.sparql_query_workers = workers


def stop_query_workers(app: FastAPI) -> None:
    datasets: Datasets | None = getattr(app.state, "sparql_datasets", None)
    if datasets is not None:
        datasets.close()
    workers: QueryWorkers | None = getattr(app.state, "sparql_query_workers", None)
    if workers is not None:
        workers.close()
    threads: ThreadPoolExecutor | None = getattr(app.state, "sparql_threads", None)
    if threads is not None:
        threads.shutdown(wait=False, cancel_futures=True)


async def _in_worker(request: Request, settings: Settings, work: Callable[[], Response]) -> Response:
    future = asyncio.wrap_future(_threads(request.app).submit(work))
    try:
        # The work stops itself at the time limit; this is the backstop should it not.
        return await asyncio.wait_for(future, timeout=settings.sparql_timeout_s + 4 * TIMEOUT_GRACE_S)
    except TimeoutError:
        raise Refused(
            503,
            "Query timeout",
            f"the query ran longer than the time limit of {settings.sparql_timeout_s:g} s and was stopped; "
            "narrow it or add a LIMIT",
        ) from None


def _copy_ready(catalog: Catalog) -> None:
    copy = catalog.records_copy()
    if copy is not None:
        copy.current(READY_WAIT_S)


def _datasets(app: FastAPI, workers: QueryWorkers | None) -> Datasets:
    datasets: Datasets | None = getattr(app.state, "sparql_datasets", None)
    if datasets is None or datasets.workers is not workers:
        datasets = Datasets(app.state.catalog, workers)
        app.state.sparql_datasets = datasets
    return datasets


# One route per method, so that the API's description names each operation once (`sparqlQueryGet`, `...Post`).
@router.get("/sparql", name="sparql", response_model=None, operation_id="sparqlQueryGet")
@router.post("/sparql", name="sparql_post", response_model=None, operation_id="sparqlQueryPost")
async def sparql(request: Request) -> Response:
    """SPARQL 1.1 Protocol: GET ?query=, POST form or application/sparql-query; no query: the service description."""
    settings: Settings = request.app.state.settings
    store: Store = request.app.state.store
    workers: QueryWorkers | None = getattr(request.app.state, "sparql_query_workers", None)
    accept = request.headers.get("accept")
    try:
        protocol_request = await read_protocol_request(request, settings)
        if protocol_request.query is None:
            if protocol_request.update:
                raise Refused(403, "Updates refused", UPDATE_REFUSED)
            if request.method == "POST":
                raise Refused(400, "Bad request", "no 'query' given")
            return service_description(sparql_endpoint_url(settings), accept)
        # The union of the records the caller may read: restricted records and service graphs are not there.
        principal = getattr(request.state, "principal", ANONYMOUS)
        datasets = _datasets(request.app, workers)
        # A remote store's records are copied for SPARQL (catalog/records_copy.py): ready before the time limit starts.
        await anyio.to_thread.run_sync(_copy_ready, request.app.state.catalog)
        return await _in_worker(
            request,
            settings,
            lambda: answer_query(
                store, settings, protocol_request, accept, workers, run=lambda job: datasets.run(job, principal)
            ),
        )
    except Refused as error:
        return _problem(error)
