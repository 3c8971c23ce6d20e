"""The GraphQL types: thin wrappers over catalog rows; relations are resolved through the request's loaders."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from rdflib.term import Node as RdfTerm
from strawberry import Private

from server.catalog import history
from server.catalog.domains import DomainRow
from server.catalog.events import iso
from server.catalog.goals import GoalRow
from server.catalog.products import AgreementRow, DataProductRow, PortRow, SloRow, SourceRef
from server.catalog.restrictions import Visibility
from server.catalog.use_cases import UseCaseRow
from server.errors import NotFound
from server.formats.description import DatasetName
from server.graphql.paging import page_of_ids
from server.namespaces import DPROD, VM
from server.store.terms import to_oxigraph
from server.validation import ValidationReport as CatalogReport

if TYPE_CHECKING:
    from server.graphql.access_requests import AccessRequest, AccessRequestStatus
    from server.graphql.slo_status import SloStatus

Info = strawberry.Info[Any, None]
ACCESS_REQUESTS = "server.graphql.access_requests"  # its types refer to these: named lazily
SLO_STATUS = "server.graphql.slo_status"


@strawberry.enum
class DataProductType(Enum):
    SOURCE_ORIENTED = str(VM.SourceOriented)
    CONSUMER_ORIENTED = str(VM.ConsumerOriented)


@strawberry.enum
class AccessMode(Enum):
    OPEN_ACCESS = str(VM.OpenAccess)
    APPROVAL_REQUIRED = str(VM.AccessApprovalRequired)


@strawberry.enum
class LineageDirection(Enum):
    UPSTREAM = strawberry.enum_value("UPSTREAM", description="towards what a product is made from")
    DOWNSTREAM = strawberry.enum_value("DOWNSTREAM", description="towards what is made from it")


@strawberry.enum
class Severity(Enum):
    VIOLATION = "Violation"
    WARNING = "Warning"
    INFO = "Info"


def _enum_value(enum: type[Enum], iri: str | None, what: str, owner: str) -> Any:
    for member in enum:
        if member.value == iri:
            return member
    raise NotFound(f"{owner} has no usable {what} (found {iri or 'none'})")


async def _required(loader: Any, iri: str | None, what: str, owner: str) -> Any:
    found = await loader.load(iri) if iri else None
    if found is None:
        raise NotFound(f"{owner} has no {what} in the catalog (found {iri or 'none'})")
    return found


@strawberry.interface
class Node:
    id: strawberry.ID


@strawberry.type
class Agent(Node):
    id: strawberry.ID
    name: str


@strawberry.type
class DataSource(Node):
    id: strawberry.ID
    name: str


@strawberry.type
class Domain(Node):
    id: strawberry.ID
    name: str
    regulated: bool = strawberry.field(
        description="Products of a regulated domain must carry a privacy classification."
    )

    @strawberry.field(
        description="The domain's products, in id order. Without `first`, more products than the maximum page size "
        "are refused with BAD_INPUT rather than cut."
    )
    async def data_products(
        self,
        info: Info,
        first: Annotated[
            int | None, strawberry.argument(description="At most this many (up to the maximum page size).")
        ] = None,
        after: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only products after this id: the last one of the previous page."),
        ] = None,
    ) -> list[DataProduct]:
        iris = await info.context.loaders.products_of_domain.load(self.id)
        limit = info.context.settings.max_page_size
        return await products_by_iri(info, page_of_ids(iris, first, after, limit, f"products in {self.name}"))

    @classmethod
    def of(cls, row: DomainRow) -> Domain:
        return cls(id=strawberry.ID(row.iri), name=row.name, regulated=row.regulated)


@strawberry.type(description="A node of the Lean Value Tree: the vision at the root, goals and sub-goals below it.")
class Goal(Node):
    id: strawberry.ID
    title: str
    parent_iri: Private[str | None]

    @strawberry.field
    async def parent(self, info: Info) -> Goal | None:
        return await goal(info, self.parent_iri) if self.parent_iri else None

    @strawberry.field
    async def children(self, info: Info) -> list[Goal]:
        iris = await info.context.loaders.related(VM.subGoalOf, inverse=True).load(self.id)
        return await goals_by_iri(info, iris)

    @strawberry.field(description="Use cases that state they help achieve this goal.")
    async def use_cases(self, info: Info) -> list[UseCase]:
        iris = await info.context.loaders.related(VM.helpsAchieve, inverse=True).load(self.id)
        return await use_cases_by_iri(info, iris)

    @classmethod
    def of(cls, row: GoalRow) -> Goal:
        return cls(id=strawberry.ID(row.iri), title=row.title, parent_iri=row.parent)


@strawberry.type(description="The article's prioritization template: each criterion 0-5 (effort: 5 = least effort).")
class Prioritization:
    business_value: int
    time_criticality: int
    risk_reduction: int
    reach: int
    impact: int
    confidence: int
    effort: int
    score: int = strawberry.field(description="The sum of the seven criteria.")


@strawberry.type(
    description="A use-case hypothesis: we believe that <hypothesis> will help achieving <goals>; "
    "we know we are getting there based on <indicators>."
)
class UseCase(Node):
    id: strawberry.ID
    title: str
    hypothesis: str
    prioritization: Prioritization | None

    @strawberry.field
    async def goals(self, info: Info) -> list[Goal]:
        iris = await info.context.loaders.related(VM.helpsAchieve).load(self.id)
        return await goals_by_iri(info, iris)

    @strawberry.field
    async def indicators(self, info: Info) -> list[str]:
        return await info.context.loaders.literals(VM.indicator).load(self.id)  # type: ignore[no-any-return]

    @strawberry.field
    async def user_stories(self, info: Info) -> list[str]:
        return await info.context.loaders.literals(VM.userStory).load(self.id)  # type: ignore[no-any-return]

    @strawberry.field
    async def data_products(self, info: Info) -> list[DataProduct]:
        iris = await info.context.loaders.related(VM.servedBy).load(self.id)
        return await products_by_iri(info, iris)

    @classmethod
    def of(cls, row: UseCaseRow) -> UseCase:
        p = row.prioritization
        prioritization = None
        if p is not None:
            prioritization = Prioritization(
                business_value=p.business_value,
                time_criticality=p.time_criticality,
                risk_reduction=p.risk_reduction,
                reach=p.reach,
                impact=p.impact,
                confidence=p.confidence,
                effort=p.effort,
                score=p.score,
            )
        return cls(id=strawberry.ID(row.iri), title=row.title, hypothesis=row.hypothesis, prioritization=prioritization)


@strawberry.type
class InputPort(Node):
    id: strawberry.ID
    name: str
    mechanism: str = strawberry.field(description="How data is received, e.g. API, extractor, manual input.")

    @strawberry.field(description="What feeds this port: data sources or other data products.")
    async def sources(self, info: Info) -> list[LineageNode]:
        refs: list[SourceRef] = await info.context.loaders.port_sources.load(self.id)
        return await lineage_nodes(info, [(ref.iri, ref.is_product) for ref in refs])

    @strawberry.field(
        description="The datasets it reads besides those of the ports it consumes, as OpenLineage names them."
    )
    async def datasets(self, info: Info) -> list[LineageDataset]:
        return await port_datasets(info, self.id)


@strawberry.type
class OutputPort(Node):
    id: strawberry.ID
    name: str
    mechanism: str = strawberry.field(description="How data is delivered, e.g. API, dashboard, report, table.")

    @strawberry.field(
        description="The datasets it publishes, as OpenLineage names them: jobs writing them are runs of its product."
    )
    async def datasets(self, info: Info) -> list[LineageDataset]:
        return await port_datasets(info, self.id)


@strawberry.type(description="A dataset as OpenLineage names it: where it lives (namespace) and its name there.")
class LineageDataset:
    namespace: str = strawberry.field(description="e.g. postgres://warehouse:5432, s3://bucket, kafka://broker:9092")
    name: str = strawberry.field(description="e.g. commercial.crm.interactions, a path, a topic")

    @strawberry.field(description="namespace/name, as lineage drift lists it.")
    def qualified_name(self) -> str:
        return f"{self.namespace}/{self.name}"


async def port_datasets(info: Info, port: str) -> list[LineageDataset]:
    found: list[DatasetName] = await info.context.loaders.port_datasets.load(port)
    return [LineageDataset(namespace=d.namespace, name=d.name) for d in found]


@strawberry.type(description="Declared lineage (ports) against lineage observed in OpenLineage run events.")
class LineageDrift:
    product_iri: Private[str]
    unobserved_iris: Private[list[str]]
    undeclared_reads: list[str] = strawberry.field(
        description="Datasets read by the product's runs but declared on none of its input ports (OpenLineage "
        "namespace/name)."
    )
    runs: int = strawberry.field(description="Runs of the product with an event in the window.")
    since: str = strawberry.field(description="Where the window starts (RFC 3339); it ends now.")

    @strawberry.field
    async def data_product(self, info: Info) -> DataProduct:
        return await _required_product(info, self.product_iri)

    @strawberry.field(description="Input ports whose sources no run of the product read within the window.")
    async def unobserved_inputs(self, info: Info) -> list[InputPort]:
        ports: list[PortRow] = await info.context.loaders.ports.load(self.product_iri)
        wanted = set(self.unobserved_iris)
        return [
            InputPort(id=strawberry.ID(p.iri), name=p.name, mechanism=p.mechanism) for p in ports if p.iri in wanted
        ]


@strawberry.type
class ServiceLevelObjective(Node):
    id: strawberry.ID
    indicator: str = strawberry.field(description="What is measured: availability, latency, freshness, accuracy...")
    target: float = strawberry.field(description="Target, as a percentage (99.5 means 99.5 %).")
    period: str = strawberry.field(
        description="The period the target holds over, as an ISO 8601 duration such as P3M or P1D."
    )
    error_budget: float = strawberry.field(
        description="The acceptable unreliability before the objective is violated, as a percentage "
        "(100 - target unless stated)."
    )
    description: str | None

    @classmethod
    def of(cls, row: SloRow) -> ServiceLevelObjective:
        return cls(
            id=strawberry.ID(row.iri),
            indicator=row.indicator,
            target=row.target,
            period=row.period,
            error_budget=row.error_budget,
            description=row.description,
        )


@strawberry.type
class DataSharingAgreement:
    access: AccessMode
    policy: str = strawberry.field(description="Who is and is not allowed access.")
    distribution_rights: str = strawberry.field(
        description="Whether modified or unmodified data may be passed on to third parties."
    )
    slos: list[ServiceLevelObjective]

    @classmethod
    def of(cls, row: AgreementRow) -> DataSharingAgreement:
        return cls(
            access=_enum_value(AccessMode, row.access, "access mode", row.iri),
            policy=row.policy,
            distribution_rights=row.distribution_rights,
            slos=[ServiceLevelObjective.of(slo) for slo in row.slos],
        )


@strawberry.type
class DataProduct(Node):
    """A product; built from its full row, or from its name alone (lineage) with the row loaded when asked for."""

    id: strawberry.ID
    name: str
    known: Private[DataProductRow | None]

    async def _row(self, info: Info) -> DataProductRow:
        if self.known is None:
            self.known = await _required(info.context.loaders.product, str(self.id), "record", str(self.id))
        return self.known  # type: ignore[return-value]

    @strawberry.field
    async def description(self, info: Info) -> str:
        return self.known.description if self.known is not None else (await self._row(info)).description

    @strawberry.field(description="The data product job: what it is for.")
    async def job(self, info: Info) -> str | None:
        return self.known.job if self.known is not None else (await self._row(info)).job

    @strawberry.field
    async def type(self, info: Info) -> DataProductType:
        row = await self._row(info)
        return _enum_value(DataProductType, row.type, "type", row.iri)  # type: ignore[no-any-return]

    @strawberry.field
    async def domain(self, info: Info) -> Domain:
        row = await self._row(info)
        return Domain.of(await _required(info.context.loaders.domain, row.domain, "domain", row.iri))

    @strawberry.field
    async def owner(self, info: Info) -> Agent:
        row = await self._row(info)
        name = await _required(info.context.loaders.label, row.owner, "owner", row.iri)
        return Agent(id=strawberry.ID(row.owner or ""), name=name)

    @strawberry.field
    async def input_ports(self, info: Info) -> list[InputPort]:
        ports: list[PortRow] = await info.context.loaders.ports.load(self.id)
        return [InputPort(id=strawberry.ID(p.iri), name=p.name, mechanism=p.mechanism) for p in ports if p.is_input]

    @strawberry.field
    async def output_ports(self, info: Info) -> list[OutputPort]:
        ports: list[PortRow] = await info.context.loaders.ports.load(self.id)
        return [
            OutputPort(id=strawberry.ID(p.iri), name=p.name, mechanism=p.mechanism) for p in ports if not p.is_input
        ]

    @strawberry.field
    async def consumers(self, info: Info) -> list[Agent]:
        iris = await info.context.loaders.related(VM.consumer).load(self.id)
        return await agents_by_iri(info, iris)

    @strawberry.field
    async def sharing_agreement(self, info: Info) -> DataSharingAgreement | None:
        row = await self._row(info)
        if row.agreement is None:
            return None
        agreement = await info.context.loaders.agreement.load(row.agreement)
        return DataSharingAgreement.of(agreement) if agreement is not None else None

    @strawberry.field
    async def privacy_classification(self, info: Info) -> str | None:
        iri = (await self._row(info)).privacy_classification
        if iri is None:
            return None
        return await info.context.loaders.label.load(iri) or iri.rsplit("#", 1)[-1]  # type: ignore[no-any-return]

    @strawberry.field
    async def use_cases(self, info: Info) -> list[UseCase]:
        iris = await info.context.loaders.related(VM.servedBy, inverse=True).load(self.id)
        return await use_cases_by_iri(info, iris)

    @strawberry.field(
        description="Share (0-1) of the MVP checklist's mandatory items the product meets (privacy only where the "
        "domain is regulated)."
    )
    async def completeness(self, info: Info) -> float | None:
        return await info.context.loaders.completeness.load(str(self.id))  # type: ignore[no-any-return]

    @strawberry.field(
        description="Readable only by its domain, its owner, GOVERNANCE, ADMIN and holders of an approved access "
        "request to one of its output ports (vm:restricted)."
    )
    async def restricted(self, info: Info) -> bool:
        values = await info.context.loaders.literals(VM.restricted).load(self.id)
        return any(str(v).lower() in ("true", "1") for v in values)

    @strawberry.field(description="Each SLO's state over its current period, from ingested measurements.")
    async def slo_status(self, info: Info) -> list[Annotated[SloStatus, strawberry.lazy(SLO_STATUS)]]:
        from server.graphql.slo_status import of_product

        return await of_product(info, str(self.id))

    @strawberry.field(description="Access requests to this product's output ports (only those the caller may see).")
    async def access_requests(
        self,
        info: Info,
        status: Annotated[AccessRequestStatus, strawberry.lazy(ACCESS_REQUESTS)] | None = None,
    ) -> list[Annotated[AccessRequest, strawberry.lazy(ACCESS_REQUESTS)]]:
        from server.graphql.access_requests import of_product

        return await of_product(info, str(self.id), status)

    @strawberry.field(description="Stored versions of this product's record, newest first.")
    async def history(self, info: Info) -> list[RecordVersion]:
        return await record_history(info, str(self.id))

    @classmethod
    def of(cls, row: DataProductRow) -> DataProduct:
        return cls(id=strawberry.ID(row.iri), name=row.name, known=row)


LineageNode = Annotated[
    DataProduct | DataSource,
    strawberry.union("LineageNode", description="Anything data can flow from or to in lineage."),
]


@strawberry.type(description="One stored version of a record: who wrote it, when, and how.")
class RecordVersion:
    version: int
    at: str = strawberry.field(description="ISO 8601 timestamp of the write.")
    by: Agent | None
    action: str = strawberry.field(description="REGISTER, UPDATE, REMOVE, RESTORE")


async def record_history(info: Info, iri: str) -> list[RecordVersion]:
    """A record's versions, newest first; each author named as the catalog names them, else as they went by."""
    versions = await info.context.run(history.history, info.context.store, iri)
    agents = sorted({v.by for v in versions if v.by is not None})
    labels = dict(zip(agents, await info.context.loaders.label.load_many(agents), strict=True)) if agents else {}
    answer = []
    for v in versions:
        by = None
        if v.by is not None:
            by = Agent(id=strawberry.ID(v.by), name=labels.get(v.by) or v.by_name or v.by)
        action = v.action.value if v.action is not None else ""
        answer.append(RecordVersion(version=v.version, at=iso(v.at) if v.at else "", by=by, action=action))
    return answer


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class DataProductEdge:
    node: DataProduct
    cursor: str


