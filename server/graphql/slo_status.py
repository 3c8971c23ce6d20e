"""GraphQL for measured promises: SloStatus (DataProduct.sloStatus) and GoalAtRisk (Query.goalsAtRisk).

Resolvers are a few lines over the Catalog service's measurements (server/observations/).
"""

from __future__ import annotations

import asyncio
from enum import Enum
from typing import TypeVar

import strawberry
from strawberry import Private

from server.errors import NotFound
from server.graphql import types as t
from server.observations import budgets
from server.observations.risk import GoalRisk
from server.observations.risk import RiskCause as CauseRow

T = TypeVar("T")


@strawberry.enum
class BudgetStatus(Enum):
    HEALTHY = "HEALTHY"
    AT_RISK = "AT_RISK"
    EXHAUSTED = "EXHAUSTED"
    UNKNOWN = "UNKNOWN"


def _present(found: T | None, what: str, iri: str) -> T:
    if found is None:
        raise NotFound(f"no {what} {iri}")
    return found


def _status(status: budgets.BudgetStatus) -> BudgetStatus:
    return BudgetStatus(status.value)


async def _slo(info: t.Info, product: str, slo: str) -> t.ServiceLevelObjective:
    row = await info.context.loaders.product.load(product)
    agreement = await info.context.loaders.agreement.load(row.agreement) if row and row.agreement else None
    for found in agreement.slos if agreement is not None else ():
        if found.iri == slo:
            return t.ServiceLevelObjective.of(found)
    raise NotFound(f"no SLO {slo} of {product} in the catalog")


@strawberry.type(description="An SLO's state over its current period, computed from ingested measurements.")
class SloStatus:
    row: Private[budgets.SloStatus]

    @strawberry.field
    async def slo(self, info: t.Info) -> t.ServiceLevelObjective:
        return await _slo(info, self.row.objective.product, self.row.objective.iri)

    @strawberry.field(description="Measured compliance over the current period, in percent; null without measurements.")
    def measured(self) -> float | None:
        return self.row.measured

    @strawberry.field(
        description="Error budget left, in percent of the budget: 100 untouched, 0 spent, negative overspent; null "
        "without measurements."
    )
    def budget_remaining(self) -> float | None:
        return self.row.budget_remaining

    @strawberry.field(
        description="How fast the budget is being spent: 1.0 spends exactly the whole budget over the period."
    )
    def burn_rate(self) -> float | None:
        return self.row.burn_rate

    @strawberry.field
    def status(self) -> BudgetStatus:
        return _status(self.row.status)

    @strawberry.field(description="How many measurements the current period holds.")
    def measurements(self) -> int:
        return self.row.measurements


async def of_product(info: t.Info, product: str) -> list[SloStatus]:
    rows: list[budgets.SloStatus] = await info.context.loaders.slo_status.load(product)
    return [SloStatus(row=row) for row in rows]


@strawberry.type(
    description="Why a goal is at risk: a product whose SLO budget is at risk or spent, and the nodes between it and "
    "the goal."
)
class RiskCause:
    row: Private[CauseRow]

    @strawberry.field
    async def data_product(self, info: t.Info) -> t.DataProduct:
        return _present(await t.product(info, self.row.product), "data product", self.row.product)

    @strawberry.field
    async def slo(self, info: t.Info) -> t.ServiceLevelObjective:
        return await _slo(info, self.row.product, self.row.slo)

    @strawberry.field
    def status(self) -> BudgetStatus:
        return _status(self.row.status)

    @strawberry.field(description="The path from that product to the goal: downstream products, use cases, sub-goals.")
    async def via(self, info: t.Info) -> list[t.Node]:
        from server.graphql.schema import node_by_iri  # late: the schema imports this module

        found = await asyncio.gather(*(node_by_iri(info, iri) for iri in self.row.via))
        return [node for node in found if node is not None]


@strawberry.type
class GoalAtRisk:
    row: Private[GoalRisk]

    @strawberry.field
    async def goal(self, info: t.Info) -> t.Goal:
        return _present(await t.goal(info, self.row.goal), "goal", self.row.goal)

    @strawberry.field
    def status(self) -> BudgetStatus:
        return _status(self.row.status)

    @strawberry.field
    def causes(self) -> list[RiskCause]:
        return [RiskCause(row=cause) for cause in self.row.causes]


async def goals_at_risk(info: t.Info) -> list[GoalAtRisk]:
    catalog = info.context.catalog
    risks = await info.context.run(catalog.goals_at_risk, info.context.visibility)
    return [GoalAtRisk(row=risk) for risk in risks]
