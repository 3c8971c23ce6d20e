"""The inline executor answers exactly as graphql-core's own, data, key order and errors alike.

Each document runs twice over the same seeded catalog: through the served schema (server/graphql/execution.py)
and through the same types under Strawberry's stock executor. The answers must be identical as JSON text.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any, ClassVar, Generic, TypeVar

import pytest
import strawberry
from strawberry.extensions import SchemaExtension

from server.catalog.service import Catalog
from server.graphql.context import Context
from server.graphql.execution import InlineExecutionContext
from server.graphql.schema import TYPES, Mutation, Query, create_schema
from server.settings import Settings
from server.store import Store

CAT = "https://valuemesh.example/"
HCP_360 = CAT + "data-product/hcp-360"
NEXT_BEST_ACTION = CAT + "data-product/next-best-action"

DOCUMENTS = {
    "lineage with fragments on a union": (
        """query ($id: ID!) { lineage(id: $id) {
             root { id name }
             nodes { depth node { __typename ... on DataProduct { id name } ... on DataSource { id name } } }
             edges { source target } } }""",
        {"id": NEXT_BEST_ACTION},
    ),
    "aliases, repeated fields and an interface fragment": (
        """query ($id: ID!) { lineage(id: $id, direction: DOWNSTREAM) {
             a: nodes { d: depth node { ... on Node { id } ... on DataProduct { name id type } } }
             nodes { node { __typename } depth }
             edges { target t: target source } } }""",
        {"id": HCP_360},
    ),
    "skip and include by variable": (
        """query ($id: ID!, $yes: Boolean!) { lineage(id: $id) {
             nodes { depth @include(if: $yes) node { ... on DataSource { id name @skip(if: $yes) } } }
             edges @skip(if: $yes) { source } } }""",
        {"id": HCP_360, "yes": True},
    ),
    "a page of products with their relations": (
        """{ dataProducts(first: 5) { totalCount pageInfo { hasNextPage endCursor }
             edges { cursor node { id name job type domain { id name regulated }
                     owner { id name } outputPorts { id name mechanism } inputPorts { id name }
                     useCases { id title prioritization { score } } } } } }""",
        {},
    ),
    "goal trace, overlaps and use cases": (
        """query ($id: ID!) { goalTrace(id: $id) { useCases { id title } goals { id title } }
             overlaps { jaccard shared { __typename ... on DataSource { id name } ... on DataProduct { id } } }
             useCases { title prioritization { score } } untracedDataProducts { id name } }""",
        {"id": HCP_360},
    ),
    "introspection, as GraphiQL asks it": (
        """{ __schema { queryType { name } types { __typename name kind
             fields(includeDeprecated: true) { name args { name defaultValue } type { name kind ofType { name } } } } } }""",
        {},
    ),
    "unknown ids and errors beside data": (
        """{ dataProduct(id: "https://valuemesh.example/data-product/none") { id }
             node(id: "https://valuemesh.example/nothing") { id }
             lineage(id: "https://valuemesh.example/data-product/none") { nodes { depth } } }""",
        {},
    ),
}


def _stock_schema() -> strawberry.Schema:
    """The served types under Strawberry's own executor (the reference)."""
    return strawberry.Schema(query=Query, mutation=Mutation, types=TYPES)


def _answer(schema: strawberry.Schema, store: Store, document: str, variables: dict[str, Any]) -> str:
    settings = Settings(store="memory:", seed=False)
    context = Context(Catalog(settings, store).open())
    result = asyncio.run(schema.execute(document, variable_values=variables, context_value=context))
    errors = [{"message": e.message, "path": e.path, "locations": e.locations} for e in result.errors or []]
    return json.dumps({"data": result.data, "errors": errors}, default=str)


@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_the_served_schema_answers_as_graphql_core_does(seeded_store: Store, name: str) -> None:
    document, variables = DOCUMENTS[name]
    served = _answer(create_schema(), seeded_store, document, variables)
    stock = _answer(_stock_schema(), seeded_store, document, variables)
    assert served == stock
    assert '"data": null' not in served or name.startswith("unknown")


# A small schema whose Python objects break what the schema promises: the inline pass must step aside and let
# graphql-core report the error, located, with the same nulls propagated.


@strawberry.type
class Leaf:
    name: str
    size: int | None


@strawberry.type
class Holder:
    leaves: list[Leaf]


@strawberry.type
class Broken:
    @strawberry.field
    def holder(self) -> Holder | None:
        return Holder(leaves=[Leaf(name="a", size=1), Leaf(name=None, size=3)])  # type: ignore[arg-type]

    @strawberry.field
    def first(self) -> Leaf:
        return Leaf(name="ok", size="not a number")  # type: ignore[arg-type]


class CountingExtension(SchemaExtension):
    resolved: ClassVar[list[str]] = []

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        CountingExtension.resolved.append(info.field_name)
        return _next(root, info, *args, **kwargs)


def _run(schema: strawberry.Schema, document: str) -> str:
    result = schema.execute_sync(document)
    errors = [{"message": e.message, "path": e.path} for e in result.errors or []]
    return json.dumps({"data": result.data, "errors": errors})


