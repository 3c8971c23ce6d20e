"""Data products as the API shows them: one batch question per kind of detail, and keyset pages over IRIs."""

from __future__ import annotations

import base64
import bisect
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Protocol

from rdflib import Literal, URIRef

from server.catalog.nodes import select_each
from server.errors import BadInput
from server.formats.description import DatasetName
from server.namespaces import sparql_prefixes
from server.sparql_text import iri_ref
from server.store.base import Store

PRODUCTS = (
    sparql_prefixes()
    + """
SELECT ?product ?name ?description ?type ?domain ?owner ?job ?privacy ?agreement WHERE {
  VALUES ?product { $nodes }
  ?product a dprod:DataProduct .
  OPTIONAL { ?product rdfs:label ?name }
  OPTIONAL { ?product dct:description ?description }
  OPTIONAL { ?product dct:type ?type }
  OPTIONAL { ?product dprod:domain ?domain }
  OPTIONAL { ?product dprod:dataProductOwner ?owner }
  OPTIONAL { ?product dprod:purpose ?job }
  OPTIONAL { ?product vm:privacyClassification ?privacy }
  OPTIONAL { ?product odrl:hasPolicy ?agreement }
}
"""
)

# Ports of products, with the label of their mechanism concept (the ontology's graph holds those labels).
PORTS = (
    sparql_prefixes()
    + """
SELECT ?product ?port ?direction ?name ?mechanism ?mechanismName WHERE {
  # VALUES in each branch: Virtuoso 7 does not join a VALUES above a UNION into its branches.
  { VALUES ?product { $nodes } ?product dprod:inputPort ?port BIND("in" AS ?direction) }
  UNION
  { VALUES ?product { $nodes } ?product dprod:outputPort ?port BIND("out" AS ?direction) }
  OPTIONAL { ?port rdfs:label ?name }
  OPTIONAL { ?port dct:type ?mechanism OPTIONAL { ?mechanism rdfs:label ?mechanismName } }
}
"""
)

# What feeds each input port: the product owning the consumed output port, or the data source itself.
# The datasets ports name (vm:dataset: OpenLineage namespace + name).
PORT_DATASETS = (
    sparql_prefixes()
    + """
SELECT DISTINCT ?port ?namespace ?name WHERE {
  VALUES ?port { $nodes }
  ?port vm:dataset ?dataset .
  ?dataset vm:datasetNamespace ?namespace ; vm:datasetName ?name .
}
"""
)

PORT_SOURCES = (
    sparql_prefixes()
    + """
SELECT ?port ?source ?isProduct WHERE {
  VALUES ?port { $nodes }
  ?port vm:consumes ?fed .
  OPTIONAL { ?upstream dprod:outputPort ?fed }
  BIND(COALESCE(?upstream, ?fed) AS ?source)
  BIND(BOUND(?upstream) AS ?isProduct)
}
"""
)

AGREEMENTS = (
    sparql_prefixes()
    + """
SELECT ?agreement ?access ?policy ?rights WHERE {
  VALUES ?agreement { $nodes }
  OPTIONAL { ?agreement dct:accessRights ?access }
  OPTIONAL { ?agreement vm:accessPolicy ?policy }
  OPTIONAL { ?agreement vm:distributionRights ?rights }
}
"""
)

SLOS = (
    sparql_prefixes()
    + """
SELECT ?agreement ?slo ?indicator ?indicatorName ?target ?period ?budget ?description WHERE {
  VALUES ?agreement { $nodes }
  ?agreement vm:serviceLevelObjective ?slo .
  OPTIONAL { ?slo vm:serviceLevelIndicator ?indicator OPTIONAL { ?indicator rdfs:label ?indicatorName } }
  OPTIONAL { ?slo vm:target ?target }
  OPTIONAL { ?slo vm:period ?period }
  OPTIONAL { ?slo vm:errorBudget ?budget }
  OPTIONAL { ?slo dct:description ?description }
}
"""
)

