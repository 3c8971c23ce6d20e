"""Registering one data product: from a document (Turtle, JSON-LD, YAML descriptor) or from typed fields.

Both end as the same RDF record and go through the same validated write path (`writes.write_records`), so a
product that fails the MVP checklist is refused with the report and nothing is stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import pyoxigraph as ox
from rdflib import RDF, Graph, URIRef

from server.catalog.iris import mint, mint_part
from server.catalog.product_names import refuse_taken_iri
from server.catalog.records import Records, records_of, statement_text
from server.catalog.writes import WriteOutcome, write_records
from server.errors import BadInput, NotFound
from server.formats.description import (
    Port,
    ProductDescription,
    Reference,
    ServiceLevelObjective,
    SharingAgreement,
    product_graph,
)
from server.identity.principal import Principal
from server.namespaces import DPROD
from server.rdf_io import RdfDocument, parse_rdf
from server.store.base import Store

DOCUMENT_FORMATS: dict[str, ox.RdfFormat] = {"TURTLE": ox.RdfFormat.TURTLE, "JSON_LD": ox.RdfFormat.JSON_LD}


def _yaml_reader() -> Callable[..., Records]:
    """The YAML descriptor reader of the descriptor formats (imported late: it is the heavier module)."""
    try:
        from server.formats import records_from_yaml
    except ImportError:
        raise BadInput("YAML descriptors arrive with the descriptor formats; send Turtle or JSON-LD for now") from None
    return records_from_yaml  # type: ignore[no-any-return]


def _without_named_graphs(document: RdfDocument) -> RdfDocument:
    """A product document is the product's record: a named graph in it would be a record of its own choosing."""
    for name, graph in sorted(document.named.items()):
        triple = min(graph)
        raise BadInput(
            f"the statement {statement_text(triple)} is in the named graph <{name}>; a product document holds no "
            "named graphs (its product's record is named by the product)",
            source=document.source,
        )
    return document


def records_of_document(document: str, fmt: str, base: str, store: Store) -> tuple[str, Records]:
    """The product a document describes and its records.

    It must describe exactly one data product. Other records (an agent or domain a descriptor names for the
    first time) are written with it, but never one the catalog already holds: a product document does not
    get to replace a domain or a person.
    """
    if fmt == "YAML":
        records = _yaml_reader()(document, "document", base=base, store=store)
    elif fmt in DOCUMENT_FORMATS:
        records = records_of(_without_named_graphs(parse_rdf(document, DOCUMENT_FORMATS[fmt], "document", base)))
    else:
        raise BadInput(f"unknown document format {fmt}; use TURTLE, JSON_LD or YAML")
    products = [iri for iri, graph in records.items() if (URIRef(iri), RDF.type, DPROD.DataProduct) in graph]
    if len(products) != 1:
        raise BadInput(
            f"the document must describe exactly one data product (a node typed dprod:DataProduct); "
            f"it describes {len(products)}",
            source="document",
        )
    stored = sorted(iri for iri in records if iri not in products and len(store.record(iri)))
    if stored:
        raise BadInput(
            "the document would replace records the catalog already holds (" + ", ".join(stored[:5]) + "); "
            "a product document may add new agents or sources but change only its own product",
            source="document",
        )
    return products[0], records


def register_document(
    store: Store, document: str, fmt: str, base: str, *, actor: Principal
) -> tuple[str, WriteOutcome]:
    """Store the product the document describes (raises ValidationRefused with the report, storing nothing)."""
    iri, records = records_of_document(document, fmt, base, store)
    return iri, write_records(store, records, actor=actor)


# --- typed fields -----------------------------------------------------------------------------------------


@dataclass
class PortFields:
    name: str
    mechanism: URIRef
    consumes: list[str] = field(default_factory=list)
    slug: str | None = None


@dataclass
class SloFields:
    name: str
    indicator: URIRef
    target: float
    period: str
    error_budget: float | None = None
    description: str | None = None


@dataclass
class AgreementFields:
    access: URIRef
    policy: str
    distribution_rights: str
    slos: list[SloFields] = field(default_factory=list)


