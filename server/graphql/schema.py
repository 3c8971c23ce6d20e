"""The GraphQL schema: queries and mutations whose resolvers are a few lines calling `server.catalog`."""

from __future__ import annotations

import dataclasses
from enum import Enum
from functools import partial
from typing import Annotated

import pyoxigraph as ox
import strawberry
from graphql import GraphQLError
from strawberry.types import ExecutionContext

from server.catalog import (
    domains,
    goal_trace,
    goals,
    lineage,
    overlaps,
    registration,
    removal,
    use_cases,
)
from server.catalog.products import count_products, decode_cursor, encode_cursor, page_of_products
from server.errors import BadInput, NotFound, ValidationRefused, ValuemeshError
from server.graphql import access_requests as access
from server.graphql import execution, slo_status, tokens
from server.graphql import types as t
from server.graphql.inputs import DataProductInput, fields_of
from server.graphql.limits import extensions
from server.graphql.tokens import ApiTokenInfo, CreatedApiToken
from server.graphql.validation import validation_report
from server.graphql.viewer import Viewer
from server.namespaces import VM
from server.settings import Settings


def iri(value: str) -> str:
    """An id as the IRI it must be: absolute and well formed, or BAD_INPUT saying what an id looks like."""
    try:
        ox.NamedNode(value)
    except ValueError as error:
        raise BadInput(
            f"{value!r} is not an absolute IRI ({error}); every id is a node's IRI, "
            "e.g. https://valuemesh.example/data-product/hcp-360"
        ) from None
    return value


def iris(values: list[strawberry.ID] | None) -> list[str] | None:
    return None if values is None else [iri(v) for v in values]


async def node_by_iri(info: t.Info, node: str) -> t.Node | None:
    kind = await info.context.loaders.kind.load(node)
    loaders = info.context.loaders
    if kind == "DataProduct":
        return await t.product(info, node)
    if kind == "Goal":
        return await t.goal(info, node)
    if kind == "UseCase":
        found = await t.use_cases_by_iri(info, [node])
        return found[0] if found else None
    if kind == "Domain":
        row = await loaders.domain.load(node)
        return t.Domain.of(row) if row is not None else None
    if kind in ("Agent", "DataSource"):
        name = await loaders.label.load(node) or node
        return (t.Agent if kind == "Agent" else t.DataSource)(id=strawberry.ID(node), name=name)
    if kind in t.NODE_PORT_PROPERTIES:
        owners = await loaders.related(t.NODE_PORT_PROPERTIES[kind], inverse=True).load(node)
        for owner in owners:
            for port in await loaders.ports.load(owner):
                if port.iri == node:
                    cls = t.InputPort if port.is_input else t.OutputPort
                    return cls(id=strawberry.ID(node), name=port.name, mechanism=port.mechanism)
    if kind == "ServiceLevelObjective":
        for agreement in await loaders.related(VM.serviceLevelObjective, inverse=True).load(node):
            row = await loaders.agreement.load(agreement)
            for slo in row.slos if row is not None else ():
                if slo.iri == node:
                    return t.ServiceLevelObjective.of(slo)
    if kind == "AccessRequest":
        return await access.node(info, node)
    return None