# Keyset paging: products after a given IRI, in IRI order; $filters are fixed fragments chosen by which
# filters the caller gave, and their values arrive as bindings. Embedded Oxigraph has no top-k sort: ORDER BY ...
# LIMIT 51 took 6.5 s at 100k products on disk, reading every matching IRI and sorting here 0.6 s; so the page is
# cut here for the embedded store ($order and $limit left out), by the server for a remote one.
PAGE = (
    sparql_prefixes()
    + """
SELECT ?product ?domain ?type ?search ?after WHERE {
  ?product a dprod:DataProduct .
  $filters
}
$order
"""
)

COUNT = (
    sparql_prefixes()
    + """
SELECT (COUNT(DISTINCT ?product) AS ?count) ?domain ?type ?search WHERE {
  ?product a dprod:DataProduct .
  $filters
}
GROUP BY ?domain ?type ?search
"""
)

# The domain and type are written into the text (VALUES) rather than bound as engine substitutions: Oxigraph plans
# without knowing a substituted value, so it started from every product and took 450 ms for a domain at 100k,
# against 17 ms when the value is in the text.
FILTER_DOMAIN = "VALUES ?domain { $domain } ?product dprod:domain ?domain ."
FILTER_TYPE = "VALUES ?type { $type } ?product dct:type ?type ."
FILTER_OWNER = "?product dprod:dataProductOwner $owner ."
FILTER_SEARCH = (
    "FILTER EXISTS { { ?product rdfs:label ?text } UNION { ?product dct:description ?text } "
    "FILTER(CONTAINS(LCASE(STR(?text)), LCASE(STR(?search)))) }"
)
FILTER_AFTER = "FILTER(STR(?product) > STR(?after))"
REMOTE_PREFIXES = ("sparql", "http")  # store locations of SPARQL servers, which sort and cut pages themselves

# Products whose domain is one of these, for Domain.dataProducts.
PRODUCTS_OF_DOMAINS = (
    sparql_prefixes()
    + """
SELECT ?domain ?product WHERE {
  VALUES ?domain { $nodes }
  ?product dprod:domain ?domain ; a dprod:DataProduct .
}
ORDER BY ?product
"""
)


@dataclass(frozen=True)
class DataProductRow:
    iri: str
    name: str
    description: str
    type: str | None
    domain: str | None
    owner: str | None
    job: str | None
    privacy_classification: str | None
    agreement: str | None


@dataclass(frozen=True)
class PortRow:
    iri: str
    product: str
    is_input: bool
    name: str
    mechanism: str


@dataclass(frozen=True)
class SourceRef:
    """A node data flows from: a data product or a data source."""

    iri: str
    is_product: bool


@dataclass(frozen=True)
class SloRow:
    iri: str
    indicator: str
    target: float
    period: str
    error_budget: float
    description: str | None


@dataclass(frozen=True)
class AgreementRow:
    iri: str
    access: str | None
    policy: str
    distribution_rights: str
    slos: list[SloRow] = field(default_factory=list)


@dataclass(frozen=True)
class Page:
    iris: list[str]
    has_next: bool
    total: int = field(default=-1, compare=False)  # how many matched in all, where known (-1: not known)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _local_name(iri: str) -> str:
    return iri.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


def products_by_iri(store: Store, iris: list[str]) -> dict[str, DataProductRow | None]:
    """Each product's own fields; None for IRIs that are no data product."""
    answer: dict[str, DataProductRow | None] = dict.fromkeys(iris)
    if not iris:
        return answer
    for row in select_each(store, PRODUCTS, iris):
        iri = str(row["product"])
        if answer.get(iri) is not None:
            continue  # a second value of a multi-valued property: the first one wins
        answer[iri] = DataProductRow(
            iri=iri,
            name=_text(row["name"]) or _local_name(iri),
            description=_text(row["description"]) or "",
            type=_text(row["type"]),
            domain=_text(row["domain"]),
            owner=_text(row["owner"]),
            job=_text(row["job"]),
            privacy_classification=_text(row["privacy"]),
            agreement=_text(row["agreement"]),
        )
    return answer


