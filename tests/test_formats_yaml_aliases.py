"""YAML aliases are budgeted: a "billion laughs" descriptor is refused at once, through GraphQL and the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from server.formats.loading import MAX_NODES
from tests.conftest import DATA, CliResult

BILLION_LAUGHS = DATA / "billion-laughs.yaml"
WITH_ANCHORS = DATA / "descriptors" / "weekly-plan-with-anchors.valuemesh.yaml"
REGISTER = """
mutation Register($document: String!) {
  registerDataProduct(document: $document, format: YAML) {
    __typename
    ... on DataProduct { id name description job }
  }
}
"""
# Line 6 is where the running count first passes the budget (a-e stand for about 75,000 values, f's first alias
# for 66,430 more); without the budget, expanding the document takes gigabytes.
OVER_AT_LINE = 6


def register(client: TestClient, document: str) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": REGISTER, "variables": {"document": document}})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_billion_laughs_document_is_bad_input_naming_the_alias_line(client: TestClient) -> None:
    body = register(client, BILLION_LAUGHS.read_text())
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_INPUT"
    assert f"more than {MAX_NODES:,} values once its aliases are expanded" in error["message"]
    assert error["extensions"]["location"]["line"] == OVER_AT_LINE
    assert body["data"] is None


def test_a_recursive_alias_is_bad_input(client: TestClient) -> None:
    body = register(client, "name: &loop [a, *loop]\n")
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_INPUT"
    assert "recursive" in error["message"]


def test_too_many_aliases_are_bad_input_even_when_they_stand_for_little(client: TestClient) -> None:
    document = "x: &x 1\nitems: [" + ", ".join(["*x"] * 1_001) + "]\n"
    (error,) = register(client, document)["errors"]
    assert error["extensions"]["code"] == "BAD_INPUT"
    assert "more than 1,000 aliases" in error["message"]


def test_a_descriptor_with_a_few_anchors_still_registers(client: TestClient) -> None:
    body = register(client, WITH_ANCHORS.read_text())
    assert "errors" not in body, body
    product = body["data"]["registerDataProduct"]
    assert product["name"] == "Weekly visit plan"
    assert product["description"] == product["job"] == "Which HCPs each PJP should visit next week."


def test_the_cli_refuses_a_billion_laughs_document_with_its_file_and_line(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result: CliResult = cli("register", str(BILLION_LAUGHS), "--store", str(tmp_path / "catalog"))
    assert result.exit_code == 2
    assert f"billion-laughs.yaml:{OVER_AT_LINE}" in result.stderr
    assert "once its aliases are expanded" in result.stderr
