"""Use cases and their prioritization; the score is the sum of the seven criteria, computed and never stored."""

from __future__ import annotations

from dataclasses import dataclass

from server.catalog.nodes import select_each
from server.namespaces import sparql_prefixes
from server.store.base import Store

CRITERIA = ("businessValue", "timeCriticality", "riskReduction", "reach", "impact", "confidence", "effort")

_CRITERIA_PATTERNS = "\n  ".join(f"OPTIONAL {{ ?useCase vm:{name} ?{name} }}" for name in CRITERIA)

RANKED = (
    sparql_prefixes()
    + f"""
SELECT ?useCase ?score WHERE {{
  ?useCase a vm:UseCase .
  {_CRITERIA_PATTERNS}
  BIND({" + ".join(f"?{name}" for name in CRITERIA)} AS ?score)
}}
ORDER BY DESC(?score) ?useCase
"""
)

# One page of the prioritization table, sorted on the store by a criterion, the score or the title: use cases
# without a value for the column come last either way; ties by score (highest first), then by title.
SORTED_PAGE = (
    sparql_prefixes()
    + f"""
SELECT ?useCase WHERE {{
  ?useCase a vm:UseCase .
  OPTIONAL {{ ?useCase rdfs:label ?label }}
  {_CRITERIA_PATTERNS}
  BIND({" + ".join(f"?{name}" for name in CRITERIA)} AS ?score)
  BIND(LCASE(STR(COALESCE(?label, ?useCase))) AS ?title)
  BIND(#KEY AS ?key)
}}
ORDER BY (!BOUND(?key)) #ORDER(?key) DESC(?score) ?title ?useCase
LIMIT #LIMIT OFFSET #OFFSET
"""
)
SORT_KEYS = {"score": "?score", "title": "?title", **{name: f"?{name}" for name in CRITERIA}}

COUNT = sparql_prefixes() + "SELECT (COUNT(?useCase) AS ?count) WHERE { ?useCase a vm:UseCase }"
ALL = sparql_prefixes() + "SELECT ?useCase WHERE { ?useCase a vm:UseCase }"

USE_CASES = (
    sparql_prefixes()
    + f"""
SELECT ?useCase ?title ?hypothesis {" ".join(f"?{name}" for name in CRITERIA)} WHERE {{
  VALUES ?useCase {{ $nodes }}
  ?useCase a vm:UseCase .
  OPTIONAL {{ ?useCase rdfs:label ?title }}
  OPTIONAL {{ ?useCase vm:hypothesis ?hypothesis }}
  {_CRITERIA_PATTERNS}
}}
"""
)


@dataclass(frozen=True)
class Prioritization:
    business_value: int
    time_criticality: int
    risk_reduction: int
    reach: int
    impact: int
    confidence: int
    effort: int

    @property
    def score(self) -> int:
        return (
            self.business_value
            + self.time_criticality
            + self.risk_reduction
            + self.reach
            + self.impact
            + self.confidence
            + self.effort
        )


@dataclass(frozen=True)
class UseCaseRow:
    iri: str
    title: str
    hypothesis: str
    prioritization: Prioritization | None


def ranked_use_cases(store: Store) -> list[str]:
    """Use case IRIs, highest score first (use cases missing a criterion have no score and come last)."""
    return [str(iri) for iri in store.select(RANKED).column("useCase")]


def sorted_use_cases(store: Store, key: str, descending: bool, offset: int, limit: int) -> list[str]:
    """Use case IRIs in the table's order by `key` (a criterion's name, "score" or "title"), `limit` from `offset`."""
    query = (
        SORTED_PAGE.replace("#KEY", SORT_KEYS[key])
        .replace("#ORDER", "DESC" if descending else "ASC")
        .replace("#LIMIT", str(int(limit)))
        .replace("#OFFSET", str(int(offset)))
    )
    return [str(iri) for iri in store.select(query).column("useCase")]


def all_use_cases(store: Store) -> list[str]:
    """Every use case's IRI, in no particular order (ranked_use_cases scores and sorts them)."""
    return [str(iri) for iri in store.select(ALL).column("useCase")]


def count_use_cases(store: Store) -> int:
    """How many use cases the catalog holds (without ranking them: 40k use cases take seconds to score)."""
    return sum(int(value) for value in store.select(COUNT).column("count") if value is not None)  # type: ignore[call-overload]


def use_cases_by_iri(store: Store, iris: list[str]) -> dict[str, UseCaseRow | None]:
    answer: dict[str, UseCaseRow | None] = dict.fromkeys(iris)
    for row in select_each(store, USE_CASES, iris):
        iri = str(row["useCase"])
        if answer.get(iri) is not None:
            continue
        values = [row[name] for name in CRITERIA]
        prioritization = None
        if all(v is not None for v in values):
            prioritization = Prioritization(*(int(v.toPython()) for v in values))  # type: ignore[union-attr]
        answer[iri] = UseCaseRow(
            iri=iri,
            title=str(row["title"]) if row["title"] is not None else iri,
            hypothesis=str(row["hypothesis"]) if row["hypothesis"] is not None else "",
            prioritization=prioritization,
        )
    return answer