@strawberry.type
class DataProductConnection:
    edges: list[DataProductEdge]
    page_info: PageInfo
    total_count_value: Private[Any]

    @strawberry.field
    async def total_count(self, info: Info) -> int:
        return await info.context.run(self.total_count_value)  # type: ignore[no-any-return]


@strawberry.type
class LineageHop:
    node: LineageNode
    depth: int = strawberry.field(description="Steps from the root; the root itself is not listed.")


@strawberry.type(description="Data flows from source to target.")
class LineageEdge:
    source: strawberry.ID
    target: strawberry.ID


@strawberry.type
class LineageGraph:
    root_iri: Private[str]
    nodes: list[LineageHop]
    edges: list[LineageEdge]
    withheld: int = strawberry.field(
        default=0,
        description="Restricted data products the caller may not read that a readable product names as its sources: "
        "left out of `nodes` and `edges`, and the walk stops at them (what feeds them is theirs to tell).",
    )

    @strawberry.field(description="Says why the answer is cut when `withheld` is more than 0; else null.")
    def note(self) -> str | None:
        if not self.withheld:
            return None
        return (
            f"{self.withheld} restricted data product(s) you may not read feed this lineage; they and what lies "
            "beyond them are left out (ask for access to one of their output ports)"
        )

    @strawberry.field
    async def root(self, info: Info) -> DataProduct:
        return await _required_product(info, self.root_iri)


