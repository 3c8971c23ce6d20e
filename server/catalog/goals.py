"""The Lean Value Tree: the vision at the root, goals and sub-goals below it (`vm:subGoalOf`)."""

from __future__ import annotations

from dataclasses import dataclass

from server.catalog.nodes import select_each
from server.namespaces import sparql_prefixes
from server.store.base import Store

ROOTS = (
    sparql_prefixes()
    + """
SELECT ?goal WHERE {
  ?goal a vm:Goal .
  FILTER NOT EXISTS { ?goal vm:subGoalOf ?parent }
}
ORDER BY ?goal
"""
)

GOALS = (
    sparql_prefixes()
    + """
SELECT ?goal ?title ?parent WHERE {
  VALUES ?goal { $nodes }
  ?goal a vm:Goal .
  OPTIONAL { ?goal rdfs:label ?title }
  OPTIONAL { ?goal vm:subGoalOf ?parent }
}
"""
)


@dataclass(frozen=True)
class GoalRow:
    iri: str
    title: str
    parent: str | None


def root_goals(store: Store) -> list[str]:
    return [str(iri) for iri in store.select(ROOTS).column("goal")]


def goals_by_iri(store: Store, iris: list[str]) -> dict[str, GoalRow | None]:
    answer: dict[str, GoalRow | None] = dict.fromkeys(iris)
    if not iris:
        return answer
    for row in select_each(store, GOALS, iris):
        iri = str(row["goal"])
        if answer.get(iri) is None:
            title = str(row["title"]) if row["title"] is not None else iri
            parent = str(row["parent"]) if row["parent"] is not None else None
            answer[iri] = GoalRow(iri, title, parent)
    return answer