def ports_of(store: Store, products: list[str]) -> dict[str, list[PortRow]]:
    """Each product's input and output ports, sorted by IRI."""
    seen: dict[str, dict[str, PortRow]] = {iri: {} for iri in products}
    if products:
        for row in select_each(store, PORTS, products):
            port = str(row["port"])
            product = str(row["product"])
            if port in seen[product]:
                continue
            mechanism = _text(row["mechanismName"]) or (_local_name(str(row["mechanism"])) if row["mechanism"] else "")
            seen[product][port] = PortRow(
                iri=port,
                product=product,
                is_input=str(row["direction"]) == "in",
                name=_text(row["name"]) or _local_name(port),
                mechanism=mechanism,
            )
    return {product: sorted(ports.values(), key=lambda p: p.iri) for product, ports in seen.items()}


def port_datasets(store: Store, ports: list[str]) -> dict[str, list[DatasetName]]:
    """The datasets each port publishes (output) or reads (input), as OpenLineage names them, sorted."""
    answer: dict[str, list[DatasetName]] = {iri: [] for iri in ports}
    if ports:
        for row in select_each(store, PORT_DATASETS, ports):
            answer[str(row["port"])].append(DatasetName(str(row["namespace"]), str(row["name"])))
    return {port: sorted(datasets) for port, datasets in answer.items()}


def port_sources(store: Store, ports: list[str]) -> dict[str, list[SourceRef]]:
    """What feeds each input port: upstream products or data sources."""
    answer: dict[str, list[SourceRef]] = {iri: [] for iri in ports}
    if ports:
        for row in select_each(store, PORT_SOURCES, ports):
            ref = SourceRef(str(row["source"]), bool(row["isProduct"].toPython()))  # type: ignore[union-attr]
            if ref not in answer[str(row["port"])]:
                answer[str(row["port"])].append(ref)
    return {port: sorted(refs, key=lambda r: r.iri) for port, refs in answer.items()}


def _number(value: object, default: float) -> float:
    try:
        return float(Decimal(str(value))) if value is not None else default
    except InvalidOperation:
        return default


def agreements_by_iri(store: Store, iris: list[str]) -> dict[str, AgreementRow | None]:
    """Sharing agreements with their SLOs (error budget: 100 - target when not stated)."""
    answer: dict[str, AgreementRow | None] = dict.fromkeys(iris)
    if not iris:
        return answer
    slos: dict[str, dict[str, SloRow]] = defaultdict(dict)
    for row in select_each(store, SLOS, iris):
        slo = str(row["slo"])
        if slo in slos[str(row["agreement"])]:
            continue
        target = _number(row["target"], 0.0)
        indicator = _text(row["indicatorName"]) or (_local_name(str(row["indicator"])) if row["indicator"] else "")
        slos[str(row["agreement"])][slo] = SloRow(
            iri=slo,
            indicator=indicator,
            target=target,
            period=_text(row["period"]) or "",
            error_budget=_number(row["budget"], round(100.0 - target, 6)),
            description=_text(row["description"]),
        )
    for row in select_each(store, AGREEMENTS, iris):
        iri = str(row["agreement"])
        if answer.get(iri) is not None:
            continue
        answer[iri] = AgreementRow(
            iri=iri,
            access=_text(row["access"]),
            policy=_text(row["policy"]) or "",
            distribution_rights=_text(row["rights"]) or "",
            slos=sorted(slos[iri].values(), key=lambda s: s.iri),
        )
    return answer


def products_of_domains(store: Store, domains: list[str]) -> dict[str, list[str]]:
    answer: dict[str, list[str]] = {iri: [] for iri in domains}
    if domains:
        for row in select_each(store, PRODUCTS_OF_DOMAINS, domains):
            answer[str(row["domain"])].append(str(row["product"]))
    return answer


# --- pages -----------------------------------------------------------------------------------------------

_CURSOR_PREFIX = "dp:"


def encode_cursor(iri: str) -> str:
    """An opaque cursor: the IRI the page ends at (keyset, so paging never slows down or hits a ceiling)."""
    return base64.urlsafe_b64encode((_CURSOR_PREFIX + iri).encode()).decode()


