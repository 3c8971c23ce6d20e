"""Query cost analysis: what a document may ask for is bounded before anything runs; everyday questions pass."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from graphql import get_introspection_query

from server.graphql.cost import WHOLE_CATALOG_VALIDATION_COST
from server.settings import Settings
from server.store import Store
from server.web.app import create_app
from tests.conftest import REPO, ready_app
from tests.test_graphql_limits import LISTING, error_codes, post

CAT = "https://valuemesh.example/"
COMMERCIAL = CAT + "domain/commercial"
LIMIT = Settings.max_query_cost

# The probe's documents: products of a domain of a product of a domain..., first one alias, then eight.
NESTED = (
    "dataProducts(first: 500) { edges { node { domain { dataProducts { domain { dataProducts { domain { "
    "dataProducts { domain { dataProducts { name } } } } } } } } } } }"
)
EIGHT_NESTED = "{ " + " ".join(f"a{i}: {NESTED}" for i in range(8)) + " }"


def cost_in(message: str) -> int:
    found = re.search(r"query cost ([\d,]+) exceeds the limit of ([\d,]+)", message)
    assert found, message
    return int(found.group(1).replace(",", ""))


def assert_refused_for_cost(body: dict[str, Any], limit: int = LIMIT) -> int:
    """The cost error: QUERY_TOO_COMPLEX, the computed cost and the limit in the message, and no data."""
    assert body.get("data") is None, body
    assert error_codes(body) == ["QUERY_TOO_COMPLEX"], body
    (error,) = body["errors"]
    assert f"exceeds the limit of {limit:,}" in error["message"]
    cost = cost_in(error["message"])
    assert cost > limit
    assert error["extensions"]["cost"] == cost and error["extensions"]["limit"] == limit
    return cost


@pytest.fixture
def ready_store(seeded_store: Store) -> Store:
    return seeded_store


def test_nested_domain_products_are_refused_before_anything_runs(ready_store: Store, settings: Settings) -> None:
    with TestClient(ready_app(settings, ready_store), base_url="http://localhost") as client:
        before = ready_store.queries_run
        one = assert_refused_for_cost(post(client, "{ " + NESTED + " }"))
        eight = assert_refused_for_cost(post(client, EIGHT_NESTED))
        assert ready_store.queries_run == before
    assert eight == 8 * one


def test_whole_catalog_validation_costs_what_it_costs(client: TestClient) -> None:
    thirty = "{ " + " ".join(f"v{i}: validation {{ conforms }}" for i in range(30)) + " }"
    assert assert_refused_for_cost(post(client, thirty)) > 30 * WHOLE_CATALOG_VALIDATION_COST
    three = "{ a: validation { conforms } b: validation { conforms } c: validation { conforms } }"
    assert_refused_for_cost(post(client, three))
    two = post(client, "{ a: validation { conforms } b: validation { conforms } }")
    assert two == {"data": {"a": {"conforms": True}, "b": {"conforms": True}}}
    chosen = " ".join(f'v{i}: validation(ids: ["{CAT}data-product/hcp-360"]) {{ conforms }}' for i in range(30))
    assert "errors" not in post(client, "{ " + chosen + " }")


TWO_LEVELS = "domain { dataProducts { domain { dataProducts { name } } } }"


def test_a_page_size_given_by_a_variable_is_costed_at_the_maximum_page_size(client: TestClient) -> None:
    literal = post(client, "{ dataProducts(first: 2) { edges { node { " + TWO_LEVELS + " } } } }")
    assert "errors" not in literal, literal
    document = "query ($n: Int) { dataProducts(first: $n) { edges { node { " + TWO_LEVELS + " } } } }"
    for _ in range(2):  # the second answer comes from the validation cache, and must be the same refusal
        body = post(client, document, n=2)
        assert_refused_for_cost(body)
        assert "500 when given by a variable" in body["errors"][0]["message"]


def test_the_budget_is_a_setting(ready_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VALUEMESH_MAX_QUERY_COST", "100")
    settings = Settings.from_env(store="memory:", seed=False)
    assert settings.max_query_cost == 100
    with TestClient(ready_app(settings, ready_store), base_url="http://localhost") as client:
        assert_refused_for_cost(post(client, "{ domains { name dataProducts { name } } }"), limit=100)
        assert "errors" not in post(client, "{ domains { name } }")


def graphql_documents_in_the_readme() -> Iterator[str]:
    readme = (REPO / "README.md").read_text()
    yield from re.findall(r"```graphql\n(.*?)```", readme, re.S)
    for curl in re.findall(r"""-d '\{"query":\s*"(.*?)"\}'""", readme, re.S):
        yield curl.replace('\\"', '"')


def test_the_readme_queries_the_listing_and_introspection_pass(client: TestClient) -> None:
    documents = list(graphql_documents_in_the_readme())
    assert len(documents) >= 2
    for document in documents:
        body = post(client, document)
        assert "errors" not in body, (document, body)
    body = post(client, LISTING, first=500)  # the tests' largest listing, at the largest page
    assert "errors" not in body, body
    full = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
    )
    assert "errors" not in post(client, full)


def test_introspection_is_costed_too(client: TestClient) -> None:
    """Ten copies of what GraphiQL asks for in one request: each costs about a fifth of the budget."""
    introspection = get_introspection_query()
    fragments = introspection[introspection.index("fragment FullType") :]
    copies = " ".join(f"s{i}: __schema {{ types {{ ...FullType }} }}" for i in range(10))
    assert_refused_for_cost(post(client, "query Copies { " + copies + " }\n" + fragments))


def test_products_of_a_domain_page_with_first_and_after(client: TestClient) -> None:
    document = "query ($id: ID!, $after: ID) { node(id: $id) { ... on Domain { dataProducts(first: 3, after: $after) { id } } } }"
    every = post(client, "query ($id: ID!) { node(id: $id) { ... on Domain { dataProducts { id } } } }", id=COMMERCIAL)
    ids = [product["id"] for product in every["data"]["node"]["dataProducts"]]
    assert len(ids) > 3 and ids == sorted(ids)
    paged: list[str] = []
    after = None
    while True:
        page = post(client, document, id=COMMERCIAL, after=after)["data"]["node"]["dataProducts"]
        if not page:
            break
        paged += [product["id"] for product in page]
        after = page[-1]["id"]
    assert paged == ids


def test_more_products_of_a_domain_than_a_page_holds_are_refused_without_first(seeded_store: Store) -> None:
    settings = Settings(store="memory:", seed=False, max_page_size=3)
    question = "query ($id: ID!) { node(id: $id) { ... on Domain { dataProducts%s { id } } } }"
    with TestClient(create_app(settings, store=seeded_store), base_url="http://localhost") as client:
        body = post(client, question % "", id=COMMERCIAL)
        assert error_codes(body) == ["BAD_INPUT"]
        assert "more than the maximum page size (3)" in body["errors"][0]["message"]
        assert len(post(client, question % "(first: 3)", id=COMMERCIAL)["data"]["node"]["dataProducts"]) == 3
