"""The scale-out backend: a remote SPARQL 1.1 server spoken to over the standard protocols with a pooled client.

Location form (see the README, "Running on a remote SPARQL server"):

    sparql+http[s]://[user:password@]host:port/QUERY-PATH[?update=PATH&gsp=PATH&auth=basic|digest|bearer
                                                           &dialect=oxigraph|virtuoso|standard&timeout=SECONDS
                                                           &exclude=GRAPH-IRI-PREFIX]

`update` and `gsp` are paths (or URLs) resolved against the query endpoint; `update` defaults to the query
endpoint itself. Credentials come from the URL or from VALUEMESH_SPARQL_USER / VALUEMESH_SPARQL_PASSWORD /
VALUEMESH_SPARQL_TOKEN (bearer), with VALUEMESH_SPARQL_AUTH choosing the scheme.

Every query's default graph must be the union of all records. Servers reach that differently (the `dialect`,
detected from the server's `Server` header unless given):
- oxigraph: the standard protocol plus Oxigraph's `union-default-graph` option on each query;
- virtuoso: the default graph is already the union of all graphs, system graphs included (those are left out of
  record listings, counts and dumps); records are written through its Graph Store endpoint because its INSERT DATA
  refuses blank nodes, more than ~1,000 triples, and xsd:duration literals;
- standard: any other server, whose dataset must be configured with a union default graph (Fuseki:
  `tdb2:unionDefaultGraph true`; GraphDB and Stardog: the default).
"""

from __future__ import annotations

import json
import os
import random
import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import IO, Any
from urllib.parse import parse_qs, unquote, urljoin, urlsplit, urlunsplit

import httpx
import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import XSD
from rdflib.term import Node

from server.errors import BadInput, Conflict, LimitExceeded, StoreClosed, StoreUnavailable
from server.namespaces import PREFIXES
from server.sparql_text import iri_ref, query_form
from server.store.base import SERVICE_PREFIX, SelectResult, Triple
from server.store.claims import Claims
from server.store.oxigraph import DATASET_FORMATS, insert_data_text, too_many_rows, too_slow
from server.store.terms import serialize_triples, to_oxigraph, to_rdflib

DIALECTS = ("oxigraph", "virtuoso", "standard")
AUTH_SCHEMES = ("basic", "digest", "bearer")
_OPTIONS = ("update", "gsp", "auth", "dialect", "timeout", "exclude")
_JSON = "application/sparql-results+json"
# SQLSTATE 40001, serialization failure: Virtuoso's answer when two transactions deadlock and it rolls one back.
_DEADLOCKED = re.compile(r"\b40001\b.*deadlock", re.IGNORECASE)
_DEADLOCK_ATTEMPTS = 6
_DEADLOCK_PAUSE_S = 0.02
_NTRIPLES = "application/n-triples"

# Graphs every Virtuoso database holds for itself (plus `http://<DefaultHost>/DAV/` and `.../sparql`).
VIRTUOSO_SYSTEM_GRAPHS = (
    "http://www.openlinksw.com/schemas/virtrdf#",
    "http://www.w3.org/2002/07/owl#",
    "http://www.w3.org/ns/ldp#",
    "http://localhost:8890/",
)

_ECHAR = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_LANG = re.compile(r"^[A-Za-z]+(-[A-Za-z0-9]+)*$")


def string_text(value: str) -> str:
    """A SPARQL string literal for `value`; every character that could end or re-read the string is escaped."""
    # A backslash is always doubled, so no `\\u0022` in the value can turn into a quote on the server.
    return '"' + "".join(_ECHAR.get(c, c) for c in value) + '"'


def _iri(iri: str) -> str:
    """`iri_ref`, with an unusable IRI reported as bad input (it came from a request)."""
    try:
        return iri_ref(iri)
    except ValueError as error:
        raise BadInput(str(error)) from None


