"""One format-neutral description of a data product, between the descriptor formats and the graph.

Every format converts to a `ProductDescription`; `product_records` turns it into records shaped as docs/model.md
says, and `describe_product` reads a stored record back for export. What a format states that our model has no
term for travels in `source_fields` and is kept on the node as a JSON annotation (`vm:sourceDescriptor`), so an
export can give it back and nothing is silently dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from rdflib import RDF, RDFS, XSD, BNode, Graph, Literal, URIRef
from rdflib.term import Node

from server.catalog.iris import mint, mint_part
from server.namespaces import DCAT, DCT, DPROD, DPV, DQV, ODRL, ORG, PROV, VM

# The annotation that keeps what a descriptor said beyond our model (JSON text, canonical key order).
SOURCE_DESCRIPTOR = VM.sourceDescriptor
SOURCE_FORMAT = VM.sourceFormat

PRODUCT_TYPES = {"source-oriented": VM.SourceOriented, "consumer-oriented": VM.ConsumerOriented}
ACCESS_MODES = {"open": VM.OpenAccess, "approval-required": VM.AccessApprovalRequired}
MECHANISMS = {
    "api": VM.Api,
    "extractor": VM.Extractor,
    "manual-input": VM.ManualInput,
    "dashboard": VM.Dashboard,
    "report": VM.Report,
    "table": VM.Table,
    "stream": VM.Stream,
    "file": VM.File,
}
PRIVACY = {"public": VM.Public, "internal": VM.Internal, "confidential": VM.Confidential, "restricted": VM.Restricted}
INDICATORS = {
    "availability": VM.Availability,
    "latency": VM.Latency,
    "timeliness": VM.Timeliness,
    "accuracy": VM.Accuracy,
    "completeness": VM.Completeness,
}


def keyword(concepts: dict[str, URIRef], iri: Node | None) -> str | None:
    """The descriptor keyword for a concept IRI (`vm:ConsumerOriented` -> "consumer-oriented")."""
    return next((name for name, concept in concepts.items() if concept == iri), None)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


@dataclass
class Reference:
    """A domain or agent a descriptor names: by label, path or IRI. `iri` is settled when records are minted."""

    label: str
    iri: str | None = None
    person: bool = True  # agents only: prov:Person, else prov:Organization


@dataclass
class ServiceLevelObjective:
    label: str
    indicator: URIRef | None = None
    target: Decimal | None = None
    period: str | None = None
    error_budget: Decimal | None = None
    description: str | None = None
    key: str | None = None  # what the IRI is minted from (catalog/iris.py); the label when absent
    source_fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class SharingAgreement:
    access: URIRef | None = None
    policy: str | None = None
    distribution: str | None = None
    slos: list[ServiceLevelObjective] = field(default_factory=list)
    source_fields: dict[str, Any] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not (self.access or self.policy or self.distribution or self.slos or self.source_fields)


@dataclass(frozen=True, order=True)
class DatasetName:
    """A dataset as OpenLineage names it: where it lives (`postgres://crm-db:5432`) and its name there."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass
class Port:
    label: str
    output: bool
    mechanism: URIRef | None = None
    description: str | None = None
    consumes: list[str] = field(default_factory=list)  # IRIs of upstream output ports or data sources
    datasets: list[DatasetName] = field(default_factory=list)  # published (output) or read (input), OpenLineage names
    key: str | None = None
    source_fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProductDescription:
    name: str
    key: str | None = None  # what the IRI is minted from (catalog/iris.py); the name when absent
    iri: str | None = None
    description: str | None = None
    purpose: str | None = None
    product_type: URIRef | None = None
    domain: Reference | None = None
    owner: Reference | None = None
    producers: list[Reference] = field(default_factory=list)
    consumers: list[Reference] = field(default_factory=list)
    ports: list[Port] = field(default_factory=list)
    agreement: SharingAgreement = field(default_factory=SharingAgreement)
    privacy: URIRef | None = None
    personal_data: bool | None = None
    applicable_law: str | None = None
    restricted: bool = False  # vm:restricted: readable only as identity/policy.py `may_read_product` says
    use_cases: list[str] = field(default_factory=list)  # IRIs
    version: str | None = None
    identifier: str | None = None
    keywords: list[str] = field(default_factory=list)
    source_format: str | None = None
    source_fields: dict[str, Any] = field(default_factory=dict)