@strawberry.type(
    description="Two products fed by some of the same sources: a candidate to merge or to re-draw boundaries."
)
class Overlap:
    left: DataProduct
    right: DataProduct
    shared: list[LineageNode] = strawberry.field(
        description="Direct upstream sources (data sources or products) that feed both."
    )
    jaccard: float = strawberry.field(
        description="Shared sources divided by the union of both products' direct sources."
    )


@strawberry.type(
    description="Why a product exists: the use cases it serves and every goal they roll up to, up to the vision."
)
class GoalTrace:
    product_iri: Private[str]
    use_case_iris: Private[list[str]]
    goal_iris: Private[list[str]]

    @strawberry.field
    async def data_product(self, info: Info) -> DataProduct:
        return await _required_product(info, self.product_iri)

    @strawberry.field
    async def use_cases(self, info: Info) -> list[UseCase]:
        return await use_cases_by_iri(info, self.use_case_iris)

    @strawberry.field
    async def goals(self, info: Info) -> list[Goal]:
        return await goals_by_iri(info, self.goal_iris)


@strawberry.type
class ValidationResult:
    focus_node: strawberry.ID
    path: str | None = strawberry.field(description="The property at fault, as an IRI, when there is one.")
    severity: Severity
    message: str
    item: str | None = strawberry.field(description="The checklist item in the article's words, e.g. Owner / Steward.")
    record: strawberry.ID | None = strawberry.field(
        description="The record (product, use case...) the node is part of."
    )
    value: str | None = strawberry.field(description="The offending value, in Turtle syntax, when there is one.")
    component: str | None = strawberry.field(
        description="The SHACL constraint component, e.g. http://www.w3.org/ns/shacl#MinCountConstraintComponent."
    )
    source_shape: str | None = strawberry.field(
        description="The shape the result comes from (an IRI, or a blank node label)."
    )


