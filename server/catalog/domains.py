"""Domains: the organisational units products belong to; a regulated domain requires privacy classification."""

from __future__ import annotations

from dataclasses import dataclass

from server.catalog.nodes import select_each
from server.namespaces import sparql_prefixes
from server.store.base import Store

ALL_DOMAINS = (
    sparql_prefixes()
    + """
SELECT ?domain WHERE { ?domain a vm:Domain } ORDER BY ?domain
"""
)

DOMAINS = (
    sparql_prefixes()
    + """
SELECT ?domain ?name ?regulated WHERE {
  VALUES ?domain { $nodes }
  ?domain a vm:Domain .
  OPTIONAL { ?domain rdfs:label ?name }
  OPTIONAL { ?domain vm:regulated ?regulated }
}
"""
)


@dataclass(frozen=True)
class DomainRow:
    iri: str
    name: str
    regulated: bool


def all_domains(store: Store) -> list[str]:
    return [str(iri) for iri in store.select(ALL_DOMAINS).column("domain")]


def domains_by_iri(store: Store, iris: list[str]) -> dict[str, DomainRow | None]:
    answer: dict[str, DomainRow | None] = dict.fromkeys(iris)
    if not iris:
        return answer
    for row in select_each(store, DOMAINS, iris):
        iri = str(row["domain"])
        if answer.get(iri) is None:
            regulated = row["regulated"] is not None and bool(row["regulated"].toPython())  # type: ignore[union-attr,attr-defined]
            answer[iri] = DomainRow(iri, str(row["name"]) if row["name"] is not None else iri, regulated)
    return answer
