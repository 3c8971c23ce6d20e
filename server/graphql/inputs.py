"""Input objects for the typed mutations: a data product as a frontend form would send it."""

from __future__ import annotations

from enum import Enum

import strawberry
from rdflib import URIRef

from server.catalog.registration import AgreementFields, PortFields, ProductFields, SloFields
from server.graphql.types import AccessMode, DataProductType
from server.namespaces import VM


@strawberry.enum(description="How a port receives or delivers data.")
class PortMechanism(Enum):
    API = str(VM.Api)
    EXTRACTOR = str(VM.Extractor)
    MANUAL_INPUT = str(VM.ManualInput)
    DASHBOARD = str(VM.Dashboard)
    REPORT = str(VM.Report)
    TABLE = str(VM.Table)
    STREAM = str(VM.Stream)
    FILE = str(VM.File)


@strawberry.enum(description="From least to most protected.")
class PrivacyClassification(Enum):
    PUBLIC = str(VM.Public)
    INTERNAL = str(VM.Internal)
    CONFIDENTIAL = str(VM.Confidential)
    RESTRICTED = str(VM.Restricted)


@strawberry.enum(description="What a service-level objective measures.")
class ServiceLevelIndicator(Enum):
    AVAILABILITY = str(VM.Availability)
    LATENCY = str(VM.Latency)
    TIMELINESS = str(VM.Timeliness)
    ACCURACY = str(VM.Accuracy)
    COMPLETENESS = str(VM.Completeness)


@strawberry.input
class InputPortInput:
    name: str
    mechanism: PortMechanism
    consumes: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Output ports of other products, or data sources, this port reads."
    )
    slug: str | None = strawberry.field(default=None, description="Last segment of the port's IRI; from the name.")


@strawberry.input
class OutputPortInput:
    name: str
    mechanism: PortMechanism
    slug: str | None = strawberry.field(default=None, description="Last segment of the port's IRI; from the name.")


@strawberry.input
class ServiceLevelObjectiveInput:
    name: str
    indicator: ServiceLevelIndicator
    target: float = strawberry.field(description="Percentage, 0-100.")
    period: str = strawberry.field(description="ISO 8601 duration, e.g. P1D.")
    error_budget: float | None = None
    description: str | None = None


@strawberry.input
class DataSharingAgreementInput:
    access: AccessMode
    policy: str
    distribution_rights: str
    slos: list[ServiceLevelObjectiveInput]


@strawberry.input(description="A data product's fields; stored as the same RDF record a Turtle descriptor gives.")
class DataProductInput:
    name: str
    description: str
    type: DataProductType
    domain: strawberry.ID
    owner: strawberry.ID
    job: str | None = None
    input_ports: list[InputPortInput] = strawberry.field(default_factory=list)
    output_ports: list[OutputPortInput] = strawberry.field(default_factory=list)
    sharing_agreement: DataSharingAgreementInput | None = None
    privacy_classification: PrivacyClassification | None = None
    consumers: list[strawberry.ID] = strawberry.field(default_factory=list)
    producers: list[strawberry.ID] = strawberry.field(default_factory=list)
    use_cases: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Use cases this product serves (stated in the product's record)."
    )
    restricted: bool = strawberry.field(
        default=False,
        description="Readable only by the product's domain, its owner, GOVERNANCE, ADMIN and holders of an approved "
        "access request to one of its output ports.",
    )


def fields_of(data: DataProductInput) -> ProductFields:
    """The catalog's plain description of the input (enum members carry their concept IRIs)."""
    agreement = data.sharing_agreement
    return ProductFields(
        name=data.name,
        description=data.description,
        type=URIRef(data.type.value),
        domain=str(data.domain),
        owner=str(data.owner),
        job=data.job,
        input_ports=[
            PortFields(p.name, URIRef(p.mechanism.value), [str(c) for c in p.consumes], p.slug)
            for p in data.input_ports
        ],
        output_ports=[PortFields(p.name, URIRef(p.mechanism.value), [], p.slug) for p in data.output_ports],
        sharing_agreement=None
        if agreement is None
        else AgreementFields(
            access=URIRef(agreement.access.value),
            policy=agreement.policy,
            distribution_rights=agreement.distribution_rights,
            slos=[
                SloFields(s.name, URIRef(s.indicator.value), s.target, s.period, s.error_budget, s.description)
                for s in agreement.slos
            ],
        ),
        privacy_classification=None
        if data.privacy_classification is None
        else URIRef(data.privacy_classification.value),
        consumers=[str(a) for a in data.consumers],
        producers=[str(a) for a in data.producers],
        use_cases=[str(u) for u in data.use_cases],
        restricted=data.restricted,
    )