def _turtle(term: RdfTerm | None, text: str | None) -> str | None:
    """A term as Turtle writes it: <iri>, "literal"^^<datatype>, _:label."""
    if term is not None:
        return str(to_oxigraph(term))
    return text


def _shape_label(shape: str | None) -> str | None:
    return None if shape is None else shape if ":" in shape else f"_:{shape}"


@strawberry.type
class ValidationReport:
    conforms: bool
    results: list[ValidationResult]

    @classmethod
    def of(cls, report: CatalogReport, visibility: Visibility | None = None) -> ValidationReport:
        hidden = visibility.hidden if visibility is not None else (lambda _: False)
        readable = [r for r in report.results if not hidden(r.focus_node) and not hidden(getattr(r, "record", ""))]
        results = [
            ValidationResult(
                focus_node=strawberry.ID(r.focus_node),
                path=r.path,
                severity=_enum_value(Severity, r.severity, "severity", r.focus_node),
                message=r.message,
                item=getattr(r, "item", None),
                record=getattr(r, "record", None),
                value=_turtle(r.value_term, r.value),
                component=r.component,
                source_shape=_shape_label(r.source_shape),
            )
            for r in readable
        ]
        return cls(conforms=report.conforms or not readable, results=results)


@strawberry.type(description="The write was refused; nothing was stored.")
class RegistrationRefused:
    report: ValidationReport


