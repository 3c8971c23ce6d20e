"""Writes through /graphql: registration (documents and typed input) validated, removal refused while consumed."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from server.formats.description import SOURCE_DESCRIPTOR, SOURCE_FORMAT
from server.store import Store

# The same questions on every store backend: memory, and each remote SPARQL server CI runs.
pytestmark = pytest.mark.all_backends

DATA = Path(__file__).parent / "data"
CAT = "https://valuemesh.example/"
HCP_360 = CAT + "data-product/hcp-360"
TERRITORY_PLAN = CAT + "data-product/territory-plan"
MEDICAL_INQUIRIES = CAT + "data-product/medical-inquiries"

REGISTER = """
mutation ($document: String!, $format: DocumentFormat) {
  registerDataProduct(document: $document, format: $format) {
    __typename
    ... on DataProduct { id name owner { id } inputPorts { sources { ... on DataProduct { id } } } useCases { id } }
    ... on RegistrationRefused { report { conforms results { focusNode severity message path item } } }
  }
}
"""

CREATE = """
mutation ($input: DataProductInput!) {
  createDataProduct(input: $input) {
    __typename
    ... on DataProduct { id name type domain { id } inputPorts { id mechanism sources { ... on DataProduct { id } } }
                         sharingAgreement { access slos { id target period errorBudget } } useCases { id } }
    ... on RegistrationRefused { report { conforms results { severity message } } }
  }
}
"""

REMOVE = "mutation ($id: ID!) { removeDataProduct(id: $id) }"


def post(client: TestClient, operation: str, **variables: Any) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": operation, "variables": variables})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def snapshot(store: Store) -> bytes:
    out = io.BytesIO()
    store.dump(out, "application/n-quads")
    return b"\n".join(sorted(out.getvalue().splitlines()))


def test_a_conforming_turtle_product_is_registered_and_joins_lineage(client: TestClient) -> None:
    body = post(client, REGISTER, document=(DATA / "territory-plan.ttl").read_text(), format="TURTLE")
    product = body["data"]["registerDataProduct"]
    assert product["__typename"] == "DataProduct"
    assert product["id"] == TERRITORY_PLAN
    assert product["inputPorts"][0]["sources"] == [{"id": HCP_360}]
    assert product["useCases"] == [{"id": CAT + "use-case/next-best-action"}]  # stated in the product's record
    impact = post(
        client,
        "query ($id: ID!) { lineage(id: $id, direction: DOWNSTREAM) { nodes { node { ... on DataProduct { id } } } } }",
        id=HCP_360,
    )
    assert {"id": TERRITORY_PLAN} in [hop["node"] for hop in impact["data"]["lineage"]["nodes"]]


def test_json_ld_is_registered_too(client: TestClient) -> None:
    body = post(client, REGISTER, document=(DATA / "territory-plan.jsonld").read_text(), format="JSON_LD")
    assert body["data"]["registerDataProduct"]["id"] == TERRITORY_PLAN


def test_a_product_failing_the_checklist_is_refused_with_the_report_and_nothing_changes(
    client: TestClient, seeded_store: Store
) -> None:
    before = snapshot(seeded_store)
    body = post(client, REGISTER, document=(DATA / "territory-plan-without-owner.ttl").read_text())
    refused = body["data"]["registerDataProduct"]
    assert refused["__typename"] == "RegistrationRefused"
    report = refused["report"]
    assert report["conforms"] is False
    violations = [r for r in report["results"] if r["severity"] == "VIOLATION"]
    assert any("owner" in r["message"].lower() for r in violations)
    assert snapshot(seeded_store) == before
    assert post(client, "query ($id: ID!) { dataProduct(id: $id) { id } }", id=TERRITORY_PLAN)["data"] == {
        "dataProduct": None
    }


def test_a_document_must_describe_exactly_one_product(client: TestClient, seeded_store: Store) -> None:
    before = snapshot(seeded_store)
    body = post(client, REGISTER, document=(DATA / "two-products.ttl").read_text())
    assert body["errors"][0]["extensions"]["code"] == "BAD_INPUT"
    assert "exactly one data product" in body["errors"][0]["message"]
    assert snapshot(seeded_store) == before


def test_malformed_turtle_is_bad_input_with_its_line(client: TestClient) -> None:
    body = post(client, REGISTER, document=(DATA / "malformed.ttl").read_text())
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_INPUT"
    assert error["extensions"]["location"]["line"] is not None


def test_removal_is_refused_while_another_product_consumes_it(client: TestClient, seeded_store: Store) -> None:
    before = snapshot(seeded_store)
    body = post(client, REMOVE, id=HCP_360)
    error = body["errors"][0]
    assert error["extensions"]["code"] == "CONFLICT"
    assert "Digital Engagement" in error["message"]
    assert "Next Best Action" in error["message"]
    assert snapshot(seeded_store) == before


def test_an_unconsumed_product_is_removed(client: TestClient) -> None:
    assert post(client, REMOVE, id=MEDICAL_INQUIRIES)["data"] == {"removeDataProduct": MEDICAL_INQUIRIES}
    listed = post(client, "{ dataProducts { totalCount } untracedDataProducts { id } }")["data"]
    assert listed["dataProducts"]["totalCount"] == 8
    assert listed["untracedDataProducts"] == []


def test_a_removed_product_is_no_longer_claimed_by_its_use_cases(client: TestClient) -> None:
    next_best_action = CAT + "data-product/next-best-action"
    serving = "{ useCases { title dataProducts { id } } }"
    before = post(client, serving)["data"]["useCases"]
    assert any(next_best_action in {p["id"] for p in u["dataProducts"]} for u in before)

    assert post(client, REMOVE, id=next_best_action)["data"] == {"removeDataProduct": next_best_action}

    after = post(client, serving)["data"]["useCases"]
    assert all(next_best_action not in {p["id"] for p in u["dataProducts"]} for u in after)


def test_removing_an_unknown_product_is_not_found(client: TestClient) -> None:
    body = post(client, REMOVE, id=CAT + "data-product/never-registered")
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def territory_plan_input(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": "Territory plan",
        "description": "Which HCPs each PJP plans to meet this quarter, from HCP 360.",
        "job": "Plan each PJP's quarter around the HCPs that matter most",
        "type": "CONSUMER_ORIENTED",
        "domain": CAT + "domain/commercial",
        "owner": CAT + "agent/field-force-excellence-lead",
        "inputPorts": [{"name": "HCP 360", "mechanism": "API", "consumes": [HCP_360 + "/port/api"]}],
        "outputPorts": [{"name": "Quarterly territory plan", "mechanism": "REPORT"}],
        "sharingAgreement": {
            "access": "APPROVAL_REQUIRED",
            "policy": "PJPs see their own territory.",
            "distributionRights": "No distribution to third parties.",
            "slos": [{"name": "Weekly freshness", "indicator": "TIMELINESS", "target": 99.0, "period": "P7D"}],
        },
        "privacyClassification": "CONFIDENTIAL",
        "consumers": [CAT + "agent/pjp"],
        "useCases": [CAT + "use-case/next-best-action"],
    }
    fields.update(changes)
    return fields


def test_typed_input_becomes_the_same_kind_of_record(client: TestClient) -> None:
    product = post(client, CREATE, input=territory_plan_input())["data"]["createDataProduct"]
    assert product["__typename"] == "DataProduct"
    assert product["id"] == TERRITORY_PLAN  # minted under the catalog base as data-product/{slug}
    assert product["inputPorts"] == [
        {"id": TERRITORY_PLAN + "/port/hcp-360", "mechanism": "API", "sources": [{"id": HCP_360}]}
    ]
    slo = product["sharingAgreement"]["slos"][0]
    assert (slo["target"], slo["period"], slo["errorBudget"]) == (99.0, "P7D", 1.0)
    assert product["useCases"] == [{"id": CAT + "use-case/next-best-action"}]
    again = post(client, CREATE, input=territory_plan_input())
    assert again["errors"][0]["extensions"]["code"] == "CONFLICT"


def test_typed_input_failing_the_checklist_is_refused(client: TestClient, seeded_store: Store) -> None:
    before = snapshot(seeded_store)
    refused = post(client, CREATE, input=territory_plan_input(privacyClassification=None, sharingAgreement=None))
    result = refused["data"]["createDataProduct"]
    assert result["__typename"] == "RegistrationRefused"
    assert result["report"]["conforms"] is False
    assert snapshot(seeded_store) == before


def test_update_replaces_an_existing_record(client: TestClient) -> None:
    document = """mutation ($id: ID!, $input: DataProductInput!) {
        updateDataProduct(id: $id, input: $input) { ... on DataProduct { id name description } } }"""
    iri = CAT + "data-product/medical-inquiries"
    changed = territory_plan_input(
        name="Medical inquiries",
        description="Inquiries from HCPs, redacted.",
        domain=CAT + "domain/medical-affairs",
        owner=CAT + "agent/medical-information-lead",
        type="SOURCE_ORIENTED",
        inputPorts=[
            {"name": "MIS extract", "mechanism": "EXTRACTOR", "consumes": [CAT + "source/medical-information-system"]}
        ],
        useCases=[],
        consumers=[],
        privacyClassification="RESTRICTED",
    )
    body = post(client, document, id=iri, input=changed)
    assert body["data"]["updateDataProduct"] == {
        "id": iri,
        "name": "Medical inquiries",
        "description": "Inquiries from HCPs, redacted.",
    }
    missing = post(client, document, id=CAT + "data-product/nope", input=changed)
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_yaml_descriptors_go_through_the_descriptor_formats(client: TestClient) -> None:
    document = (DATA / "descriptors" / "hcp-call-planning.valuemesh.yaml").read_text()
    product = post(client, REGISTER, document=document, format="YAML")["data"]["registerDataProduct"]
    assert product["__typename"] == "DataProduct"
    assert product["name"] == "HCP call planning"
    assert product["inputPorts"][0]["sources"] == [{"id": CAT + "data-product/crm-interactions"}]
    broken = post(client, REGISTER, document="name: [unclosed", format="YAML")
    assert broken["errors"][0]["extensions"]["code"] == "BAD_INPUT"


def test_a_product_document_cannot_replace_a_domain(client: TestClient, seeded_store: Store) -> None:
    before = snapshot(seeded_store)
    body = post(client, REGISTER, document=(DATA / "product-document-replacing-a-domain.ttl").read_text())
    assert body["errors"][0]["extensions"]["code"] == "BAD_INPUT"
    assert CAT + "domain/commercial" in body["errors"][0]["message"]
    assert snapshot(seeded_store) == before


LISTING = "query ($after: String) { dataProducts(first: 3, after: $after) { totalCount edges { node { id } } pageInfo { hasNextPage endCursor } } }"


def listing(client: TestClient) -> tuple[list[str], int]:
    """Every product id, page by page, and the total count the first page gave."""
    page = post(client, LISTING)["data"]["dataProducts"]
    ids, total = [edge["node"]["id"] for edge in page["edges"]], page["totalCount"]
    while page["pageInfo"]["hasNextPage"]:
        page = post(client, LISTING, after=page["pageInfo"]["endCursor"])["data"]["dataProducts"]
        ids += [edge["node"]["id"] for edge in page["edges"]]
    return ids, total


def test_the_product_listing_follows_registration_and_removal(client: TestClient) -> None:
    deadline = time.monotonic() + 30
    while client.get("/healthz").json()["lineage_index"] == "building" and time.monotonic() < deadline:
        time.sleep(0.05)  # then pages come from the derived listing (embedded stores), which writes must keep current
    before, count = listing(client)
    assert before == sorted(before) and count == len(before) == 9

    post(client, REGISTER, document=(DATA / "territory-plan.ttl").read_text(), format="TURTLE")
    assert listing(client) == (sorted([*before, TERRITORY_PLAN]), 10)

    post(client, REMOVE, id=TERRITORY_PLAN)
    assert listing(client) == (before, 9)


def test_typed_input_and_the_same_descriptor_give_one_product_and_the_same_record(
    client: TestClient, seeded_store: Store
) -> None:
    # One builder and one minter behind both: the descriptor of a product created through GraphQL updates it.
    assert post(client, CREATE, input=territory_plan_input())["data"]["createDataProduct"]["id"] == TERRITORY_PLAN
    typed = seeded_store.record(TERRITORY_PLAN)
    document = (DATA / "descriptors" / "territory-plan.valuemesh.yaml").read_text()
    registered = post(client, REGISTER, document=document, format="YAML")["data"]["registerDataProduct"]
    assert registered["id"] == TERRITORY_PLAN
    described = seeded_store.record(TERRITORY_PLAN)
    provenance = {SOURCE_FORMAT, SOURCE_DESCRIPTOR}  # which format it came from, kept on the record
    assert {t for t in described if t[1] not in provenance} == set(typed)