def term_text(term: Node) -> str:
    """SPARQL text for one bound value: an IRI through `iri_ref`, a literal escaped, never raw user text."""
    if isinstance(term, URIRef):
        return _iri(str(term))
    if isinstance(term, Literal):
        text = string_text(str(term))
        if term.language:
            if not _LANG.match(term.language):
                raise BadInput(f"not a language tag: {term.language!r}")
            return f"{text}@{term.language}"
        if term.datatype is not None and str(term.datatype) != str(XSD.string):
            # STRDT rather than `^^`: Virtuoso mis-parses some typed constants (xsd:duration) but not this.
            return f"STRDT({text}, {_iri(str(term.datatype))})"
        return text
    raise BadInput(f"cannot bind {term!r}: only IRIs and literals can be sent to a SPARQL server")


_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Tokens that may hold braces or the word WHERE without being syntax: strings, IRIs, comments.
_SKIP = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*"""|\'\'\'(?:[^\'\\]|\\.|\'(?!\'\'))*\'\'\'|"(?:[^"\\\n]|\\.)*"'
    r"|'(?:[^'\\\n]|\\.)*'|<[^<>\"{}|^`\\\x00-\x20]*>|#[^\n]*"
)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _where_brace(query: str) -> int:
    """Index of the `{` that opens the query's WHERE pattern, found outside strings, IRIs and comments."""
    form = query_form(query)
    depth, i, first_top_brace = 0, 0, None
    while i < len(query):
        c = query[i]
        skipped = _SKIP.match(query, i) if c in "\"'<#" else None
        if skipped:
            i = skipped.end()
            continue
        if c in "?$":  # a variable such as ?where must not read as the keyword
            word = _WORD.match(query, i + 1)
            i = word.end() if word else i + 1
            continue
        if c == "{":
            if depth == 0 and first_top_brace is None:
                first_top_brace = i
                if form in ("SELECT", "ASK", "DESCRIBE"):  # WHERE is optional there; no braces come before it
                    return i
            depth += 1
        elif c == "}":
            depth -= 1
        elif depth == 0 and c.isalpha():
            word = _WORD.match(query, i)
            assert word is not None
            if word.group().upper() == "WHERE":
                brace = query.find("{", word.end())
                if brace < 0:
                    break
                return brace
            i = word.end()
            continue
        i += 1
    raise BadInput("cannot find the WHERE clause of the query to bind its variables")


def bind_values(query: str, bindings: Mapping[str, Node] | None) -> str:
    """The query with `BIND(value AS ?name)` opening its WHERE pattern: the engine's substitution, as text.

    BIND first rather than VALUES or a trailing VALUES clause: Virtuoso 7 needs a transitive path's start bound
    this way ("transitive start not given" otherwise), and a trailing VALUES joins after GROUP BY.
    """
    if not bindings:
        return query
    binds = []
    for name, value in bindings.items():
        if not _VARIABLE.match(name):
            raise BadInput(f"not a variable name: {name!r}")
        binds.append(f"BIND({term_text(value)} AS ?{name})")
    at = _where_brace(query) + 1
    return f"{query[:at]} {' '.join(binds)} {query[at:]}"