RegistrationResult = Annotated[DataProduct | RegistrationRefused, strawberry.union("RegistrationResult")]


# --- batched look-ups shared by resolvers ---------------------------------------------------------------


async def product(info: Info, iri: str) -> DataProduct | None:
    row = await info.context.loaders.product.load(iri)
    return DataProduct.of(row) if row is not None else None


async def _required_product(info: Info, iri: str) -> DataProduct:
    """A product the question just found in the store (read lazily: many clients do not ask for it)."""
    return DataProduct.of(await _required(info.context.loaders.product, iri, "record", iri))


async def products_by_iri(info: Info, iris: list[str]) -> list[DataProduct]:
    rows = await info.context.loaders.product.load_many(iris)
    return [DataProduct.of(row) for row in rows if row is not None]


async def goal(info: Info, iri: str) -> Goal | None:
    row = await info.context.loaders.goal.load(iri)
    return Goal.of(row) if row is not None else None


async def goals_by_iri(info: Info, iris: list[str]) -> list[Goal]:
    rows = await info.context.loaders.goal.load_many(iris)
    return [Goal.of(row) for row in rows if row is not None]


async def use_cases_by_iri(info: Info, iris: list[str]) -> list[UseCase]:
    rows = await info.context.loaders.use_case.load_many(iris)
    return [UseCase.of(row) for row in rows if row is not None]


