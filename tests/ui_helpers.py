"""What the UI's HTTP tests share: writes through GraphQL as the `client` fixture's ADMIN, an anonymous client, and
reading a page's product table as a person reads it."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

from fastapi.testclient import TestClient

CAT = "https://valuemesh.example/"
HTML = {"Accept": "text/html"}

CREATE = """
mutation ($input: DataProductInput!) {
  createDataProduct(input: $input) {
    __typename
    ... on DataProduct { id }
    ... on RegistrationRefused { report { results { message } } }
  }
}
"""


def product_input(name: str, **changes: Any) -> dict[str, Any]:
    """A product meeting the checklist, in Marketing (not regulated), with `changes`."""
    fields: dict[str, Any] = {
        "name": name,
        "description": f"{name}: a product made by the tests.",
        "job": "Show the UI a product it did not know",
        "type": "SOURCE_ORIENTED",
        "domain": CAT + "domain/marketing",
        "owner": CAT + "agent/head-of-digital-engagement",
        "outputPorts": [{"name": "Files", "mechanism": "FILE"}],
        "sharingAgreement": {
            "access": "OPEN_ACCESS",
            "policy": "Anyone in the company.",
            "distributionRights": "No distribution to third parties.",
            "slos": [{"name": "Daily freshness", "indicator": "TIMELINESS", "target": 99.0, "period": "P1D"}],
        },
    }
    fields.update(changes)
    return fields


def create(client: TestClient, fields: dict[str, Any]) -> str:
    """Register a product through GraphQL (the write path every face uses); its IRI."""
    response = client.post("/graphql", json={"query": CREATE, "variables": {"input": fields}})
    assert response.status_code == 200, response.text
    made = response.json()["data"]["createDataProduct"]
    assert made["__typename"] == "DataProduct", made
    return str(made["id"])


def anonymous(client: TestClient) -> TestClient:
    """The same running app, asked by someone without a token."""
    return TestClient(client.app, base_url="http://localhost")


def product_names(page: str) -> list[str]:
    """The product names of a page's product table, in order, as text."""
    body = page.split('<table class="products">', 1)[-1].split("</table>", 1)[0] if "products" in page else ""
    return [unescape(name) for name in re.findall(r'<tr>\s*<td><a href="[^"]*">([^<]*)</a>', body)]


def text_of(page: str) -> str:
    """The page's text without tags, with spaces collapsed."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", page))).strip()