@dataclass
class ProductFields:
    name: str
    description: str
    type: URIRef
    domain: str
    owner: str
    job: str | None = None
    input_ports: list[PortFields] = field(default_factory=list)
    output_ports: list[PortFields] = field(default_factory=list)
    sharing_agreement: AgreementFields | None = None
    privacy_classification: URIRef | None = None
    consumers: list[str] = field(default_factory=list)
    producers: list[str] = field(default_factory=list)
    use_cases: list[str] = field(default_factory=list)
    restricted: bool = False


def _iri(value: str, what: str) -> URIRef:
    if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.\-]*:[^\s<>\"{}|\\^`]+$", value):
        raise BadInput(f"{what} must be an IRI, got {value!r}")
    return URIRef(value)


def description_of_fields(iri: str, fields: ProductFields) -> ProductDescription:
    """GraphQL's typed fields as the description every import format reads into (server/formats/description.py),
    refusing what typed input can get wrong: values that are no IRIs, two ports minting one IRI, an output port
    consuming something."""
    used: set[str] = set()
    ports = []
    for is_input, given in ((True, fields.input_ports), (False, fields.output_ports)):
        for port in given:
            port_iri = mint_part(iri, "port", port.slug or port.name)
            if port_iri in used:
                raise BadInput(f"two ports would both be named {port_iri}; give them distinct names or slugs")
            used.add(port_iri)
            if port.consumes and not is_input:
                raise BadInput(f"output port {port.name!r} cannot consume anything; only input ports do")
            consumes = [str(_iri(fed, "consumed port or source")) for fed in port.consumes]
            ports.append(Port(port.name, not is_input, port.mechanism, consumes=consumes, key=port.slug or port.name))
    agreement = SharingAgreement()
    if fields.sharing_agreement is not None:
        given_agreement = fields.sharing_agreement
        names: set[str] = set()
        for slo in given_agreement.slos:
            if mint_part(iri, "slo", slo.name) in names:
                raise BadInput(f"two SLOs are both named {slo.name!r}")
            names.add(mint_part(iri, "slo", slo.name))
        agreement = SharingAgreement(
            given_agreement.access,
            given_agreement.policy,
            given_agreement.distribution_rights,
            [
                ServiceLevelObjective(
                    slo.name,
                    slo.indicator,
                    Decimal(str(slo.target)),
                    slo.period,
                    None if slo.error_budget is None else Decimal(str(slo.error_budget)),
                    slo.description or None,
                )
                for slo in given_agreement.slos
            ],
        )
    return ProductDescription(
        fields.name,
        iri=iri,
        description=fields.description,
        purpose=fields.job or None,
        product_type=fields.type,
        domain=Reference(fields.domain, str(_iri(fields.domain, "domain"))),
        owner=Reference(fields.owner, str(_iri(fields.owner, "owner"))),
        producers=[Reference(a, str(_iri(a, "producer"))) for a in fields.producers],
        consumers=[Reference(a, str(_iri(a, "consumer"))) for a in fields.consumers],
        ports=ports,
        agreement=agreement,
        privacy=fields.privacy_classification,
        restricted=fields.restricted,
        use_cases=[str(_iri(u, "use case")) for u in fields.use_cases],
    )


def record_of_fields(iri: str, fields: ProductFields) -> Graph:
    """The product's record as docs/model.md shapes it (product, ports, agreement and SLOs in one graph), built by
    the one builder every import format uses."""
    return product_graph(description_of_fields(iri, fields), iri)[1]


def _exists(store: Store, iri: str) -> bool:
    return (URIRef(iri), RDF.type, DPROD.DataProduct) in store.record(iri)


def create_from_fields(store: Store, fields: ProductFields, base: str, *, actor: Principal) -> str:
    """Mint `data-product/{segment}` under `base` (catalog/iris.py) and store the product; Conflict if that IRI is
    taken (naming the product that has it when its name differs)."""
    iri = mint(base, "data-product", fields.name)
    refuse_taken_iri(store, iri, fields.name)
    write_records(store, {iri: record_of_fields(iri, fields)}, actor=actor, new=True)
    return iri


def update_from_fields(store: Store, iri: str, fields: ProductFields, *, actor: Principal) -> str:
    """Replace an existing product's record with one built from `fields`; NotFound if there is none."""
    if not _exists(store, iri):
        raise NotFound(f"no data product {iri}")
    write_records(store, {iri: record_of_fields(iri, fields)}, actor=actor)
    return iri
