"""Questions about any node by IRI: what kind of thing it is, its name, and one-hop relations, batched.

Every batch question takes a list of IRIs and asks the store once, with the IRIs in a VALUES list written by
`sparql_text.iri_ref` (the one escaping helper), so resolvers can batch per request without N+1 queries.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping

from rdflib import URIRef
from rdflib.term import Node

from server.errors import BadInput
from server.namespaces import DPROD, VM, sparql_prefixes
from server.sparql_text import iri_ref
from server.store.base import Store

# GraphQL-facing kinds, most specific first: a node typed both vm:Vision and vm:Goal is a goal.
KIND_BY_TYPE: dict[str, str] = {
    str(DPROD.DataProduct): "DataProduct",
    str(VM.DataSource): "DataSource",
    str(VM.Goal): "Goal",
    str(VM.UseCase): "UseCase",
    str(VM.Domain): "Domain",
    "http://www.w3.org/ns/prov#Agent": "Agent",
    "http://www.w3.org/ns/prov#Person": "Agent",
    "http://www.w3.org/ns/prov#Organization": "Agent",
    str(VM.InputPort): "InputPort",
    str(VM.OutputPort): "OutputPort",
    str(VM.ServiceLevelObjective): "ServiceLevelObjective",
    str(VM.AccessRequest): "AccessRequest",
}

NODE_TYPES = (
    sparql_prefixes()
    + """
SELECT ?node ?type WHERE {
  VALUES ?node { $nodes }
  ?node a ?type .
}
"""
)

LABELS = (
    sparql_prefixes()
    + """
SELECT ?node ?label WHERE {
  VALUES ?node { $nodes }
  ?node rdfs:label ?label .
}
"""
)

# One hop along a predicate, forwards (subject -> objects) or backwards (object -> subjects).
OBJECTS = (
    sparql_prefixes()
    + """
SELECT ?node ?value ?predicate WHERE {
  VALUES ?node { $nodes }
  ?node ?predicate ?value .
}
"""
)

SUBJECTS = (
    sparql_prefixes()
    + """
SELECT ?node ?value ?predicate WHERE {
  VALUES ?node { $nodes }
  ?value ?predicate ?node .
}
"""
)


def values_list(iris: Iterable[str]) -> str:
    """IRIs as the body of a VALUES list; an IRI that could escape its brackets is refused as bad input."""
    try:
        return " ".join(iri_ref(iri) for iri in iris)
    except ValueError as error:
        raise BadInput(str(error)) from None


def with_values(query: str, iris: Iterable[str], placeholder: str = "$nodes") -> str:
    return query.replace(placeholder, values_list(iris))


def unique(iris: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(iris))


# IRIs per question. Oxigraph plans a long VALUES list joined with OPTIONALs differently: PRODUCTS answers 1,000
# products in 0.3 s and 2,000 in 10.6 s (10k products: 146 s in one question, 1.5 s in pieces of 500), so every
# question about a list of nodes is asked in pieces; a remote server's URL and body limits are kept clear too.
CHUNK = 500


def select_each(
    store: Store, query: str, iris: Iterable[str], bindings: Mapping[str, Node] | None = None
) -> Iterator[dict[str, Node | None]]:
    """The rows of `query` with `$nodes` bound to `iris` (each once), asked CHUNK nodes at a time. Only for questions
    whose rows are each about one node of the list (no aggregate, no LIMIT across them)."""
    asked = unique(iris)
    for at in range(0, len(asked), CHUNK):
        yield from store.select(with_values(query, asked[at : at + CHUNK]), bindings)


def kinds(store: Store, iris: list[str]) -> dict[str, str | None]:
    """The GraphQL kind of each node (DataProduct, Goal, ...), None for unknown nodes."""
    found: dict[str, set[str]] = defaultdict(set)
    if iris:
        for row in select_each(store, NODE_TYPES, iris):
            found[str(row["node"])].add(str(row["type"]))
    answer: dict[str, str | None] = {}
    for iri in iris:
        types = found.get(iri, set())
        answer[iri] = next((kind for t, kind in KIND_BY_TYPE.items() if t in types), None)
    return answer


def labels(store: Store, iris: list[str]) -> dict[str, str | None]:
    """The display name of each node (its rdfs:label), None where it has none."""
    answer: dict[str, str | None] = dict.fromkeys(iris)
    if iris:
        for row in select_each(store, LABELS, iris):
            answer[str(row["node"])] = str(row["label"])
    return answer


def related(store: Store, iris: list[str], predicate: URIRef, *, inverse: bool = False) -> dict[str, list[str]]:
    """For each node, the nodes one `predicate` hop away (backwards when `inverse`), sorted by IRI."""
    answer: dict[str, list[str]] = {iri: [] for iri in iris}
    if iris:
        for row in select_each(store, SUBJECTS if inverse else OBJECTS, iris, {"predicate": predicate}):
            answer[str(row["node"])].append(str(row["value"]))
    return {iri: sorted(set(values)) for iri, values in answer.items()}


def literals(store: Store, iris: list[str], predicate: URIRef) -> dict[str, list[str]]:
    """For each node, the lexical values of `predicate` (e.g. a use case's indicators), sorted."""
    answer: dict[str, list[str]] = {iri: [] for iri in iris}
    if iris:
        for row in select_each(store, OBJECTS, iris, {"predicate": predicate}):
            answer[str(row["node"])].append(str(row["value"]))
    return {iri: sorted(values) for iri, values in answer.items()}


def select_texts(store: Store, query: str, iris: Iterable[str] | None = None) -> Iterator[list[str]]:
    """The rows of a SELECT as the text of each value (an IRI, a literal's lexical form, "" when unbound), read
    from the store's CSV answer; with `iris`, `$nodes` bound to them CHUNK at a time as in `select_each`. For
    questions of thousands of rows whose values are only compared and kept as text, where making rdflib terms of
    each took about half the time (goal links at 10k products: 0.9 s against 0.5 s)."""
    asked = None if iris is None else unique(iris)
    texts = (
        [query] if asked is None else [with_values(query, asked[at : at + CHUNK]) for at in range(0, len(asked), CHUNK)]
    )
    for text in texts:
        rows = csv.reader(io.StringIO(store.query_serialized(text, "text/csv").decode("utf-8"), newline=""))
        next(rows, None)  # the header: the variables
        yield from rows
