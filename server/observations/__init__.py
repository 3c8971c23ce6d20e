"""SLI measurements and what they tell: error budgets per SLO, summaries in the graph, goals at risk.

The Catalog service owns one `Measurements` (`catalog.measurements`); faces call `Catalog.record_measurements`,
`Catalog.slo_statuses` and `Catalog.goals_at_risk`. docs/measurements.md describes the whole feature.
"""

from server.observations.budgets import BudgetStatus, SloStatus
from server.observations.measurements import Measurements, Recorded
from server.observations.risk import GoalRisk, RiskCause

__all__ = ["BudgetStatus", "GoalRisk", "Measurements", "Recorded", "RiskCause", "SloStatus"]