async def agents_by_iri(info: Info, iris: list[str]) -> list[Agent]:
    names = await info.context.loaders.label.load_many(iris)
    return [Agent(id=strawberry.ID(iri), name=name or iri) for iri, name in zip(iris, names, strict=True)]


async def lineage_nodes(
    info: Info, refs: list[tuple[str, bool]], known: dict[str, str] | None = None
) -> list[DataProduct | DataSource]:
    """Products or data sources by name only, in the given order; names not `known` in one label question."""
    known = known or {}
    refs = [(iri, is_product) for iri, is_product in refs if not info.context.visibility.hidden(iri)]
    unknown = [iri for iri, _ in refs if iri not in known]
    # Asked only when needed: even an empty batch costs the request a turn of the event loop.
    found = iter(await info.context.loaders.label.load_many(unknown) if unknown else ())
    names = [known[iri] if iri in known else next(found) for iri, _ in refs]
    answer: list[DataProduct | DataSource] = []
    for (iri, is_product), name in zip(refs, names, strict=True):
        label = name or iri.rsplit("/", 1)[-1]
        node = strawberry.ID(iri)
        answer.append(DataProduct(id=node, name=label, known=None) if is_product else DataSource(id=node, name=label))
    return answer


NODE_PORT_PROPERTIES = {"InputPort": DPROD.inputPort, "OutputPort": DPROD.outputPort}
