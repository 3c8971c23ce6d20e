"""`/graphql` as GraphQL-over-HTTP clients see it: the spec's own audit suite (graphql-http's `serverAudits`, run by
Node against the app under uvicorn) passes whole, and the two media types answer request errors as the spec says."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server.graphql.router import preferred_media_type
from server.settings import Settings
from server.store import MemoryStore
from server.web.app import create_app
from tests.conftest import free_port, serving

AUDIT = Path(__file__).resolve().parent.parent / "scripts" / "graphql-audit"
INSTALL = "install Node.js 20 or newer and run `npm ci --prefix scripts/graphql-audit` (README, 'Run the tests')"
GRAPHQL_RESPONSE = "application/graphql-response+json"

PARSE_ERROR = {"query": "{"}
VALIDATION_ERROR = {"query": "{ noSuchField }"}
VARIABLE_ERROR = {"query": "query ($id: ID!) { dataProduct(id: $id) { id } }", "variables": {"id": None}}
FIELD_ERROR = {"query": '{ dataProduct(id: "hcp-360") { id } }'}


@pytest.fixture(scope="module")
def graphql_url(seed_nquads: bytes) -> Iterator[str]:
    """`/graphql` of the app under uvicorn on a free port of 127.0.0.1 (an allowed Host) over the seeded catalog."""
    store = MemoryStore()
    store.bulk_load(seed_nquads, "application/n-quads")
    port = free_port()
    with serving(create_app(Settings(store="memory:", seed=False, port=port), store=store), port) as url:
        yield url + "/graphql"


def test_the_graphql_over_http_audit_passes_every_check(graphql_url: str) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"node is not on PATH: {INSTALL}")
    if not (AUDIT / "node_modules" / "graphql-http" / "package.json").is_file():
        pytest.fail(f"graphql-http is not installed in {AUDIT}: {INSTALL}")
    run = subprocess.run(
        [node, str(AUDIT / "audit.mjs"), graphql_url], capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, f"the audit did not run:\n{run.stderr}"
    summary = json.loads(run.stdout)
    failing = [
        f"{audit['id']} {audit['status']}: {audit['name']} ({audit['reason']})"
        for audit in summary["audits"]
        if audit["status"] != "ok"
    ]
    assert not failing, f"{summary['counts']}; not ok:\n" + "\n".join(failing)
    assert summary["counts"]["ok"] == len(summary["audits"]) > 50


@pytest.mark.parametrize(
    "body", [PARSE_ERROR, VALIDATION_ERROR, VARIABLE_ERROR], ids=["parse", "validation", "variables"]
)
def test_a_request_error_is_400_without_data_in_graphql_response_json(
    client: TestClient, body: dict[str, object]
) -> None:
    response = client.post("/graphql", json=body, headers={"accept": GRAPHQL_RESPONSE})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == f"{GRAPHQL_RESPONSE}; charset=utf-8"
    answer = response.json()
    assert "data" not in answer
    assert answer["errors"][0]["extensions"]["code"] in (
        "GRAPHQL_PARSE_FAILED",
        "GRAPHQL_VALIDATION_FAILED",
        "BAD_INPUT",
    )


@pytest.mark.parametrize(
    "body", [PARSE_ERROR, VALIDATION_ERROR, VARIABLE_ERROR], ids=["parse", "validation", "variables"]
)
@pytest.mark.parametrize("accept", ["application/json", "*/*", None])
def test_a_request_error_is_200_with_null_data_in_application_json(
    client: TestClient, body: dict[str, object], accept: str | None
) -> None:
    response = client.post("/graphql", json=body, headers={"accept": accept} if accept else {})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert answer["data"] is None
    assert answer["errors"][0]["extensions"]["code"] != "INTERNAL"


def test_bad_variables_are_bad_input_with_graphql_cores_reason(client: TestClient) -> None:
    answer = client.post("/graphql", json=VARIABLE_ERROR).json()
    assert [error["extensions"]["code"] for error in answer["errors"]] == ["BAD_INPUT"]
    assert "Variable '$id' has invalid value" in answer["errors"][0]["message"]


def test_a_field_error_keeps_its_data_and_status_200_in_both_media_types(client: TestClient) -> None:
    for accept in (GRAPHQL_RESPONSE, "application/json"):
        response = client.post("/graphql", json=FIELD_ERROR, headers={"accept": accept})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith(accept)
        answer = response.json()
        assert answer["data"] == {"dataProduct": None}
        assert [error["extensions"]["code"] for error in answer["errors"]] == ["BAD_INPUT"]


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (None, "application/json"),
        ("", "application/json"),
        ("*/*", "application/json"),
        ("application/json", "application/json"),
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}, application/json;q=0.9", GRAPHQL_RESPONSE),
        (f"application/json, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE};q=0.5, application/json", "application/json"),
        (f"{GRAPHQL_RESPONSE};q=0.5, */*;q=0.8", "application/json"),
        (f"{GRAPHQL_RESPONSE};q=0", "application/json"),
        (f"{GRAPHQL_RESPONSE};q=nonsense", "application/json"),
        ("text/html", "application/json"),
    ],
)
def test_the_answers_media_type_follows_the_clients_preference(accept: str | None, media_type: str) -> None:
    assert preferred_media_type(accept) == media_type


def test_graphiql_still_opens_in_a_browser(client: TestClient) -> None:
    response = client.get("/graphql", headers={"accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()