def test_values_that_break_the_schema_are_reported_as_graphql_core_reports_them() -> None:
    document = "{ holder { leaves { name size } } first { name size __typename } }"
    served = _run(strawberry.Schema(query=Broken, execution_context_class=InlineExecutionContext), document)
    stock = _run(strawberry.Schema(query=Broken), document)
    assert served == stock
    answer = json.loads(served)
    assert [error["path"] for error in answer["errors"]] == [["holder", "leaves", 1, "name"], ["first", "size"]]
    assert answer["data"] == {"holder": None, "first": {"name": "ok", "size": None, "__typename": "Leaf"}}


def test_an_extension_that_wraps_resolvers_still_sees_every_field() -> None:
    document = "{ first { name } holder { leaves { size } } }"
    CountingExtension.resolved = []
    schema = strawberry.Schema(
        query=Broken, execution_context_class=InlineExecutionContext, extensions=[CountingExtension]
    )
    schema.execute_sync(document)
    assert CountingExtension.resolved == ["first", "name", "holder", "leaves", "size", "size"]


def test_a_lineage_answer_is_completed_inline_but_for_the_fields_with_resolvers(
    seeded_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    executed: list[str] = []
    general = InlineExecutionContext.execute_field

    def counting(self: InlineExecutionContext, parent_type: Any, *args: Any) -> Any:
        executed.append(parent_type.name)
        return general(self, parent_type, *args)

    monkeypatch.setattr(InlineExecutionContext, "execute_field", counting)
    document, variables = DOCUMENTS["lineage with fragments on a union"]
    answer = json.loads(_answer(create_schema(), seeded_store, document, variables))
    assert len(answer["data"]["lineage"]["nodes"]) > 5
    # lineage and root have resolvers; every node, its depth and the edges are basic fields
    assert sorted(executed) == ["LineageGraph", "Query"]


T = TypeVar("T")


@strawberry.type
class Box(Generic[T]):
    item: T


@strawberry.type
class Generics:
    @strawberry.field
    def boxes(self) -> list[Annotated[Box[int] | Box[str], strawberry.union("Either")]]:
        return [Box[int](item=1), Box[str](item="a")]


def test_a_union_of_generic_specialisations_resolves_as_strawberry_does() -> None:
    document = "{ boxes { __typename ... on IntBox { item } ... on StrBox { s: item } } }"
    served = _run(strawberry.Schema(query=Generics, execution_context_class=InlineExecutionContext), document)
    assert served == _run(strawberry.Schema(query=Generics), document)
    assert json.loads(served)["data"]["boxes"] == [
        {"__typename": "IntBox", "item": 1},
        {"__typename": "StrBox", "s": "a"},
    ]


# An interface that decides its object types itself (`resolve_type`), here against the value's Python class: the
# inline pass, which answers by class, must leave it to graphql-core. The same for a union whose type resolver the
# schema replaces.


@strawberry.interface
class Pet:
    name: str

    @classmethod
    def resolve_type(cls, obj: Any, info: Any, abstract_type: Any) -> str:
        return "Dog" if obj.name.startswith("Rex") else "Cat"


@strawberry.type
class Dog(Pet):
    pass


@strawberry.type
class Cat(Pet):
    pass


Resident = Annotated[Dog | Cat, strawberry.union("Resident")]


@strawberry.type
class Household:
    """Plain attributes, so the inline pass is the one completing the abstract values."""

    pets: list[Pet]
    residents: list[Resident]


@strawberry.type
class Kennel:
    @strawberry.field
    def household(self) -> Household:
        return Household(
            pets=[Cat(name="Rex"), Dog(name="Tom"), Dog(name="Rexa")], residents=[Cat(name="Rex"), Dog(name="Tom")]
        )


def _by_name(obj: Any, info: Any, abstract_type: Any) -> str:
    return "Dog" if obj.name.startswith("Rex") else "Cat"


def _kennel(**options: Any) -> strawberry.Schema:
    schema = strawberry.Schema(query=Kennel, types=[Dog, Cat], **options)
    schema._schema.type_map["Resident"].resolve_type = _by_name  # type: ignore[union-attr]
    return schema


def test_an_interface_with_its_own_resolve_type_answers_as_graphql_core_does() -> None:
    document = "{ household { pets { __typename name ... on Dog { dog: name } ... on Cat { cat: name } } } }"
    served = _run(_kennel(execution_context_class=InlineExecutionContext), document)
    assert served == _run(_kennel(), document)
    assert [pet["__typename"] for pet in json.loads(served)["data"]["household"]["pets"]] == ["Dog", "Cat", "Dog"]


def test_a_union_with_a_replaced_type_resolver_answers_as_graphql_core_does() -> None:
    document = "{ household { residents { __typename ... on Dog { name } ... on Cat { cat: name } } } }"
    served = _run(_kennel(execution_context_class=InlineExecutionContext), document)
    assert served == _run(_kennel(), document)
    assert [resident["__typename"] for resident in json.loads(served)["data"]["household"]["residents"]] == [
        "Dog",
        "Cat",
    ]
