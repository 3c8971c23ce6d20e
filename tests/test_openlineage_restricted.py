"""Observed lineage of a restricted product is hidden with it: its summary record in SPARQL, its drift in GraphQL,
and its runs may be reported only by those who may change it."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from tests.test_access_requests import Catalog
from tests.test_restricted_records import CRM, catalog, sparql  # noqa: F401 - the fixture: CRM interactions restricted

SUMMARY = f"""PREFIX vm: <https://w3id.org/valuemesh/ontology#>
SELECT ?summary WHERE {{ ?summary vm:observedLineageOf <{CRM}> }}"""
DRIFT = "query($id: ID!) { lineageDrift(id: $id) { runs } }"


def crm_run() -> bytes:
    """A run writing the table CRM interactions publishes."""
    return json.dumps(
        {
            "eventType": "COMPLETE",
            "eventTime": datetime.now(UTC).isoformat(),
            "producer": "https://example.org/airflow",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": str(uuid.uuid4())},
            "job": {"namespace": "airflow://commercial", "name": "crm.nightly"},
            "inputs": [{"namespace": "oracle://crm-prod.roche.example:1521", "name": "CRM.INTERACTIONS"}],
            "outputs": [
                {"namespace": "postgres://warehouse.roche.example:5432", "name": "commercial.crm.interactions"}
            ],
        }
    ).encode()


def report(served: Catalog, who: str) -> int:
    headers = {**served.headers[who], "Content-Type": "application/json"}
    return served.client.post("/api/v1/lineage", content=crm_run(), headers=headers).status_code


def test_runs_of_a_restricted_product_are_refused_to_outsiders_without_naming_it(catalog: Catalog) -> None:  # noqa: F811
    headers = {**catalog.headers["outsider"], "Content-Type": "application/json"}
    refused = catalog.client.post("/api/v1/lineage", content=crm_run(), headers=headers)
    assert refused.status_code == 403
    assert CRM not in refused.json()["detail"] and "the product of event 0" in refused.json()["detail"]


def test_the_observed_lineage_of_a_restricted_product_is_hidden_with_it(catalog: Catalog) -> None:  # noqa: F811
    assert report(catalog, "member") == 201
    assert sparql(catalog, "anonymous", SUMMARY) == []
    assert sparql(catalog, "outsider", SUMMARY) == []
    assert [row["summary"] for row in sparql(catalog, "member", SUMMARY)] == [CRM + "/observed-lineage"]
    hidden = catalog.client.post("/graphql", json={"query": DRIFT, "variables": {"id": CRM}}).json()
    assert hidden["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    shown = catalog.client.post(
        "/graphql", json={"query": DRIFT, "variables": {"id": CRM}}, headers=catalog.headers["owner"]
    ).json()
    assert shown["data"]["lineageDrift"]["runs"] == 1