@strawberry.type
class Query:
    @strawberry.field
    async def node(self, info: t.Info, id: strawberry.ID) -> t.Node | None:
        return await node_by_iri(info, iri(id))

    @strawberry.field
    async def data_product(self, info: t.Info, id: strawberry.ID) -> t.DataProduct | None:
        return await t.product(info, iri(id))

    @strawberry.field
    async def data_products(
        self,
        info: t.Info,
        domain: strawberry.ID | None = None,
        type: t.DataProductType | None = None,
        search: str | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> t.DataProductConnection:
        limit = info.context.settings.max_page_size
        size = 50 if first is None else first
        if not 0 <= size <= limit:
            raise BadInput(f"first must be between 0 and {limit} (the maximum page size); got {size}")
        store = info.context.store
        filters = {
            "domain": iri(domain) if domain is not None else None,
            "type_": type.value if type is not None else None,
            "search": search,
        }
        listing = info.context.index
        cursor = decode_cursor(after) if after else None
        # Only when the caller may not read some restricted product: every other caller lists as before.
        hidden = info.context.visibility.hidden if info.context.visibility.hides_anything else None
        page = await info.context.run(
            partial(page_of_products, store, first=size, after=cursor, listing=listing, hidden=hidden, **filters)
        )
        nodes = await t.products_by_iri(info, page.iris)
        edges = [t.DataProductEdge(node=node, cursor=encode_cursor(str(node.id))) for node in nodes]
        return t.DataProductConnection(
            edges=edges,
            page_info=t.PageInfo(has_next_page=page.has_next, end_cursor=edges[-1].cursor if edges else None),
            total_count_value=partial(count_products, store, listing=listing, hidden=hidden, **filters),
        )

    @strawberry.field
    async def domains(self, info: t.Info) -> list[t.Domain]:
        iris = await info.context.run(domains.all_domains, info.context.store)
        rows = await info.context.loaders.domain.load_many(iris)
        return [t.Domain.of(row) for row in rows if row is not None]

    @strawberry.field(description="The caller; null when anonymous.")
    def viewer(self, info: t.Info) -> Viewer | None:
        return Viewer.of(info.context.principal)

    @strawberry.field(description="The roots of the Lean Value Tree.")
    async def goals(self, info: t.Info) -> list[t.Goal]:
        return await t.goals_by_iri(info, await info.context.run(goals.root_goals, info.context.store))

    @strawberry.field(description="Use cases, highest prioritization score first.")
    async def use_cases(self, info: t.Info) -> list[t.UseCase]:
        return await t.use_cases_by_iri(info, await info.context.run(use_cases.ranked_use_cases, info.context.store))

    @strawberry.field
    async def lineage(
        self,
        info: t.Info,
        id: strawberry.ID,
        direction: t.LineageDirection | None = t.LineageDirection.UPSTREAM,
        max_depth: int | None = None,
    ) -> t.LineageGraph:
        if max_depth is not None and max_depth < 0:
            raise BadInput(f"maxDepth must be 0 or more; got {max_depth}")
        way = lineage.Direction.DOWNSTREAM if direction is t.LineageDirection.DOWNSTREAM else lineage.Direction.UPSTREAM
        store, index = info.context.store, info.context.index
        hidden = info.context.visibility.hidden if info.context.visibility.hides_anything else None
        answer = await info.context.run(
            partial(lineage.lineage, store, iri(id), way, max_depth, index=index, hidden=hidden)
        )
        iris = [n.iri for n in answer.nodes]
        known = index.names(iris) if index is not None else {}
        found = await t.lineage_nodes(info, [(n.iri, n.is_product) for n in answer.nodes], known)
        by_iri = {str(node.id): node for node in found}
        hops = [t.LineageHop(node=by_iri[n.iri], depth=n.depth) for n in answer.nodes if n.iri in by_iri]
        edges = [t.LineageEdge(source=strawberry.ID(s), target=strawberry.ID(o)) for s, o in answer.edges]
        return t.LineageGraph(root_iri=answer.root, nodes=hops, edges=edges, withheld=answer.withheld)

    @strawberry.field(
        description="Pairs of products that share direct sources; among `ids` when given, else across the catalog."
    )
    async def overlaps(
        self,
        info: t.Info,
        ids: list[strawberry.ID] | None = None,
        min_shared: int | None = 1,
        involving: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only pairs with this product on one side, the other from anywhere."),
        ] = None,
        first: Annotated[
            int | None,
            strawberry.argument(
                description="The first pairs only (at most the maximum page size). Without it, an answer of more "
                "pairs than the maximum page size is refused with BAD_INPUT rather than cut."
            ),
        ] = None,
    ) -> list[t.Overlap]:
        store = info.context.store
        limit = info.context.settings.max_page_size
        if first is not None and not 0 <= first <= limit:
            raise BadInput(f"first must be between 0 and {limit} (the maximum page size); got {first}")
        index = info.context.index
        visibility = info.context.visibility
        if ids is not None:
            ids = [strawberry.ID(i) for i in ids if not visibility.hidden(i)]
        if involving is not None:
            if ids is not None:
                raise BadInput("give either ids or involving, not both")
            product = iri(involving)

            def overlapping() -> overlaps.OverlapAnswer:
                if visibility.hidden(product):
                    raise NotFound(f"no data product {product}")
                lineage.require_product(store, product)
                return overlaps.overlaps_with(store, product, min_shared or 1, index)

            answer = await info.context.run(overlapping)
        else:
            answer = await info.context.run(overlaps.overlaps, store, iris(ids), min_shared or 1, index)
        if visibility.hides_anything:  # pairs with a product the caller may not read are not there for them
            readable = [p for p in answer.pairs if not visibility.hidden(p.left) and not visibility.hidden(p.right)]
            answer = dataclasses.replace(answer, pairs=readable)
        if first is None and len(answer.pairs) > limit:
            raise BadInput(
                f"{len(answer.pairs)} pairs overlap, more than the maximum page size ({limit}): ask for the most "
                "shared with `first`, raise `minShared`, or narrow with `ids` or `involving`"
            )
        chosen = answer.pairs if first is None else answer.pairs[:first]
        products = {
            str(p.id): p for p in await t.products_by_iri(info, sorted({i for o in chosen for i in (o.left, o.right)}))
        }
        # Every shared node named at once (the index knows most names), not one label question per pair.
        sources = sorted({source for pair in chosen for source in pair.shared})
        known = index.names(sources) if index is not None else {}
        sources = visibility.visible(sources)  # a shared restricted source is left out, as in lineage
        named = await t.lineage_nodes(info, [(source, answer.source_is_product[source]) for source in sources], known)
        node_of = dict(zip(sources, named, strict=True))
        return [
            t.Overlap(
                left=products[pair.left],
                right=products[pair.right],
                shared=[node_of[source] for source in pair.shared if source in node_of],
                jaccard=pair.jaccard,
            )
            for pair in chosen
            if pair.left in products and pair.right in products
        ]

    @strawberry.field
    async def goal_trace(self, info: t.Info, id: strawberry.ID) -> t.GoalTrace:
        if info.context.visibility.hidden(iri(id)):
            raise NotFound(f"no data product {id}")
        trace = await info.context.run(goal_trace.goal_trace, info.context.store, iri(id))
        return t.GoalTrace(product_iri=trace.product, use_case_iris=trace.use_cases, goal_iris=trace.goals)

    @strawberry.field(
        description="What the product's OpenLineage runs read in the drift window (VALUEMESH_LINEAGE_DRIFT_DAYS) "
        "against what its input ports declare."
    )
    async def lineage_drift(self, info: t.Info, id: strawberry.ID) -> t.LineageDrift:
        if info.context.visibility.hidden(iri(id)):
            raise NotFound(f"no data product {id}")
        drift = await info.context.run(info.context.catalog.observed_lineage.drift, iri(id))
        return t.LineageDrift(
            product_iri=drift.product,
            unobserved_iris=drift.unobserved_inputs,
            undeclared_reads=[str(d) for d in drift.undeclared_reads],
            runs=drift.runs,
            since=drift.since.isoformat().replace("+00:00", "Z"),
        )

    @strawberry.field(description="Products that trace to no goal: data-lake monsters in the making.")
    async def untraced_data_products(self, info: t.Info) -> list[t.DataProduct]:
        return await t.products_by_iri(info, await info.context.run(goal_trace.untraced_products, info.context.store))

    @strawberry.field(
        description="Goals of the Lean Value Tree put at risk by products whose SLO budgets are at risk or spent."
    )
    async def goals_at_risk(self, info: t.Info) -> list[slo_status.GoalAtRisk]:
        return await slo_status.goals_at_risk(info)

    @strawberry.field(description="Stored versions of any record, newest first.")
    async def history(self, info: t.Info, id: strawberry.ID) -> list[t.RecordVersion]:
        return await t.record_history(info, iri(id))

    @strawberry.field(description="SHACL validation of the stored catalog, or of the given nodes only.")
    async def validation(self, info: t.Info, ids: list[strawberry.ID] | None = None) -> t.ValidationReport:
        if ids is None:  # the whole catalog: heavy work, in a worker process where there is one
            catalog, visibility = info.context.catalog, info.context.visibility
            return await catalog.run_heavy(lambda: t.ValidationReport.of(catalog.validate_catalog(), visibility))
        report = await info.context.run(validation_report, info.context.store, iris(ids))
        return t.ValidationReport.of(report, info.context.visibility)

    @strawberry.field(description="Access requests the caller may see, newest first.")
    async def access_requests(
        self,
        info: t.Info,
        status: access.AccessRequestStatus | None = None,
        data_product: strawberry.ID | None = None,
    ) -> list[access.AccessRequest]:
        return await access.listed(info, status, iri(data_product) if data_product is not None else None)


