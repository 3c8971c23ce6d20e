"""The served schema keeps the public contract and matches the checked-in export."""

from __future__ import annotations

from fastapi.testclient import TestClient
from graphql import (
    GraphQLEnumType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    build_client_schema,
    build_schema,
    find_breaking_changes,
    get_introspection_query,
    lexicographic_sort_schema,
    print_schema,
)

from server.graphql.schema import sdl
from tests.conftest import REPO, SHARED

CONTRACT = SHARED / "contract" / "schema.graphql"


def served_schema(client: TestClient) -> str:
    response = client.post("/graphql", json={"query": get_introspection_query()})
    assert response.status_code == 200
    return print_schema(lexicographic_sort_schema(build_client_schema(response.json()["data"])))


def test_the_served_schema_breaks_nothing_in_the_contract(client: TestClient) -> None:
    contract = build_schema(CONTRACT.read_text())
    served = build_schema(served_schema(client))
    assert find_breaking_changes(contract, served) == []


def test_the_checked_in_export_is_what_the_code_serves(client: TestClient) -> None:
    exported = (REPO / "schema.graphql").read_text()
    assert exported == sdl(), "schema.graphql is stale: run `python -m server.graphql.export`"
    assert print_schema(lexicographic_sort_schema(build_schema(exported))) == served_schema(client)


def test_graphiql_is_offered_to_browsers(client: TestClient) -> None:
    response = client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


NEXT = SHARED / "contract" / "schema-next.graphql"
# The second wave's parts served so far: each exactly as schema-next.graphql names and types it.
BUILT_TYPES = ["Viewer", "Role"]
BUILT_FIELDS = {"Query": ["viewer"]}


def _shape(schema: GraphQLSchema, name: str, fields: list[str] | None = None) -> dict[str, object]:
    kind = schema.get_type(name)
    assert kind is not None, f"{name} is not in the schema"
    if isinstance(kind, GraphQLEnumType):
        return {"values": sorted(kind.values)}
    assert isinstance(kind, GraphQLObjectType | GraphQLInterfaceType)
    chosen = fields if fields is not None else list(kind.fields)
    return {
        field: (str(kind.fields[field].type), {a: str(arg.type) for a, arg in kind.fields[field].args.items()})
        for field in chosen
        if field in kind.fields
    } | {"missing": [f for f in chosen if f not in kind.fields]}


def test_the_second_waves_parts_built_so_far_are_as_the_next_contract_writes_them(client: TestClient) -> None:
    planned = build_schema(NEXT.read_text())
    served = build_schema(served_schema(client))
    for name in BUILT_TYPES:
        assert _shape(served, name) == _shape(planned, name), name
    for name, fields in BUILT_FIELDS.items():
        assert _shape(served, name, fields) == _shape(planned, name, fields), name