def decimal_of(value: object) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _annotate(graph: Graph, node: URIRef, fields: dict[str, Any]) -> None:
    if fields:
        graph.add((node, SOURCE_DESCRIPTOR, Literal(canonical_json(fields), datatype=RDF.JSON)))


def _unique_part(record: str, part: str, name: str, taken: set[str]) -> str:
    """The IRI of a port or SLO named `name`, with `-2`, `-3`, ... when another one of the record has it."""
    wanted = mint_part(record, part, name)
    iri, n = wanted, 2
    while iri in taken:
        iri, n = f"{wanted}-{n}", n + 1
    taken.add(iri)
    return iri


def product_graph(product: ProductDescription, base: str) -> tuple[str, Graph]:
    """The product's own record: the product, its ports, its agreement and SLOs (references must be settled)."""
    iri = product.iri or mint(base, "data-product", product.key or product.name)
    node = URIRef(iri)
    g = Graph(identifier=iri)
    g.add((node, RDF.type, DPROD.DataProduct))
    g.add((node, RDFS.label, Literal(product.name)))
    g.add((node, DCT.title, Literal(product.name)))
    optional: list[tuple[URIRef, Node | None]] = [
        (DCT.description, Literal(product.description) if product.description else None),
        (DPROD.purpose, Literal(product.purpose) if product.purpose else None),
        (DCT.type, product.product_type),
        (DPROD.domain, URIRef(product.domain.iri) if product.domain and product.domain.iri else None),
        (DPROD.dataProductOwner, URIRef(product.owner.iri) if product.owner and product.owner.iri else None),
        (VM.privacyClassification, product.privacy),
        (DPV.hasPersonalData, Literal(product.personal_data) if product.personal_data is not None else None),
        (DPV.hasApplicableLaw, Literal(product.applicable_law) if product.applicable_law else None),
        (VM.restricted, Literal(True) if product.restricted else None),
        (DCAT.version, Literal(product.version) if product.version else None),
        (DCT.identifier, Literal(product.identifier) if product.identifier else None),
        (SOURCE_FORMAT, Literal(product.source_format) if product.source_format else None),
    ]
    for predicate, value in optional:
        if value is not None:
            g.add((node, predicate, value))
    for word in product.keywords:
        g.add((node, DCAT.keyword, Literal(word)))
    for agent in product.producers:
        g.add((node, VM.producer, URIRef(agent.iri or "")))
    for agent in product.consumers:
        g.add((node, VM.consumer, URIRef(agent.iri or "")))
    for use_case in product.use_cases:
        g.add((URIRef(use_case), VM.servedBy, node))
    _annotate(g, node, product.source_fields)

    taken: set[str] = set()
    for port in product.ports:
        port_node = URIRef(_unique_part(iri, "port", port.key or port.label, taken))
        g.add((node, DPROD.outputPort if port.output else DPROD.inputPort, port_node))
        g.add((port_node, RDF.type, VM.OutputPort if port.output else VM.InputPort))
        g.add((port_node, RDF.type, DCAT.DataService))
        g.add((port_node, RDFS.label, Literal(port.label)))
        if port.mechanism is not None:
            g.add((port_node, DCT.type, port.mechanism))
        if port.description:
            g.add((port_node, DCT.description, Literal(port.description)))
        for upstream in port.consumes:
            g.add((port_node, VM.consumes, URIRef(upstream)))
        for dataset in port.datasets:
            add_dataset(g, port_node, VM.dataset, dataset)
        _annotate(g, port_node, port.source_fields)

    agreement = product.agreement
    if not agreement.is_empty():
        agreement_node = URIRef(f"{iri}/agreement")
        g.add((node, ODRL.hasPolicy, agreement_node))
        g.add((agreement_node, RDF.type, VM.DataSharingAgreement))
        g.add((agreement_node, RDF.type, ODRL.Offer))
        g.add((agreement_node, RDFS.label, Literal(f"{product.name} data sharing agreement")))
        if agreement.access is not None:
            g.add((agreement_node, DCT.accessRights, agreement.access))
        if agreement.policy:
            g.add((agreement_node, VM.accessPolicy, Literal(agreement.policy)))
        if agreement.distribution:
            g.add((agreement_node, VM.distributionRights, Literal(agreement.distribution)))
        _annotate(g, agreement_node, agreement.source_fields)
        slo_keys: set[str] = set()
        for slo in agreement.slos:
            slo_node = URIRef(_unique_part(iri, "slo", slo.key or slo.label, slo_keys))
            g.add((agreement_node, VM.serviceLevelObjective, slo_node))
            g.add((slo_node, RDF.type, VM.ServiceLevelObjective))
            g.add((slo_node, RDF.type, DQV.QualityPolicy))
            g.add((slo_node, RDFS.label, Literal(slo.label)))
            if slo.indicator is not None:
                g.add((slo_node, VM.serviceLevelIndicator, slo.indicator))
            if slo.target is not None:
                g.add((slo_node, VM.target, Literal(slo.target, datatype=XSD.decimal)))
            if slo.period:
                g.add((slo_node, VM.period, Literal(slo.period, datatype=XSD.duration)))
            if slo.error_budget is not None:
                g.add((slo_node, VM.errorBudget, Literal(slo.error_budget, datatype=XSD.decimal)))
            if slo.description:
                g.add((slo_node, DCT.description, Literal(slo.description)))
            _annotate(g, slo_node, slo.source_fields)
    return iri, g


