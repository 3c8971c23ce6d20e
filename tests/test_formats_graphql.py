"""registerDataProduct(format: YAML) through the real GraphQL endpoint: our YAML, ODPS and DPDS detected."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import DATA, SHARED

REGISTER = """
mutation Register($document: String!) {
  registerDataProduct(document: $document, format: YAML) {
    __typename
    ... on DataProduct { id name }
    ... on RegistrationRefused { report { conforms results { message } } }
  }
}
"""
BASE = "https://valuemesh.example/"


def register(client: TestClient, document: str) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": REGISTER, "variables": {"document": document}})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_our_yaml_registers_through_graphql(client: TestClient) -> None:
    body = register(client, (DATA / "descriptors" / "hcp-call-planning.valuemesh.yaml").read_text())
    assert "errors" not in body, body
    assert body["data"]["registerDataProduct"] == {
        "__typename": "DataProduct",
        "id": BASE + "data-product/hcp-call-planning",
        "name": "HCP call planning",
    }


def test_an_odps_example_missing_checklist_items_is_refused_with_the_report(client: TestClient) -> None:
    body = register(client, (SHARED / "standards" / "odps-1.0" / "simple-data-product.odps.yaml").read_text())
    result = body["data"]["registerDataProduct"]
    assert result["__typename"] == "RegistrationRefused"
    assert any("owner" in r["message"] for r in result["report"]["results"])


def test_a_schema_invalid_dpds_document_is_a_bad_input_error(client: TestClient) -> None:
    body = register(client, (SHARED / "standards" / "dpds-1.0" / "examples" / "minimal.dpd.json").read_text())
    (error,) = body["errors"]
    assert "'name' is a required property" in error["message"]
    assert error["extensions"]["code"] == "BAD_INPUT"
