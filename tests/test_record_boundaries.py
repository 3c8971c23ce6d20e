"""A document describes only its own records: what a user sees when one reaches into another record, and the
documents that are fine (blank nodes, names spelled their own way) or not (a lone surrogate), via GraphQL and CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from server.settings import Settings
from server.store import Store
from server.validation import validate_store
from server.web.app import create_app
from tests.conftest import DATA, CliResult, admin_token
from tests.test_graphql_mutations import snapshot

pytestmark = pytest.mark.all_backends

CAT = "https://valuemesh.example/"
DIGITAL_ENGAGEMENT = CAT + "data-product/digital-engagement"
CRM_INTERACTIONS = CAT + "data-product/crm-interactions"
BLANK_NODE_PLAN = CAT + "data-product/blank-node-plan"
HCP_360 = CAT + "data-product/hcp-360"
DPROD = "https://ekgf.github.io/dprod/"

REGISTER = """
mutation ($document: String!, $format: DocumentFormat) {
  registerDataProduct(document: $document, format: $format) {
    __typename
    ... on DataProduct { id name }
    ... on RegistrationRefused { report { results { severity message } } }
  }
}
"""

PRODUCT = """
query ($id: ID!) {
  dataProduct(id: $id) {
    name owner { id } description
    sharingAgreement { access slos { id indicator target period } }
  }
}
"""

# Each document reaches into another record; the refusal names the statement that does it.
FOREIGN = {
    "product-rewriting-another-owner.ttl": (
        "TURTLE",
        f"<{DIGITAL_ENGAGEMENT}> <{DPROD}dataProductOwner> <{CAT}data-product/evil3>",
    ),
    "product-describing-another-products-port.ttl": (
        "TURTLE",
        f"<{DIGITAL_ENGAGEMENT}> <{DPROD}dataProductOwner> <{CAT}agent/field-force-excellence-lead>",
    ),
    "product-with-named-graph.jsonld": ("JSON_LD", f"in the named graph <{CAT}data-product/named-graph-plan>"),
}

# A whole catalog file may hold named graphs, each a record; this one's graph says what crm-interactions is.
LOAD_REFUSES = {
    **{name: statement for name, (_, statement) in FOREIGN.items()},
    "product-with-named-graph.jsonld": f"the statement <{CRM_INTERACTIONS}> <http://purl.org/dc/terms/description>",
}

SAME_NAMES = ["name-differing-only-in-case.ttl", "name-differing-only-in-spacing.ttl"]
SAME_NAMES += ["name-differing-only-in-unicode-form.ttl"]


@pytest.fixture
def client(seeded_store: Store, settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings, store=seeded_store)
    with TestClient(app, base_url="http://localhost", headers=admin_token(app)) as test_client:
        yield test_client


def post(client: TestClient, operation: str, **variables: Any) -> dict[str, Any]:
    # json.dumps escapes a lone surrogate as \\ud800, as a browser's JSON.stringify does; httpx would refuse it.
    body = json.dumps({"query": operation, "variables": variables})
    response = client.post("/graphql", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def product(client: TestClient, iri: str) -> dict[str, Any]:
    body = post(client, PRODUCT, id=iri)
    assert "errors" not in body, body
    return body["data"]["dataProduct"]  # type: ignore[no-any-return]


# --- GraphQL ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FOREIGN))
def test_a_document_reaching_into_another_record_is_refused_naming_the_statement(
    client: TestClient, seeded_store: Store, name: str
) -> None:
    fmt, statement = FOREIGN[name]
    before = snapshot(seeded_store)
    body = post(client, REGISTER, document=(DATA / name).read_text(), format=fmt)
    assert body["errors"][0]["extensions"]["code"] == "BAD_INPUT"
    assert statement in body["errors"][0]["message"]
    assert snapshot(seeded_store) == before
    assert product(client, DIGITAL_ENGAGEMENT)["owner"] == {"id": CAT + "agent/head-of-digital-engagement"}
    assert product(client, CRM_INTERACTIONS)["owner"] == {"id": CAT + "agent/crm-product-owner"}
    assert validate_store(seeded_store).conforms


def test_a_product_whose_agreement_and_slo_are_blank_nodes_registers_and_reads_back(
    client: TestClient, seeded_store: Store
) -> None:
    body = post(client, REGISTER, document=(DATA / "product-with-blank-node-slo.ttl").read_text(), format="TURTLE")
    assert body["data"]["registerDataProduct"] == {
        "__typename": "DataProduct",
        "id": BLANK_NODE_PLAN,
        "name": "Blank node plan",
    }
    agreement = product(client, BLANK_NODE_PLAN)["sharingAgreement"]
    assert agreement["access"] == "APPROVAL_REQUIRED"
    [slo] = agreement["slos"]
    assert slo["id"].startswith(BLANK_NODE_PLAN + "/.well-known/genid/")  # skolemised under the product's record
    assert (slo["target"], slo["period"]) == (99.0, "P7D")
    assert validate_store(seeded_store).conforms
    page = client.get(slo["id"].removeprefix(CAT.rstrip("/")), headers={"Accept": "text/turtle"})
    assert page.status_code == 200 and "Weekly freshness" in page.text


def test_registering_the_same_blank_node_document_again_changes_nothing(
    client: TestClient, seeded_store: Store
) -> None:
    document = (DATA / "product-with-blank-node-slo.ttl").read_text()
    post(client, REGISTER, document=document, format="TURTLE")
    first = snapshot(seeded_store)
    post(client, REGISTER, document=document, format="TURTLE")
    assert snapshot(seeded_store) == first


@pytest.mark.parametrize("name", SAME_NAMES)
def test_a_name_differing_only_in_case_spacing_or_unicode_form_is_refused_naming_the_other_product(
    client: TestClient, seeded_store: Store, name: str
) -> None:
    before = snapshot(seeded_store)
    body = post(client, REGISTER, document=(DATA / name).read_text(), format="TURTLE")
    refused = body["data"]["registerDataProduct"]
    assert refused["__typename"] == "RegistrationRefused"
    messages = [r["message"] for r in refused["report"]["results"] if r["severity"] == "VIOLATION"]
    assert any(f"{HCP_360} in the same domain has the same name" in m for m in messages), messages
    assert snapshot(seeded_store) == before


def test_a_stored_name_keeps_its_spelling(client: TestClient) -> None:
    spelled = "Territory\u00a0plan "
    document = (DATA / "territory-plan.ttl").read_text().replace('"Territory plan"', f'"{spelled}"')
    body = post(client, REGISTER, document=document, format="TURTLE")
    assert body["data"]["registerDataProduct"]["name"] == spelled


def test_a_lone_surrogate_is_bad_input_with_its_location(client: TestClient, seeded_store: Store) -> None:
    before = snapshot(seeded_store)
    escaped = (DATA / "lone-surrogate.ttl").read_text()
    for document in (escaped, escaped.replace("\\uD800", "\ud800")):  # as a Turtle escape, and as JSON carries it
        body = post(client, REGISTER, document=document, format="TURTLE")
        error = body["errors"][0]
        assert error["extensions"]["code"] == "BAD_INPUT", error
        assert error["extensions"]["location"]["line"] == 7
    assert snapshot(seeded_store) == before


# --- the command line -------------------------------------------------------------------------------------------


@pytest.fixture
def store_dir(tmp_path: Path) -> str:
    return str(tmp_path / "catalog")


def exported(cli, store_dir: str, fmt: str = "nquads") -> str:  # type: ignore[no-untyped-def]
    result: CliResult = cli("export", "--format", fmt, "--store", store_dir)
    assert result.exit_code == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("name", sorted(FOREIGN))
def test_load_refuses_a_file_reaching_into_another_record(cli, store_dir: str, name: str) -> None:  # type: ignore[no-untyped-def]
    before = exported(cli, store_dir)
    result: CliResult = cli("load", str(DATA / name), "--store", store_dir)
    assert result.exit_code == 2
    assert LOAD_REFUSES[name] in " ".join(result.stderr.split())
    assert exported(cli, store_dir) == before


def test_load_of_a_whole_exported_catalog_is_accepted_as_it_is(cli, store_dir: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("load", str(DATA / "product-with-blank-node-slo.ttl"), "--store", store_dir).exit_code == 0
    catalog = tmp_path / "catalog.trig"
    catalog.write_text(exported(cli, store_dir, "trig"))
    again: CliResult = cli("load", str(catalog), "--store", store_dir)
    assert again.exit_code == 0, again.stderr
    assert "0 record(s) added, 0 replaced" in again.stderr
    assert cli("validate", "--store", store_dir).exit_code == 0


def test_load_refuses_a_catalog_file_whose_graph_describes_another_record(  # type: ignore[no-untyped-def]
    cli, store_dir: str, tmp_path: Path
) -> None:
    before = exported(cli, store_dir)
    catalog = tmp_path / "catalog.trig"
    catalog.write_text(
        f"<{HCP_360}> {{ <{HCP_360}> <{DPROD}dataProductOwner> <{CAT}agent/pjp> . "
        f"<{DIGITAL_ENGAGEMENT}> <{DPROD}dataProductOwner> <{CAT}agent/pjp> }}\n"
    )
    result: CliResult = cli("load", str(catalog), "--store", store_dir)
    assert result.exit_code == 2
    assert f"<{DIGITAL_ENGAGEMENT}> <{DPROD}dataProductOwner> <{CAT}agent/pjp>" in " ".join(result.stderr.split())
    assert exported(cli, store_dir) == before


def test_load_refuses_a_lone_surrogate_with_its_location(cli, store_dir: str) -> None:  # type: ignore[no-untyped-def]
    result: CliResult = cli("load", str(DATA / "lone-surrogate.ttl"), "--store", store_dir)
    assert result.exit_code == 2
    assert f"{DATA / 'lone-surrogate.ttl'}:7:" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