@strawberry.enum
class DocumentFormat(Enum):
    TURTLE = "TURTLE"
    JSON_LD = "JSON_LD"
    YAML = strawberry.enum_value(
        "YAML", description="A data product descriptor in YAML (see the design's import formats)."
    )


async def _registered(info: t.Info, iri: str) -> t.DataProduct:
    info.context.after_write()
    found = await t.product(info, iri)
    if found is None:  # pragma: no cover - the write path stored it a moment ago
        raise NotFound(f"{iri} was stored but cannot be read back")
    return found


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Add the data product that `document` describes, or replace it if its IRI exists. It is stored "
        "only if it passes the MVP checklist; otherwise nothing changes."
    )
    async def register_data_product(
        self, info: t.Info, document: str, format: DocumentFormat | None = DocumentFormat.TURTLE
    ) -> t.RegistrationResult:
        fmt = (format or DocumentFormat.TURTLE).value
        try:
            stored, _ = await info.context.run(
                partial(registration.register_document, actor=info.context.principal),
                info.context.store,
                document,
                fmt,
                info.context.settings.base,
            )
        except ValidationRefused as refused:
            return t.RegistrationRefused(report=t.ValidationReport.of(refused.report))
        return await _registered(info, stored)

    @strawberry.mutation(description="Add a product from typed fields; its IRI is minted as data-product/{slug}.")
    async def create_data_product(self, info: t.Info, input: DataProductInput) -> t.RegistrationResult:
        try:
            stored = await info.context.run(
                partial(registration.create_from_fields, actor=info.context.principal),
                info.context.store,
                fields_of(input),
                info.context.settings.base,
            )
        except ValidationRefused as refused:
            return t.RegistrationRefused(report=t.ValidationReport.of(refused.report))
        return await _registered(info, stored)

    @strawberry.mutation(description="Replace an existing product's record with one built from typed fields.")
    async def update_data_product(
        self, info: t.Info, id: strawberry.ID, input: DataProductInput
    ) -> t.RegistrationResult:
        try:
            stored = await info.context.run(
                partial(registration.update_from_fields, actor=info.context.principal),
                info.context.store,
                iri(id),
                fields_of(input),
            )
        except ValidationRefused as refused:
            return t.RegistrationRefused(report=t.ValidationReport.of(refused.report))
        return await _registered(info, stored)

    @strawberry.mutation(
        description="Remove a product and return its id. While another product still consumes one of its output "
        "ports the call fails with an error that names those consumers, and nothing changes."
    )
    async def remove_data_product(self, info: t.Info, id: strawberry.ID) -> strawberry.ID:
        await info.context.run(
            partial(removal.remove_data_product, actor=info.context.principal), info.context.store, iri(id)
        )
        info.context.after_write()
        return id

    create_api_token: CreatedApiToken = strawberry.mutation(
        resolver=tokens.create_api_token,
        description="ADMIN: make an API token (`expires`: an ISO 8601 duration such as P90D); its secret is in this "
        "answer only.",
    )
    revoke_api_token: ApiTokenInfo = strawberry.mutation(
        resolver=tokens.revoke_api_token,
        description="ADMIN: revoke the active API token of that name; every server of the catalog refuses it at once.",
    )

    @strawberry.mutation(
        description="Ask for access to an output port; granted at once where the port's agreement is open access."
    )
    async def request_access(
        self, info: t.Info, output_port: strawberry.ID, purpose: str, until: str | None = None
    ) -> access.AccessRequest:
        return await access.requested(info, iri(output_port), purpose, until)

    @strawberry.mutation(description="The owning product's owner or domain team approves or rejects a pending request.")
    async def decide_access_request(
        self, info: t.Info, id: strawberry.ID, approve: bool, reason: str | None = None
    ) -> access.AccessRequest:
        return await access.decided(info, iri(id), approve, reason)

    @strawberry.mutation(
        description="End a pending request or an agreement in force: the product's owner or domain team, or the "
        "requester withdrawing their own."
    )
    async def revoke_access(self, info: t.Info, id: strawberry.ID, reason: str | None = None) -> access.AccessRequest:
        return await access.revoked(info, iri(id), reason)


TYPES = [t.Agent, t.DataSource, t.Domain, t.Goal, t.UseCase, t.InputPort, t.OutputPort, t.ServiceLevelObjective]


class CatalogSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Log only what clients cannot fix; their own mistakes come back to them with a code."""
        for error in errors:
            if error.original_error is not None and not isinstance(error.original_error, ValuemeshError):
                super().process_errors([error], execution_context)


def create_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The schema with the limits of `settings` (the SDL does not depend on them)."""
    return CatalogSchema(
        query=Query,
        mutation=Mutation,
        types=TYPES,
        extensions=extensions(settings or Settings(store="memory:")),
        execution_context_class=execution.InlineExecutionContext if execution.supported() else None,
    )


def sdl() -> str:
    """The schema as SDL, as exported to schema.graphql."""
    return str(create_schema()) + "\n"