def _iso_duration(value: str) -> str:
    """Virtuoso 7 stores xsd:duration as seconds ("86400.0") or months ("14"); give the ISO 8601 form back."""
    if value.lstrip("-").startswith("P"):
        return value
    sign = "-" if value.startswith("-") else ""
    number = Decimal(value.lstrip("-"))
    if "." not in value and "e" not in value.lower():
        years, months = divmod(int(number), 12)
        return sign + "P" + (f"{years}Y" if years else "") + (f"{months}M" if months or not years else "")
    days, rest = divmod(number, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    text = "P" + (f"{int(days)}D" if days else "")
    clock = (f"{int(hours)}H" if hours else "") + (f"{int(minutes)}M" if minutes else "")
    if seconds:
        clock += f"{seconds.normalize():f}S"
    if clock:
        text += "T" + clock
    return sign + (text if text != "P" else "PT0S")


_BOOLEAN = str(XSD.boolean)
_DURATION = str(XSD.duration)


def _undo_virtuoso(value: str, datatype: str) -> str:
    """A typed literal's lexical form as it was stored, where Virtuoso rewrites it (booleans 1/0, durations)."""
    if datatype == _BOOLEAN and value in ("1", "0"):
        return "true" if value == "1" else "false"
    if datatype == _DURATION:
        return _iso_duration(value)
    return value


def _literal(value: str, datatype: str | None, language: str | None, virtuoso: bool) -> Literal:
    """An rdflib literal; from Virtuoso, first undo how it rewrites its own types (booleans 1/0, durations)."""
    if language:
        return Literal(value, lang=language)
    if not datatype or datatype == str(XSD.string):
        return Literal(value)
    return Literal(_undo_virtuoso(value, datatype) if virtuoso else value, datatype=URIRef(datatype))


def _oxigraph_term(
    binding: Mapping[str, str], virtuoso: bool, blank_prefix: str
) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    """A JSON results term as an Oxigraph term, made directly (an rdflib term on the way costs several times more,
    which counts when a whole catalog is read); blank nodes are named with `blank_prefix` in front."""
    kind, value = binding["type"], binding["value"]
    if kind == "uri":
        return ox.NamedNode(value)
    if kind == "bnode":
        return ox.BlankNode(blank_prefix + value.removeprefix("nodeID://"))
    if kind not in ("literal", "typed-literal"):
        raise StoreUnavailable(f"the SPARQL server answered a term of unknown type {kind!r}")
    language, datatype = binding.get("xml:lang"), binding.get("datatype")
    if language:
        return ox.Literal(value, language=language)
    if not datatype:
        return ox.Literal(value)
    return ox.Literal(_undo_virtuoso(value, datatype) if virtuoso else value, datatype=ox.NamedNode(datatype))


def _json_term(binding: Mapping[str, str], virtuoso: bool) -> Node:
    kind, value = binding["type"], binding["value"]
    if kind == "uri":
        return URIRef(value)
    if kind == "bnode":
        return BNode(value.removeprefix("nodeID://"))
    if kind in ("literal", "typed-literal"):
        return _literal(value, binding.get("datatype"), binding.get("xml:lang"), virtuoso)
    raise StoreUnavailable(f"the SPARQL server answered a term of unknown type {kind!r}")


def _rdflib_term(term: ox.NamedNode | ox.BlankNode | ox.Literal, virtuoso: bool) -> Node:
    if isinstance(term, ox.Literal):
        return _literal(term.value, term.datatype.value, term.language, virtuoso)
    return to_rdflib(term)  # type: ignore[return-value]


def _json_binding(term: Node | None) -> dict[str, str] | None:
    if term is None:
        return None
    if isinstance(term, URIRef):
        return {"type": "uri", "value": str(term)}
    if isinstance(term, BNode):
        return {"type": "bnode", "value": str(term)}
    assert isinstance(term, Literal)
    out = {"type": "literal", "value": str(term)}
    if term.language:
        out["xml:lang"] = term.language
    elif term.datatype is not None:
        out["datatype"] = str(term.datatype)
    return out


def _resolve(base: str, target: str) -> str:
    return target if "://" in target else urljoin(base, target)


class RemoteSparqlStore:
    """A catalog store on a SPARQL 1.1 server: query, update and (optionally) Graph Store Protocol endpoints."""

    def __init__(
        self,
        query_url: str,
        *,
        update_url: str | None = None,
        gsp_url: str | None = None,
        auth: httpx.Auth | None = None,
        dialect: str | None = None,
        timeout_s: float = 30.0,
        exclude_graphs: Iterable[str] = (),
        location: str | None = None,
    ) -> None:
        if dialect is not None and dialect not in DIALECTS:
            raise StoreUnavailable(f"unknown SPARQL server dialect {dialect!r}; use one of {', '.join(DIALECTS)}")
        self.query_url = query_url
        self.update_url = update_url or query_url
        self.gsp_url = gsp_url
        self.location = location or f"sparql+{query_url}"
        self.queries_run = 0
        self._dialect = dialect
        self._exclude = tuple(exclude_graphs)
        self._lock = threading.Lock()
        self._client = httpx.Client(
            auth=auth,
            timeout=httpx.Timeout(timeout_s, connect=min(5.0, timeout_s)),
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
            headers={"User-Agent": "valuemesh"},
        )

    @classmethod
    def from_location(cls, location: str) -> RemoteSparqlStore:
        """Open the store a `sparql+http(s)://...` location names (credentials may also come from the env)."""
        parts = urlsplit(location.removeprefix("sparql+"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise StoreUnavailable(f"not a SPARQL server location: {location} (expected sparql+http://host/path)")
        options = parse_qs(parts.query, keep_blank_values=True)
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise StoreUnavailable(
                f"unknown option(s) {', '.join(unknown)} in {location}; known: {', '.join(_OPTIONS)}"
            )

        def option(name: str) -> str | None:
            values = options.get(name)
            return values[-1] if values else None

        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        query_url = urlunsplit((parts.scheme, netloc, parts.path or "/", "", ""))
        user = unquote(parts.username) if parts.username else os.environ.get("VALUEMESH_SPARQL_USER")
        password = unquote(parts.password) if parts.password else os.environ.get("VALUEMESH_SPARQL_PASSWORD")
        token = os.environ.get("VALUEMESH_SPARQL_TOKEN")
        scheme = option("auth") or os.environ.get("VALUEMESH_SPARQL_AUTH") or ("bearer" if token else "basic")
        if scheme not in AUTH_SCHEMES:
            raise StoreUnavailable(f"unknown authentication {scheme!r}; use one of {', '.join(AUTH_SCHEMES)}")
        auth: httpx.Auth | None = None
        if scheme == "bearer":
            if not token:
                raise StoreUnavailable("auth=bearer needs the token in VALUEMESH_SPARQL_TOKEN")
            auth = _BearerAuth(token)
        elif user:
            auth = (
                httpx.DigestAuth(user, password or "") if scheme == "digest" else httpx.BasicAuth(user, password or "")
            )
        update, gsp = option("update"), option("gsp")
        try:
            timeout_s = float(option("timeout") or 30)
        except ValueError:
            raise StoreUnavailable(f"timeout must be a number of seconds in {location}") from None
        # Never show the password in /healthz or logs.
        shown = location.replace(f":{parts.password}@", ":***@") if parts.password else location
        return cls(
            query_url,
            update_url=_resolve(query_url, update) if update else None,
            gsp_url=_resolve(query_url, gsp) if gsp else None,
            auth=auth,
            dialect=option("dialect"),
            timeout_s=timeout_s,
            exclude_graphs=options.get("exclude", []),
            location=shown,
        )

    # --- talking to the server -----------------------------------------------------------------------

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        if self._client.is_closed:
            raise StoreClosed(f"the connection to {self.location} was closed")
        pause = _DEADLOCK_PAUSE_S
        for attempt in range(_DEADLOCK_ATTEMPTS):
            try:
                response = self._client.request(method, url, **kwargs)
            except httpx.TimeoutException:
                raise _Timeout() from None
            except httpx.TransportError as error:
                raise StoreUnavailable(f"the SPARQL server at {url} is unreachable: {error}") from None
            if response.status_code < 300:
                return response
            detail = " ".join(response.text.split())[:500] or response.reason_phrase
            if not _DEADLOCKED.search(detail) or attempt == _DEADLOCK_ATTEMPTS - 1:
                break
            # The server chose this request as a deadlock's victim and rolled it back whole: sending it again is
            # what the server asks for, and safe, since none of it was applied.
            time.sleep(random.uniform(pause, 2 * pause))
            pause *= 2
        if _DEADLOCKED.search(detail):
            raise Conflict(
                f"the SPARQL server rolled this back {_DEADLOCK_ATTEMPTS} times, each in a deadlock with other writes;"
                " nothing was stored, try again"
            )
        if response.status_code in (401, 403):
            raise StoreUnavailable(f"the SPARQL server at {url} refused our credentials ({response.status_code})")
        if "estimated execution time" in detail and "exceeds the limit" in detail:
            # Virtuoso refuses up front what its cost model says would run past its own time limit.
            raise LimitExceeded(f"the SPARQL server refused a query past its time limit: {detail}", limit="time")
        engine_error = response.status_code == 400 or (response.status_code == 500 and "SPARQL" in response.text)
        if engine_error:
            raise BadInput(f"the SPARQL server could not run it: {detail}")
        raise StoreUnavailable(f"the SPARQL server at {url} failed ({response.status_code}): {detail}")

    @property
    def dialect(self) -> str:
        """Which server this is, read once from its `Server` header (asked again until it answers)."""
        if self._dialect is None:
            response = self._send("GET", self.query_url, params={"query": "ASK {}"}, headers={"Accept": _JSON})
            server = response.headers.get("server", "").lower()
            with self._lock:
                self._dialect = next((d for d in ("oxigraph", "virtuoso") if d in server), "standard")
        return self._dialect

    def _query(
        self, query: str, accept: str, dataset: Mapping[str, list[str]] | None = None, timeout_s: float | None = None
    ) -> httpx.Response:
        form: dict[str, Any] = {"query": query}
        if dataset:
            form.update({key: [_iri(g)[1:-1] for g in graphs] for key, graphs in dataset.items() if graphs})
        elif self.dialect == "oxigraph":
            form["union-default-graph"] = ""
        with self._lock:  # queries run on several threads at once: `+=` alone would lose a count now and then
            self.queries_run += 1
        extra: dict[str, Any] = {}
        if timeout_s is not None:
            extra["timeout"] = httpx.Timeout(timeout_s, connect=min(5.0, timeout_s))
        try:
            return self._send("POST", self.query_url, data=form, headers={"Accept": accept}, **extra)
        except _Timeout:
            if timeout_s is not None:
                raise too_slow(timeout_s) from None
            raise StoreUnavailable(f"the SPARQL server at {self.query_url} did not answer in time") from None

    def _select_json(
        self, query: str, dataset: Mapping[str, list[str]] | None = None, timeout_s: float | None = None
    ) -> dict[str, Any]:
        response = self._query(query, _JSON, dataset, timeout_s)
        if response.headers.get("x-sparql-maxrows"):
            raise StoreUnavailable(
                f"the SPARQL server cut the answer at {response.headers['x-sparql-maxrows']} rows; "
                "raise its ResultSetMaxRows"
            )
        try:
            return response.json()  # type: ignore[no-any-return]
        except json.JSONDecodeError:
            raise StoreUnavailable("the SPARQL server did not answer SPARQL JSON results") from None

    def _term(self, binding: Mapping[str, str]) -> Node:
        return _json_term(binding, self._dialect == "virtuoso")

    # --- reading -------------------------------------------------------------------------------------

    def _expect(self, query: str, forms: tuple[str, ...], what: str) -> None:
        if query_form(query) not in forms:
            raise BadInput(f"expected {what}")

    def select(self, query: str, bindings: Mapping[str, Node] | None = None) -> SelectResult:
        self._expect(query, ("SELECT",), "a SELECT query")
        answer = self._select_json(bind_values(query, bindings))
        variables = list(answer["head"]["vars"])
        rows = [
            tuple(self._term(row[v]) if v in row else None for v in variables) for row in answer["results"]["bindings"]
        ]
        return SelectResult(variables, rows)

    def graph_quads(self, graphs: Sequence[str], blank_prefix: str = "") -> list[ox.Quad]:
        """Every quad of the named graphs `graphs`, read in one question, as Oxigraph quads (for reading a whole
        catalog: see `_oxigraph_term`); blank nodes named with `blank_prefix` in front."""
        values = " ".join(iri_ref(graph) for graph in graphs)
        answer = self._select_json(f"SELECT ?g ?s ?p ?o WHERE {{ VALUES ?g {{ {values} }} GRAPH ?g {{ ?s ?p ?o }} }}")
        virtuoso = self._dialect == "virtuoso"

        def term(binding: Mapping[str, str]) -> Any:
            return _oxigraph_term(binding, virtuoso, blank_prefix)

        return [
            ox.Quad(term(row["s"]), term(row["p"]), term(row["o"]), term(row["g"]))
            for row in answer["results"]["bindings"]
        ]

    def ask(self, query: str, bindings: Mapping[str, Node] | None = None) -> bool:
        self._expect(query, ("ASK",), "an ASK query")
        return bool(self._select_json(bind_values(query, bindings))["boolean"])

    def _triples(
        self, query: str, dataset: Mapping[str, list[str]] | None = None, timeout_s: float | None = None
    ) -> list[tuple[Node, Node, Node]]:
        body = self._query(query, _NTRIPLES, dataset, timeout_s).content
        try:
            parsed = list(ox.parse(body, ox.RdfFormat.N_TRIPLES))
        except SyntaxError as error:
            raise StoreUnavailable(f"the SPARQL server answered unreadable N-Triples: {error}") from None
        virtuoso = self._dialect == "virtuoso"
        return [(to_rdflib(t.subject), to_rdflib(t.predicate), _rdflib_term(t.object, virtuoso)) for t in parsed]  # type: ignore[misc]

    def construct(self, query: str, bindings: Mapping[str, Node] | None = None) -> Graph:
        self._expect(query, ("CONSTRUCT", "DESCRIBE"), "a CONSTRUCT or DESCRIBE query")
        graph = Graph()
        for triple in self._triples(bind_values(query, bindings)):
            graph.add(triple)
        return graph

    def query_serialized(
        self,
        query: str,
        media_type: str,
        *,
        bindings: Mapping[str, Node] | None = None,
        default_graphs: Sequence[str] | None = None,
        named_graphs: Sequence[str] | None = None,
        timeout_s: float | None = None,
        max_rows: int | None = None,
    ) -> bytes:
        """Run any query; the answer is re-serialized here, so every server gives the same formats."""
        form = query_form(query)
        text = bind_values(query, bindings)
        dataset = {"default-graph-uri": list(default_graphs or []), "named-graph-uri": list(named_graphs or [])}
        if default_graphs is None and named_graphs is None:
            dataset = {}
        if form in ("CONSTRUCT", "DESCRIBE"):
            fmt = ox.RdfFormat.from_media_type(media_type)
            if fmt is None:
                raise BadInput(f"cannot write a graph as {media_type}")
            found = self._triples(text, dataset=dataset, timeout_s=timeout_s)
            if max_rows is not None and len(found) > max_rows:
                raise too_many_rows(max_rows)
            prefixes = PREFIXES if fmt in (ox.RdfFormat.TURTLE, ox.RdfFormat.RDF_XML) else None
            return serialize_triples(found, fmt, prefixes=prefixes)
        results_format = ox.QueryResultsFormat.from_media_type(media_type)
        if results_format is None:
            raise BadInput(f"cannot write query results as {media_type}")
        answer = self._select_json(text, dataset=dataset, timeout_s=timeout_s)
        if "boolean" in answer:
            standard: dict[str, Any] = {"head": {}, "boolean": bool(answer["boolean"])}
        else:
            variables = list(answer["head"]["vars"])
            rows = answer["results"]["bindings"]
            if max_rows is not None and len(rows) > max_rows:
                raise too_many_rows(max_rows)
            # Terms go through the same reading as select(), so Virtuoso's rewritten literals come back whole.
            standard = {
                "head": {"vars": variables},
                "results": {
                    "bindings": [{v: _json_binding(self._term(row[v])) for v in variables if v in row} for row in rows]
                },
            }
        parsed = ox.parse_query_results(json.dumps(standard).encode(), format=ox.QueryResultsFormat.JSON)
        return parsed.serialize(format=results_format) or b""

    def _record_filter(self) -> str:
        prefixes = [*self._exclude, SERVICE_PREFIX]
        if self.dialect == "virtuoso":
            origin = "{0.scheme}://{0.netloc}/".format(urlsplit(self.query_url))
            prefixes += [*VIRTUOSO_SYSTEM_GRAPHS, origin + "DAV/", origin + "sparql"]
        tests = " && ".join(f"!STRSTARTS(STR(?g), {string_text(p)})" for p in prefixes)
        return f"FILTER({tests})"

    def record(self, iri: str) -> Graph:
        graph = Graph(identifier=iri)
        for triple in self._triples(f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH {_iri(iri)} {{ ?s ?p ?o }} }}"):
            graph.add(triple)
        return graph

    def record_iris(self) -> list[str]:
        answer = self.select(f"SELECT DISTINCT ?g WHERE {{ GRAPH ?g {{ ?s ?p ?o }} {self._record_filter()} }}")
        return sorted(str(g) for g in answer.column("g") if isinstance(g, URIRef))

    def is_empty(self) -> bool:
        return not self.ask(f"ASK {{ GRAPH ?g {{ ?s ?p ?o }} {self._record_filter()} }}")

    def quad_count(self) -> int:
        answer = self.select(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ ?s ?p ?o }} {self._record_filter()} }}")
        return int(str(answer.rows[0][0])) if answer.rows else 0

    def dump(self, out: IO[bytes], media_type: str) -> None:
        fmt = DATASET_FORMATS.get(media_type)
        if fmt is None:
            raise BadInput(f"cannot export as {media_type}; use one of {', '.join(DATASET_FORMATS)}")
        answer = self.select(
            f"SELECT ?g ?s ?p ?o WHERE {{ GRAPH ?g {{ ?s ?p ?o }} {self._record_filter()} }} ORDER BY ?g"
        )
        quads = [ox.Quad(*(to_oxigraph(x) for x in (s, p, o, g))) for g, s, p, o in answer.rows]  # type: ignore[arg-type]
        out.write(ox.serialize(quads, format=fmt) or b"")

    # --- writing -------------------------------------------------------------------------------------

    def update(self, sparql: str) -> None:
        self._send("POST", self.update_url, data={"update": sparql})

    def exclusive(self, keys: Iterable[str]) -> AbstractContextManager[None]:
        """Other API processes may write to this server: claim the keys there (store/claims.py)."""
        return Claims(self).exclusive(keys)

    def replace_records(self, records: Mapping[str, Iterable[Triple]], drop: Iterable[str] = ()) -> None:
        listed = {iri: list(triples) for iri, triples in records.items()}
        dropped = list(drop)
        if self.dialect != "virtuoso":
            # One request: Oxigraph applies it as one transaction, so readers never see half of it.
            text = insert_data_text(listed, dropped)
            if text:
                self.update(text)
            return
        self._replace_on_virtuoso(listed, dropped)

    def _graph_store(self) -> str:
        if self.gsp_url:
            return self.gsp_url
        auth = "-auth" if self._client.auth is not None else ""
        return urljoin(self.query_url, f"sparql-graph-crud{auth}")

    def _put_record(self, iri: str, triples: list[Triple]) -> None:
        body = serialize_triples(triples, ox.RdfFormat.N_TRIPLES)
        params = {"graph-uri": iri}
        self._send("PUT", self._graph_store(), params=params, content=body, headers={"Content-Type": "text/turtle"})

    def _replace_on_virtuoso(self, records: dict[str, list[Triple]], drop: list[str]) -> None:
        """One Graph Store PUT per record (each replaces its graph whole); on a failure, put back what was there.

        Virtuoso applies the operations of one update request one by one, so a multi-record write cannot be one
        transaction there; restoring the previous records is the best a client can do.
        """
        touched = [*records, *drop]
        before = {iri: list(self.record(iri)) for iri in touched} if len(touched) > 1 else {}
        try:
            self._apply_on_virtuoso(records, drop)
        except Exception:
            if before:
                self._apply_on_virtuoso(
                    {iri: t for iri, t in before.items() if t}, [i for i, t in before.items() if not t]
                )
            raise

    def _apply_on_virtuoso(self, records: dict[str, list[Triple]], drop: list[str]) -> None:
        empties = [iri for iri, triples in records.items() if not triples]
        gone = [*drop, *empties]
        if gone:
            self.update(" ;\n".join(f"DROP SILENT GRAPH {iri_ref(iri)}" for iri in gone))
        for iri, triples in records.items():
            if triples:
                self._put_record(iri, triples)

    def close(self) -> None:
        self._client.close()


class _Timeout(StoreUnavailable):
    """The server took longer than the client's timeout (a time limit for queries, unavailability for writes)."""

    def __init__(self) -> None:
        super().__init__("the SPARQL server did not answer in time")


class _BearerAuth(httpx.Auth):
    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request):  # type: ignore[no-untyped-def]
        request.headers["Authorization"] = self._header
        yield request