def add_dataset(graph: Graph, subject: Node, predicate: URIRef, dataset: DatasetName) -> Node:
    """`subject predicate [a vm:OpenLineageDataset; namespace; name]`: a blank node, skolemised by the write path."""
    node = BNode()
    graph.add((subject, predicate, node))
    graph.add((node, RDF.type, VM.OpenLineageDataset))
    graph.add((node, VM.datasetNamespace, Literal(dataset.namespace)))
    graph.add((node, VM.datasetName, Literal(dataset.name)))
    return node


def datasets_of(graph: Graph, subject: Node, predicate: URIRef = VM.dataset) -> list[DatasetName]:
    """The datasets `subject` names with `predicate`, sorted."""
    found = set()
    for node in graph.objects(subject, predicate):
        namespace, name = graph.value(node, VM.datasetNamespace), graph.value(node, VM.datasetName)
        if namespace is not None and name is not None:
            found.add(DatasetName(str(namespace), str(name)))
    return sorted(found)


def dataset_names(entries: Any) -> list[DatasetName]:
    """Datasets as descriptors write them: a list of `{namespace, name}` objects (others are skipped)."""
    if not isinstance(entries, list):
        return []
    return [
        DatasetName(str(e["namespace"]), str(e["name"]))
        for e in entries
        if isinstance(e, dict) and e.get("namespace") and e.get("name")
    ]


def dataset_entries(datasets: list[DatasetName]) -> list[dict[str, str]] | None:
    """The descriptor form of `datasets` (None when there are none, so the field is left out)."""
    return [{"namespace": d.namespace, "name": d.name} for d in datasets] or None


def domain_record(reference: Reference) -> Graph:
    """A minimal domain record (label only), for a domain a descriptor names that the catalog does not hold."""
    node = URIRef(reference.iri or "")
    g = Graph(identifier=str(node))
    g.add((node, RDF.type, VM.Domain))
    g.add((node, RDF.type, ORG.OrganizationalUnit))
    g.add((node, RDFS.label, Literal(reference.label)))
    return g


def agent_record(reference: Reference) -> Graph:
    """A minimal agent record (label only) for an owner, producer or consumer the catalog does not hold."""
    node = URIRef(reference.iri or "")
    g = Graph(identifier=str(node))
    g.add((node, RDF.type, PROV.Person if reference.person else PROV.Organization))
    g.add((node, RDF.type, PROV.Agent))
    g.add((node, RDFS.label, Literal(reference.label)))
    return g


def annotation(graph: Graph, node: Node) -> dict[str, Any]:
    """The JSON annotation kept on a node, or an empty dict."""
    value = graph.value(node, SOURCE_DESCRIPTOR)
    if value is None:
        return {}
    try:
        loaded = json.loads(str(value))
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}