def decode_cursor(cursor: str) -> str:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        raise BadInput(f"'{cursor}' is not a cursor this API returned") from None
    if not text.startswith(_CURSOR_PREFIX):
        raise BadInput(f"'{cursor}' is not a cursor this API returned")
    iri = text.removeprefix(_CURSOR_PREFIX)
    try:
        iri_ref(iri)
    except ValueError:
        raise BadInput(f"'{cursor}' is not a cursor this API returned") from None
    return iri


def _iri_text(iri: str) -> str:
    try:
        return iri_ref(iri)
    except ValueError as error:
        raise BadInput(str(error)) from None


def _filters(
    domain: str | None, type_: str | None, search: str | None, after: str | None, owner: str | None = None
) -> tuple[str, dict[str, URIRef | Literal]]:
    fragments: list[str] = []
    bindings: dict[str, URIRef | Literal] = {}
    if domain is not None:
        fragments.append(FILTER_DOMAIN.replace("$domain", _iri_text(domain)))
    if type_ is not None:
        fragments.append(FILTER_TYPE.replace("$type", _iri_text(type_)))
    if owner is not None:
        fragments.append(FILTER_OWNER.replace("$owner", _iri_text(owner)))
    if search:
        fragments.append(FILTER_SEARCH)
        bindings["search"] = Literal(search)
    if after is not None:
        fragments.append(FILTER_AFTER)
        bindings["after"] = URIRef(after)
    return "\n  ".join(fragments), bindings


class ProductListing(Protocol):
    """A derived list of every product (server/catalog/lineage_index.py), used when it is ready."""

    def products(self, search: str | None = None) -> list[str] | None:
        """The products (matching `search`) in code-point order, or None when it cannot answer now."""
        ...


def _listed(
    listing: ProductListing | None, domain: str | None, type_: str | None, search: str | None, owner: str | None = None
) -> list[str] | None:
    """The matching products from the listing, when it can answer: not for a domain, type or owner, which the store
    narrows best (with one, the store answers a search too in 44 ms at 100k, against 1.7 s over every product)."""
    if listing is None or domain is not None or type_ is not None or owner is not None:
        return None
    return listing.products(search or None)


def page_of_products(
    store: Store,
    *,
    first: int,
    after: str | None = None,
    domain: str | None = None,
    type_: str | None = None,
    search: str | None = None,
    listing: ProductListing | None = None,
    hidden: Callable[[str], bool] | None = None,
    owner: str | None = None,
) -> Page:
    """Up to `first` product IRIs after the cursor's IRI, with whether more follow (none that `hidden` hides)."""
    matching = _listed(listing, domain, type_, search, owner)
    if matching is None and store.location.startswith(REMOTE_PREFIXES) and hidden is None:
        filters, bindings = _filters(domain, type_, search, after, owner)
        query = PAGE.replace("$filters", filters).replace("$order", f"ORDER BY STR(?product) LIMIT {int(first) + 1}")
        iris = [str(v) for v in store.select(query, bindings).column("product")]
        return Page(iris[:first], len(iris) > first)
    if matching is None:
        filters, bindings = _filters(domain, type_, search, None, owner)
        query = PAGE.replace("$filters", filters).replace("$order", "")
        matching = sorted({str(v) for v in store.select(query, bindings).column("product")})
    if hidden is not None:
        matching = [iri for iri in matching if not hidden(iri)]
    start = bisect.bisect_right(matching, after) if after is not None else 0
    return Page(matching[start : start + first], start + first < len(matching), len(matching))


def count_products(
    store: Store,
    *,
    domain: str | None = None,
    type_: str | None = None,
    search: str | None = None,
    listing: ProductListing | None = None,
    hidden: Callable[[str], bool] | None = None,
    owner: str | None = None,
) -> int:
    """How many products match (none that `hidden` hides: then the matching products are read and counted)."""
    if hidden is not None:
        page = page_of_products(
            store, first=0, domain=domain, type_=type_, search=search, listing=listing, hidden=hidden, owner=owner
        )
        return page.total
    matching = _listed(listing, domain, type_, search, owner)
    if matching is not None:
        return len(matching)
    filters, bindings = _filters(domain, type_, search, None, owner)
    rows = store.select(COUNT.replace("$filters", filters), bindings).column("count")
    return sum(int(value) for value in rows if value is not None)  # type: ignore[call-overload]
