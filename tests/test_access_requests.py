"""Access requests through /graphql with API tokens: asking, deciding, revoking, expiry, who sees what, and the
agreements SPARQL sees; a product removed or changed takes its agreements with it. The core of the workflow also
runs on every configured remote SPARQL server (`all_backends`)."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from graphql import build_schema, find_breaking_changes
from rdflib import RDF, Graph, Literal, URIRef
from rdflib.compare import isomorphic

from server.catalog import access_requests
from server.catalog.bulk_load import load_files
from server.catalog.events import encode_cursor, event_count, events_after
from server.catalog.history import Action, history
from server.catalog.removal import remove_data_product
from server.catalog.seeding import prepare
from server.catalog.writes import StaleRead, record_key, write_records
from server.errors import Conflict, Forbidden, NotFound
from server.formats import export
from server.graphql.schema import sdl
from server.identity.policy import ACCESS_REQUESTS
from server.identity.principal import SYSTEM, Principal, Role
from server.namespaces import DCT, PROV, VM
from server.query_library import library
from server.settings import Settings
from server.store import MemoryStore, Store
from server.store.oxigraph import OxigraphStore
from server.web.app import create_app
from tests.conftest import SHARED

CAT = "https://valuemesh.example/"
COMMERCIAL = CAT + "domain/commercial"
MARKETING = CAT + "domain/marketing"
CRM = CAT + "data-product/crm-interactions"  # Access Approval Required, Commercial, owned by the CRM product owner
CRM_TABLE = CRM + "/port/table"
CRM_OWNER = CAT + "agent/crm-product-owner"
MASTER_DATA = CAT + "data-product/hcp-master-data"  # Open Access
MASTER_DATA_API = MASTER_DATA + "/port/api"
MEDICAL = CAT + "data-product/medical-inquiries"  # approval required, Medical Affairs, consumed by no product
MEDICAL_REPORT = MEDICAL + "/port/report"
MEDICAL_FILE = MEDICAL + "/port/file"
MEDICAL_OWNER = CAT + "agent/medical-information-lead"
ANALYST = "https://example.org/agent/churn-analyst"
ADMIN = Principal(
    id="https://example.org/agent/platform-team", name="admin", roles=frozenset({Role.ADMIN}), via="token"
)

FIELDS = """id status purpose until reason requestedAt decidedAt requester { id } decidedBy { id }
            outputPort { id name } dataProduct { id name }"""
REQUEST = f"""mutation ($port: ID!, $purpose: String!, $until: String) {{
  requestAccess(outputPort: $port, purpose: $purpose, until: $until) {{ {FIELDS} }}
}}"""
DECIDE = f"""mutation ($id: ID!, $approve: Boolean!, $reason: String) {{
  decideAccessRequest(id: $id, approve: $approve, reason: $reason) {{ {FIELDS} }}
}}"""
REVOKE = f"mutation ($id: ID!, $reason: String) {{ revokeAccess(id: $id, reason: $reason) {{ {FIELDS} }} }}"
LIST = "query ($status: AccessRequestStatus, $product: ID) { accessRequests(status: $status, dataProduct: $product) { id status } }"
NODE = "query ($id: ID!) { node(id: $id) { __typename ... on AccessRequest { id status } } }"

AGREEMENTS = """
PREFIX odrl: <http://www.w3.org/ns/odrl/2/>
SELECT ?a ?who ?port WHERE { ?a a odrl:Agreement ; odrl:assignee ?who ; odrl:target ?port }
"""


@dataclass
class Catalog:
    """The app over the seed, and the API tokens of the people in these tests (anonymous: no header)."""

    app: FastAPI
    client: TestClient
    store: Store
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    def person(self, who: str, agent: str, *, domains: tuple[str, ...] = (), roles: tuple[Role, ...] = ()) -> None:
        secret, _ = self.app.state.catalog.identity.tokens.create(
            who, agent=agent, domains=list(domains), roles=list(roles) or [Role.READER], expires_in=None
        )
        self.headers[who] = {"Authorization": f"Bearer {secret}"}

    def post(self, who: str, document: str, **variables: Any) -> dict[str, Any]:
        response = self.client.post(
            "/graphql", json={"query": document, "variables": variables}, headers=self.headers.get(who, {})
        )
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def data(self, who: str, document: str, **variables: Any) -> dict[str, Any]:
        body = self.post(who, document, **variables)
        assert "errors" not in body, body["errors"]
        return body["data"]  # type: ignore[no-any-return]

    def refused(self, who: str, document: str, **variables: Any) -> tuple[str, str]:
        """The error code and message of a refused operation."""
        body = self.post(who, document, **variables)
        assert body.get("errors"), body
        return body["errors"][0]["extensions"]["code"], body["errors"][0]["message"]

    def ask(self, who: str, port: str, purpose: str = "a churn model", until: str | None = None) -> dict[str, Any]:
        return self.data(who, REQUEST, port=port, purpose=purpose, until=until)["requestAccess"]  # type: ignore[no-any-return]

    def sparql(self, query: str) -> list[dict[str, str]]:
        response = self.client.get(
            "/sparql", params={"query": query}, headers={"Accept": "application/sparql-results+json"}
        )
        assert response.status_code == 200, response.text
        rows = response.json()["results"]["bindings"]
        return [{name: value["value"] for name, value in row.items()} for row in rows]

    def agreements(self) -> set[tuple[str, str]]:
        return {(row["who"], row["port"]) for row in self.sparql(AGREEMENTS)}

    def snapshot(self) -> bytes:
        out = io.BytesIO()
        self.store.dump(out, "application/n-quads")
        return b"\n".join(sorted(out.getvalue().splitlines()))


@pytest.fixture
def catalog(seeded_store: Store, settings: Settings) -> Iterator[Catalog]:
    app = create_app(settings, store=seeded_store)
    with TestClient(app, base_url="http://localhost") as client:
        catalog = Catalog(app, client, seeded_store)
        catalog.person("analyst", ANALYST)
        catalog.person("crm-owner", CRM_OWNER)
        catalog.person("medical-owner", MEDICAL_OWNER)
        catalog.person(
            "commercial-member", "https://example.org/agent/commercial-dev", domains=(COMMERCIAL,),
            roles=(Role.DOMAIN_MEMBER,),
        )  # fmt: skip
        catalog.person(
            "outsider", "https://example.org/agent/web-team", domains=(MARKETING,), roles=(Role.DOMAIN_MEMBER,)
        )
        catalog.person("auditor", "https://example.org/agent/audit", roles=(Role.GOVERNANCE,))
        catalog.person("admin", "https://example.org/agent/platform-team", roles=(Role.ADMIN,))
        yield catalog


# --- asking ------------------------------------------------------------------------------------------------------


@pytest.mark.all_backends
def test_an_open_access_port_is_granted_at_once(catalog: Catalog) -> None:
    granted = catalog.ask("analyst", MASTER_DATA_API, until="2099-12-31")
    assert granted["status"] == "APPROVED"
    assert granted["requester"] == {"id": ANALYST}
    assert granted["decidedBy"] is None  # nobody decided: the agreement is open access
    assert "Open Access" in granted["reason"]
    assert granted["outputPort"] == {"id": MASTER_DATA_API, "name": "HCP master data API"}
    assert granted["dataProduct"]["id"] == MASTER_DATA
    assert granted["until"] == "2099-12-31"
    assert granted["decidedAt"] == granted["requestedAt"]
    assert (ANALYST, MASTER_DATA_API) in catalog.agreements()


def test_an_approval_required_port_waits_for_a_decision(catalog: Catalog) -> None:
    pending = catalog.ask("analyst", CRM_TABLE, purpose="predict churn of HCPs")
    assert pending["status"] == "PENDING"
    assert pending["purpose"] == "predict churn of HCPs"
    assert pending["decidedBy"] is None and pending["decidedAt"] is None and pending["until"] is None
    assert pending["id"].startswith(CAT + "access-request/")
    assert (ANALYST, CRM_TABLE) not in catalog.agreements()
    assert [r["id"] for r in catalog.data("crm-owner", LIST, status="PENDING")["accessRequests"]] == [pending["id"]]


@pytest.mark.all_backends
def test_the_owner_approves_with_a_reason_and_sparql_sees_the_agreement(catalog: Catalog) -> None:
    pending = catalog.ask("analyst", CRM_TABLE, until="2099-06-30")
    approved = catalog.data("crm-owner", DECIDE, id=pending["id"], approve=True, reason="purpose fits the policy")
    answer = approved["decideAccessRequest"]
    assert answer["status"] == "APPROVED"
    assert answer["decidedBy"] == {"id": CRM_OWNER}
    assert answer["reason"] == "purpose fits the policy"
    assert answer["decidedAt"] is not None
    assert (ANALYST, CRM_TABLE) in catalog.agreements()

    # The agreement in ODRL terms, under the product's offer, and the PROV trail of who did what when.
    rows = catalog.sparql(
        f"""PREFIX odrl: <http://www.w3.org/ns/odrl/2/> PREFIX prov: <http://www.w3.org/ns/prov#>
        PREFIX dct: <http://purl.org/dc/terms/> PREFIX dcat: <http://www.w3.org/ns/dcat#>
        SELECT ?assigner ?offer ?action ?end WHERE {{
          <{pending["id"]}> a odrl:Agreement ; odrl:assigner ?assigner ; prov:wasDerivedFrom ?offer ;
              odrl:permission [ odrl:action ?action ; odrl:target <{CRM_TABLE}> ] ;
              dct:temporal/dcat:endDate ?end .
          <{CRM}> odrl:hasPolicy ?offer . ?offer a odrl:Offer .
        }}"""
    )
    assert rows == [
        {"assigner": CRM_OWNER, "offer": CRM + "/agreement", "action": "http://www.w3.org/ns/odrl/2/use",
         "end": "2099-06-30"}
    ]  # fmt: skip
    trail = catalog.sparql(
        f"""PREFIX prov: <http://www.w3.org/ns/prov#>
        SELECT ?type ?agent ?at WHERE {{
          GRAPH <{pending["id"]}> {{
            <{pending["id"]}> prov:wasGeneratedBy|prov:wasInfluencedBy ?activity .
            ?activity a prov:Activity , ?type ; prov:wasAssociatedWith ?agent ; prov:endedAtTime ?at .
            FILTER (?type != prov:Activity)
          }}
        }}"""
    )
    assert {(row["type"], row["agent"]) for row in trail} == {
        (str(VM.RequestingAccess), ANALYST),
        (str(VM.ApprovingAccess), CRM_OWNER),
    }


def test_a_member_of_the_owning_domain_and_an_admin_may_decide(catalog: Catalog) -> None:
    first = catalog.ask("analyst", CRM_TABLE)
    catalog.data("commercial-member", DECIDE, id=first["id"], approve=False, reason="no purpose stated")
    second = catalog.ask("analyst", CRM_TABLE)
    decided = catalog.data("admin", DECIDE, id=second["id"], approve=True)["decideAccessRequest"]
    assert decided["status"] == "APPROVED" and decided["decidedBy"] == {"id": "https://example.org/agent/platform-team"}
    statuses = {r["id"]: r["status"] for r in catalog.data("analyst", LIST)["accessRequests"]}
    assert statuses == {first["id"]: "REJECTED", second["id"]: "APPROVED"}


@pytest.mark.parametrize("who", ["outsider", "analyst", "auditor", "medical-owner"])
def test_anyone_else_deciding_is_forbidden_and_nothing_changes(catalog: Catalog, who: str) -> None:
    pending = catalog.ask("analyst", CRM_TABLE)
    before = catalog.snapshot()
    code, message = catalog.refused(who, DECIDE, id=pending["id"], approve=True)
    assert code == "FORBIDDEN"
    assert CRM_OWNER in message and COMMERCIAL in message  # names who could
    assert catalog.snapshot() == before


def test_deciding_twice_is_a_conflict(catalog: Catalog) -> None:
    pending = catalog.ask("analyst", CRM_TABLE)
    catalog.data("crm-owner", DECIDE, id=pending["id"], approve=False, reason="not now")
    before = catalog.snapshot()
    code, message = catalog.refused("crm-owner", DECIDE, id=pending["id"], approve=True)
    assert code == "CONFLICT" and "rejected already" in message
    assert catalog.snapshot() == before
    granted = catalog.ask("analyst", MASTER_DATA_API)
    assert catalog.refused("admin", DECIDE, id=granted["id"], approve=False)[0] == "CONFLICT"


def test_an_anonymous_caller_may_not_ask(catalog: Catalog) -> None:
    before = catalog.snapshot()
    code, message = catalog.refused("nobody", REQUEST, port=MASTER_DATA_API, purpose="curious")
    assert code == "UNAUTHENTICATED" and "Authorization" in message
    assert catalog.snapshot() == before


@pytest.mark.parametrize(
    ("port", "purpose", "until", "code", "says"),
    [
        (MASTER_DATA_API, "a model", "2001-01-01", "BAD_INPUT", "in the past"),
        (MASTER_DATA_API, "a model", "next tuesday", "BAD_INPUT", "ISO 8601 date"),
        (MASTER_DATA_API, "a model", "2099-02-30", "BAD_INPUT", "ISO 8601 date"),
        (MASTER_DATA_API, "a model", "20991231", "BAD_INPUT", "ISO 8601 date"),
        (MASTER_DATA_API, "   ", None, "BAD_INPUT", "purpose"),
        (MASTER_DATA_API, "x" * 2001, None, "BAD_INPUT", "at most 2000"),
        (CAT + "data-product/hcp-360/port/crm-in", "a model", None, "NOT_FOUND", "no data product offers"),
        (CAT + "data-product/nothing/port/none", "a model", None, "NOT_FOUND", "no data product offers"),
        ("not an iri", "a model", None, "BAD_INPUT", "absolute IRI"),
    ],
)
def test_unusable_requests_are_refused_and_nothing_changes(
    catalog: Catalog, port: str, purpose: str, until: str | None, code: str, says: str
) -> None:
    before = catalog.snapshot()
    refusal = catalog.refused("analyst", REQUEST, port=port, purpose=purpose, until=until)
    assert refusal[0] == code and says in refusal[1]
    assert catalog.snapshot() == before


def test_a_second_pending_request_for_the_same_port_is_a_conflict(catalog: Catalog) -> None:
    pending = catalog.ask("analyst", CRM_TABLE)
    code, message = catalog.refused("analyst", REQUEST, port=CRM_TABLE, purpose="again")
    assert code == "CONFLICT" and pending["id"] in message
    catalog.data("crm-owner", DECIDE, id=pending["id"], approve=False)
    assert catalog.ask("analyst", CRM_TABLE, purpose="with a better purpose")["status"] == "PENDING"


@pytest.mark.all_backends
def test_racing_twins_of_one_request_store_one_pending_request(seeded_store: Store, settings: Settings) -> None:
    """The same request sent eight times at once (a double click, a retrying client): one is stored, the rest are
    told which one waits."""
    app = create_app(settings, store=seeded_store)
    store = app.state.catalog.store
    analyst = Principal(id=ANALYST, name="analyst", via="token")
    start = threading.Barrier(8)
    outcomes: list[str] = []

    def ask() -> None:
        start.wait()
        try:
            outcomes.append(access_requests.request_access(store, CAT, CRM_TABLE, "twins", None, actor=analyst).iri)
        except Conflict as refused:
            outcomes.append(f"conflict: {refused}")

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = [o for o in outcomes if not o.startswith("conflict")]
    assert len(stored) == 1
    assert all(stored[0] in o for o in outcomes if o.startswith("conflict"))
    pending = access_requests.access_requests(store, viewer=ADMIN, status=access_requests.Status.PENDING)
    assert [r.iri for r in pending if r.port == CRM_TABLE and r.requester == ANALYST] == stored


# --- revoking ----------------------------------------------------------------------------------------------------


@pytest.mark.all_backends
def test_the_owner_revokes_an_agreement_and_it_is_an_agreement_no_more(catalog: Catalog) -> None:
    pending = catalog.ask("analyst", CRM_TABLE)
    catalog.data("crm-owner", DECIDE, id=pending["id"], approve=True)
    revoked = catalog.data("crm-owner", REVOKE, id=pending["id"], reason="the project ended")["revokeAccess"]
    assert revoked["status"] == "REVOKED" and revoked["reason"] == "the project ended"
    assert revoked["decidedBy"] == {"id": CRM_OWNER}  # who decided stays; the revocation is its own activity
    assert (ANALYST, CRM_TABLE) not in catalog.agreements()
    kinds = catalog.sparql(
        f"""PREFIX prov: <http://www.w3.org/ns/prov#>
        SELECT ?type WHERE {{ <{pending["id"]}> prov:wasInfluencedBy ?activity . ?activity a ?type }}"""
    )
    assert {str(VM.ApprovingAccess), str(VM.RevokingAccess)} <= {row["type"] for row in kinds}
    code, message = catalog.refused("crm-owner", REVOKE, id=pending["id"])
    assert code == "CONFLICT" and "revoked" in message


def test_the_requester_withdraws_their_own_request(catalog: Catalog) -> None:
    granted = catalog.ask("analyst", MASTER_DATA_API)
    withdrawn = catalog.data("analyst", REVOKE, id=granted["id"], reason="no longer needed")["revokeAccess"]
    assert withdrawn["status"] == "REVOKED"
    assert (ANALYST, MASTER_DATA_API) not in catalog.agreements()


@pytest.mark.parametrize("who", ["outsider", "auditor", "nobody"])
def test_others_may_not_revoke(catalog: Catalog, who: str) -> None:
    granted = catalog.ask("analyst", CRM_TABLE)
    before = catalog.snapshot()
    code, _ = catalog.refused(who, REVOKE, id=granted["id"])
    assert code == ("UNAUTHENTICATED" if who == "nobody" else "FORBIDDEN")
    assert catalog.snapshot() == before


def test_an_unknown_request_is_not_found(catalog: Catalog) -> None:
    for document, variables in ((DECIDE, {"approve": True}), (REVOKE, {})):
        code, _ = catalog.refused("admin", document, id=CAT + "access-request/0000", **variables)
        assert code == "NOT_FOUND"
    assert catalog.refused("admin", DECIDE, id=CRM, approve=True)[0] == "NOT_FOUND"  # a product is no request


# --- expiry ------------------------------------------------------------------------------------------------------


def test_requests_expire_at_their_end_date(catalog: Catalog) -> None:
    """Made as if on 1 January 2020, ending a month later: read today, both are expired."""
    analyst = Principal(id=ANALYST, name="analyst", via="token")
    then = datetime(2020, 1, 1, 9, tzinfo=UTC)
    store = catalog.app.state.catalog.store
    granted = access_requests.request_access(store, CAT, MASTER_DATA_API, "q1", "2020-01-31", actor=analyst, now=then)
    waiting = access_requests.request_access(store, CAT, CRM_TABLE, "q1", "2020-01-31", actor=analyst, now=then)
    assert (granted.status, waiting.status) == (access_requests.Status.APPROVED, access_requests.Status.PENDING)
    current = catalog.ask("analyst", MASTER_DATA_API, until="2099-01-01")

    statuses = {r["id"]: r["status"] for r in catalog.data("analyst", LIST)["accessRequests"]}
    assert statuses == {granted.iri: "EXPIRED", waiting.iri: "EXPIRED", current["id"]: "APPROVED"}
    expired = catalog.data("analyst", LIST, status="EXPIRED")["accessRequests"]
    assert {r["id"] for r in expired} == {granted.iri, waiting.iri}
    assert [r["id"] for r in catalog.data("analyst", LIST, status="APPROVED")["accessRequests"]] == [current["id"]]
    # An expired agreement counts as none in the query library's answer of who has access.
    rows = catalog.sparql(catalog_query("who-has-access"))
    assert [(row["assignee"], row["agreement"]) for row in rows] == [(ANALYST, current["id"])]
    # Nothing to decide or revoke any more.
    assert catalog.refused("crm-owner", DECIDE, id=waiting.iri, approve=True) == (
        "CONFLICT",
        f"the access request {waiting.iri} is expired already; only a pending one is decided",
    )
    assert catalog.refused("analyst", REVOKE, id=granted.iri)[0] == "CONFLICT"


def catalog_query(name: str) -> str:
    return library()[name].text


# --- who sees what -----------------------------------------------------------------------------------------------


@pytest.mark.all_backends
def test_listing_filters_by_status_and_product(catalog: Catalog) -> None:
    crm = catalog.ask("analyst", CRM_TABLE)
    medical = catalog.ask("analyst", MEDICAL_REPORT)
    open_ = catalog.ask("analyst", MASTER_DATA_API)
    catalog.data("medical-owner", DECIDE, id=medical["id"], approve=False)

    def ids(**variables: Any) -> list[str]:
        return [r["id"] for r in catalog.data("admin", LIST, **variables)["accessRequests"]]

    assert set(ids()) == {crm["id"], medical["id"], open_["id"]}
    assert ids(status="PENDING") == [crm["id"]]
    assert ids(status="REJECTED") == [medical["id"]]
    assert ids(status="APPROVED") == [open_["id"]]
    assert ids(status="REVOKED") == []
    assert ids(product=CRM) == [crm["id"]]
    assert ids(product=MEDICAL, status="PENDING") == []
    assert ids(product=CAT + "data-product/hcp-360") == []

    nested = catalog.data(
        "admin",
        """query ($id: ID!) { dataProduct(id: $id) { pending: accessRequests(status: PENDING) { id }
                                                      all: accessRequests { id status } } }""",
        id=CRM,
    )["dataProduct"]
    assert nested == {"pending": [{"id": crm["id"]}], "all": [{"id": crm["id"], "status": "PENDING"}]}


def test_each_caller_sees_only_the_requests_they_may(catalog: Catalog) -> None:
    crm = catalog.ask("analyst", CRM_TABLE)
    medical = catalog.ask("analyst", MEDICAL_REPORT)
    catalog.person("other-analyst", "https://example.org/agent/other-analyst")
    other = catalog.ask("other-analyst", MEDICAL_FILE)

    def seen(who: str) -> set[str]:
        return {r["id"] for r in catalog.data(who, LIST)["accessRequests"]}

    assert seen("analyst") == {crm["id"], medical["id"]}  # their own
    assert seen("other-analyst") == {other["id"]}
    assert seen("crm-owner") == {crm["id"]}  # requests to their product
    assert seen("medical-owner") == {medical["id"], other["id"]}
    assert seen("commercial-member") == {crm["id"]}  # requests to their domain's products
    assert seen("outsider") == set()
    assert seen("nobody") == set()
    assert seen("auditor") == seen("admin") == {crm["id"], medical["id"], other["id"]}

    # node(id) answers as the list does; a request's product shows only what the caller may see.
    assert catalog.data("crm-owner", NODE, id=crm["id"])["node"] == {"__typename": "AccessRequest", **crm_status(crm)}
    assert catalog.data("outsider", NODE, id=crm["id"])["node"] is None
    assert catalog.data("nobody", NODE, id=crm["id"])["node"] is None
    assert catalog.data("auditor", NODE, id=medical["id"])["node"] is not None
    product = "query ($id: ID!) { dataProduct(id: $id) { accessRequests { id } } }"
    assert catalog.data("outsider", product, id=CRM)["dataProduct"]["accessRequests"] == []
    assert catalog.data("other-analyst", product, id=MEDICAL)["dataProduct"]["accessRequests"] == [{"id": other["id"]}]


def crm_status(request: dict[str, Any]) -> dict[str, str]:
    return {"id": request["id"], "status": request["status"]}


# --- records written around the workflow -------------------------------------------------------------------------

FORGED = """
@prefix dprod: <https://ekgf.github.io/dprod/> . @prefix odrl: <http://www.w3.org/ns/odrl/2/> .
<https://valuemesh.example/data-product/web-analytics> odrl:hasPolicy <https://valuemesh.example/data-product/web-analytics/grant> .
<https://valuemesh.example/data-product/web-analytics/grant> a odrl:Agreement ;
    odrl:assignee <https://example.org/agent/web-team> ; odrl:target <https://valuemesh.example/data-product/crm-interactions/port/table> .
"""


def test_a_product_document_may_not_carry_an_agreement(catalog: Catalog) -> None:
    """A domain member writing their own product cannot grant themselves another product's port on the side."""
    stored = catalog.store.record(CAT + "data-product/web-analytics")
    document = stored.serialize(format="turtle") + FORGED
    before = catalog.snapshot()
    register = "mutation ($d: String!) { registerDataProduct(document: $d) { __typename } }"
    code, message = catalog.refused("outsider", register, d=document)
    assert code == "FORBIDDEN" and "requestAccess" in message
    assert catalog.snapshot() == before


@pytest.mark.all_backends
def test_removing_a_product_ends_its_agreements_and_requests_in_the_same_write(catalog: Catalog) -> None:
    granted = catalog.ask("analyst", MEDICAL_REPORT)
    catalog.data("medical-owner", DECIDE, id=granted["id"], approve=True)
    waiting = catalog.ask("analyst", MEDICAL_FILE)
    catalog.person("medical-member", "https://example.org/agent/med-dev", domains=(CAT + "domain/medical-affairs",))
    assert catalog.data("medical-member", "mutation ($id: ID!) { removeDataProduct(id: $id) }", id=MEDICAL)

    assert all(port not in {MEDICAL_REPORT, MEDICAL_FILE} for _, port in catalog.agreements())
    assert catalog.data("admin", LIST)["accessRequests"] == []  # no port, no listing: the records are history
    statuses = {
        row["request"]: row["status"]
        for row in catalog.sparql(
            """PREFIX vm: <https://w3id.org/valuemesh/ontology#>
            SELECT ?request ?status WHERE { ?request a vm:AccessRequest ; vm:requestStatus ?status }"""
        )
    }
    assert statuses == {granted["id"]: str(VM.Revoked), waiting["id"]: str(VM.Rejected)}
    assert catalog.refused("admin", DECIDE, id=waiting["id"], approve=True)[0] == "NOT_FOUND"


def test_a_product_that_stops_offering_a_port_ends_its_agreements(catalog: Catalog) -> None:
    on_file = catalog.ask("analyst", MEDICAL_FILE)
    catalog.data("medical-owner", DECIDE, id=on_file["id"], approve=True)
    on_report = catalog.ask("analyst", MEDICAL_REPORT)
    catalog.data("medical-owner", DECIDE, id=on_report["id"], approve=True)

    record = catalog.store.record(MEDICAL)
    record.remove((URIRef(MEDICAL), None, URIRef(MEDICAL_FILE)))
    record.remove((URIRef(MEDICAL_FILE), None, None))
    register = "mutation ($d: String!) { registerDataProduct(document: $d) { __typename } }"
    document = record.serialize(format="turtle")
    assert catalog.data("medical-owner", register, d=document)["registerDataProduct"]["__typename"] == "DataProduct"

    assert (ANALYST, MEDICAL_FILE) not in catalog.agreements()
    assert (ANALYST, MEDICAL_REPORT) in catalog.agreements()
    reason = catalog.sparql(
        f"""PREFIX vm: <https://w3id.org/valuemesh/ontology#> PREFIX prov: <http://www.w3.org/ns/prov#>
        SELECT ?reason ?agent WHERE {{ <{on_file["id"]}> vm:reason ?reason ; prov:wasInfluencedBy ?a .
                                      ?a a vm:RevokingAccess ; prov:wasAssociatedWith ?agent }}"""
    )
    assert reason == [{"reason": f"the data product <{MEDICAL}> no longer offers the output port <{MEDICAL_FILE}>",
                       "agent": MEDICAL_OWNER}]  # fmt: skip


def test_an_approval_racing_a_removal_leaves_no_agreement_to_a_port_that_is_gone(
    seeded_store: Store, settings: Settings
) -> None:
    """Approve and remove at once, many times over, the removal starting a little later each time (sweeping the
    approval's window between reading and writing): whichever goes first, no agreement outlives its port."""
    app = create_app(settings, store=seeded_store)
    store = app.state.catalog.store
    analyst = Principal(id=ANALYST, name="analyst", via="token")
    owner = Principal(id=MEDICAL_OWNER, name="medical owner", via="token")
    document = seeded_store.record(MEDICAL)
    for attempt in range(16):
        request = access_requests.request_access(store, CAT, MEDICAL_REPORT, "race", None, actor=analyst)
        results = race(
            approve=partial(access_requests.decide_access_request, store, request.iri, True, None, actor=owner),
            remove=partial(remove_data_product, store, MEDICAL, actor=ADMIN),
            delay=attempt * 0.002,
        )
        status = str(store.record(request.iri).value(URIRef(request.iri), VM.requestStatus))
        # Approved first, then revoked by the removal; or removed first, then nothing left to approve.
        assert (results["approve"], status) in {("approved", str(VM.Revoked)), ("NotFound", str(VM.Rejected))}
        assert not store.ask(
            "ASK { ?a a <http://www.w3.org/ns/odrl/2/Agreement> ; <http://www.w3.org/ns/odrl/2/target> ?port }",
            {"port": URIRef(MEDICAL_REPORT)},
        )
        restore(store, document, ADMIN)


def race(approve: Callable[[], object], remove: Callable[[], object], delay: float) -> dict[str, str]:
    """Run both on threads released at once, the removal `delay` seconds later; what came of each."""
    start = threading.Barrier(2)
    results: dict[str, str] = {}

    def approving() -> None:
        start.wait()
        try:
            approve()
            results["approve"] = "approved"
        except (NotFound, Conflict) as refused:
            results["approve"] = type(refused).__name__

    def removing() -> None:
        start.wait()
        time.sleep(delay)
        remove()
        results["remove"] = "removed"

    threads = [threading.Thread(target=approving), threading.Thread(target=removing)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def restore(store: Store, record: Graph, actor: Principal) -> None:
    write_records(store, {MEDICAL: record}, actor=actor)


def test_an_activity_names_its_agent_and_time_in_the_record(catalog: Catalog) -> None:
    pending = catalog.ask("analyst", CRM_TABLE)
    record = catalog.store.record(pending["id"])
    activity = record.value(URIRef(pending["id"]), PROV.wasGeneratedBy)
    assert activity is not None and str(activity).startswith(pending["id"] + "/")  # a node of the request's record
    assert record.value(activity, PROV.wasAssociatedWith) == URIRef(ANALYST)
    assert record.value(activity, PROV.endedAtTime) is not None


def test_the_access_request_part_of_the_next_contract_is_served() -> None:
    contract = build_schema((SHARED / "contract" / "schema-next.graphql").read_text())
    changes = find_breaking_changes(contract, build_schema(sdl()))
    ours = ("AccessRequest", "accessRequests", "requestAccess", "decideAccessRequest", "revokeAccess")
    assert [c.description for c in changes if any(name in c.description for name in ours)] == []


def test_a_write_conditional_on_a_version_that_changed_meanwhile_stores_nothing(catalog: Catalog) -> None:
    """What keeps a decision from landing on a product that changed after it was read: the write compares the
    versions it was decided on under its hold."""
    pending = catalog.ask("analyst", MEDICAL_REPORT)
    request, product = catalog.store.record(pending["id"]), catalog.store.record(MEDICAL)
    changed = Graph(identifier=MEDICAL)
    changed += product
    changed.set((URIRef(MEDICAL), DCT.description, Literal("Answers to medical inquiries, now weekly.")))
    write_records(catalog.store, {MEDICAL: changed}, actor=ADMIN)
    decided = Graph(identifier=pending["id"])
    decided += request
    decided.set((URIRef(pending["id"]), VM.requestStatus, VM.Approved))
    before = catalog.snapshot()
    with pytest.raises(StaleRead):
        write_records(
            catalog.store,
            {pending["id"]: decided},
            actor=Principal(id=MEDICAL_OWNER, name="medical owner", via="token"),
            authorized_by=ACCESS_REQUESTS,
            holding=[record_key(MEDICAL)],
            unchanged_since={pending["id"]: request, MEDICAL: product},
        )
    assert catalog.snapshot() == before
    # The workflow reads again and decides on what is stored now.
    approved = catalog.data("medical-owner", DECIDE, id=pending["id"], approve=True)["decideAccessRequest"]
    assert approved["status"] == "APPROVED"


def test_the_access_request_workflow_writes_nothing_but_access_requests(catalog: Catalog) -> None:
    """The way past the product rules is for access-request records only: not for a product, nor a record
    that is not an access request."""
    medical = catalog.store.record(MEDICAL)
    owner = Principal(id=MEDICAL_OWNER, name="medical owner", via="token")
    before = catalog.snapshot()
    agent = Graph(identifier=CAT + "agent/forged")
    agent.add((URIRef(CAT + "agent/forged"), RDF.type, PROV.Agent))
    for records in ({MEDICAL: medical}, {CAT + "agent/forged": agent}, {CAT + "agent/empty": Graph()}):
        with pytest.raises(Forbidden):
            write_records(catalog.store, records, actor=owner, authorized_by=ACCESS_REQUESTS)
    pending = catalog.ask("analyst", MEDICAL_REPORT)
    smuggled = catalog.store.record(pending["id"]) + medical
    with pytest.raises(Forbidden):
        write_records(catalog.store, {pending["id"]: smuggled}, actor=owner, authorized_by=ACCESS_REQUESTS)
    with pytest.raises(ValueError, match="no policy"):
        write_records(catalog.store, {MEDICAL: medical}, actor=owner, authorized_by="trust me")
    assert catalog.snapshot() != before  # only the request asked for in between


# --- the rest of the catalog does not notice -------------------------------------------------------------------

QUESTIONS = """{
  dataProducts(first: 100) { totalCount edges { node { id name completeness } } }
  lineage(id: "https://valuemesh.example/data-product/next-best-action") { nodes { depth node { ... on DataProduct { id } ... on DataSource { id } } } edges { source target } }
  overlaps { left { id } right { id } jaccard }
  untracedDataProducts { id }
  validation { conforms results { focusNode severity message } }
}"""


def with_every_kind_of_request(catalog: Catalog) -> list[str]:
    """An agreement in force, a pending request, a rejected, a revoked and an expired one."""
    approved = catalog.ask("analyst", MASTER_DATA_API, until="2099-12-31")
    pending = catalog.ask("analyst", CRM_TABLE)
    rejected = catalog.ask("analyst", MEDICAL_REPORT)
    catalog.data("medical-owner", DECIDE, id=rejected["id"], approve=False, reason="no")
    revoked = catalog.ask("analyst", MEDICAL_FILE)
    catalog.data("medical-owner", DECIDE, id=revoked["id"], approve=True)
    catalog.data("analyst", REVOKE, id=revoked["id"])
    then = datetime(2020, 1, 1, tzinfo=UTC)
    analyst = Principal(id=ANALYST, name="analyst", via="token")
    expired = access_requests.request_access(
        catalog.app.state.catalog.store, CAT, MASTER_DATA_API, "old", "2020-02-01", actor=analyst, now=then
    )
    return [approved["id"], pending["id"], rejected["id"], revoked["id"], expired.iri]


def test_listing_lineage_overlaps_and_validation_do_not_notice_access_requests(catalog: Catalog) -> None:
    before = catalog.data("admin", QUESTIONS)
    assert before["validation"]["conforms"]
    with_every_kind_of_request(catalog)
    assert catalog.data("admin", QUESTIONS) == before
    assert catalog.data("nobody", QUESTIONS) == before


def test_an_export_with_access_requests_loads_back_as_it_was(catalog: Catalog, tmp_path: Path) -> None:
    """Both ways a catalog leaves and comes back: a dataset (one named graph per record) and one Turtle graph."""
    requests = with_every_kind_of_request(catalog)
    dataset = tmp_path / "catalog.nq"
    out = io.BytesIO()
    catalog.store.dump(out, "application/n-quads")
    graphs = {quad.graph_name.value for quad in ox.parse(out.getvalue(), ox.RdfFormat.N_QUADS)}
    assert not [g for g in graphs if g.startswith("urn:valuemesh:")]  # service graphs (tokens, versions): never dumped
    dataset.write_bytes(out.getvalue())
    graph = tmp_path / "catalog.ttl"
    graph.write_text(export.turtle(catalog.store))
    for path in (dataset, graph):
        copy = MemoryStore()
        prepare(copy, with_seed=False)
        outcome = load_files(copy, [path], actor=SYSTEM)
        assert outcome.report.conforms
        for iri in requests:
            assert isomorphic(copy.record(iri), catalog.store.record(iri)), (path.name, iri)
        assert set(copy.record_iris()) == set(catalog.store.record_iris())


def test_each_state_change_is_an_event_on_the_feed_for_whoever_provisions_the_grants(catalog: Catalog) -> None:
    pending = catalog.ask("analyst", CRM_TABLE)
    catalog.data("crm-owner", DECIDE, id=pending["id"], approve=True, reason="fits the purpose")
    feed = catalog.client.get("/api/v1/events", params={"limit": 500}).json()["events"]
    announced = ("access-request.requested", "access-request.decided", "access-request.revoked")
    ours = [
        (e["kind"], e["actor"]["id"], e["data"]["status"])
        for e in feed
        if e["subject"] == pending["id"] and e["kind"] in announced
    ]
    assert ("access-request.requested", ANALYST, "PENDING") in ours
    assert ("access-request.decided", CRM_OWNER, "APPROVED") in ours
    decided = next(e for e in feed if e["kind"] == "access-request.decided" and e["subject"] == pending["id"])
    assert decided["data"]["outputPort"] == CRM_TABLE and decided["data"]["requester"] == ANALYST


def test_a_bulk_load_that_drops_a_port_ends_its_requests_and_agreements(tmp_path: Path, seed_nquads: bytes) -> None:
    """`valuemesh load` of the whole catalog (the bulk path) with a product that no longer offers a port closes the
    requests to it as an ordinary write of that product would, and says so on the feed."""
    store = OxigraphStore(tmp_path / "store")
    store.bulk_load(seed_nquads, "application/n-quads")
    analyst = Principal(id=ANALYST, name="analyst", via="token")
    owner = Principal(id=MEDICAL_OWNER, name="medical owner", via="token")
    colleague = Principal(id=ANALYST + "-colleague", name="colleague", via="token")
    waiting = access_requests.request_access(store, CAT, MEDICAL_FILE, "q1", None, actor=colleague)
    agreed = access_requests.request_access(store, CAT, MEDICAL_FILE, "q2", None, actor=analyst)
    access_requests.decide_access_request(store, agreed.iri, True, None, actor=owner)
    unrelated = access_requests.request_access(store, CAT, MEDICAL_REPORT, "q3", None, actor=analyst)
    before_events = event_count(store)

    medical = store.record(MEDICAL)
    medical.remove((URIRef(MEDICAL), None, URIRef(MEDICAL_FILE)))
    medical.remove((URIRef(MEDICAL_FILE), None, None))
    records = [iri for iri in store.record_iris() if "/access-request/" not in iri]
    lines = []
    for iri in records:
        graph = medical if iri == MEDICAL else store.record(iri)
        lines += [f"{s.n3()} {p.n3()} {o.n3()} <{iri}> .\n" for s, p, o in graph]
    document = tmp_path / "catalog.nq"
    document.write_text("".join(lines))
    assert len(records) > len(store.record_iris()) - len(records)  # the bulk path, not record by record

    outcome = load_files(store, [document], actor=ADMIN)
    assert outcome.replaced == [MEDICAL]

    def status(iri: str) -> str:
        return str(store.record(iri).value(URIRef(iri), VM.requestStatus))

    assert status(waiting.iri) == str(VM.Rejected)
    assert status(agreed.iri) == str(VM.Revoked)
    assert status(unrelated.iri) == str(VM.Pending)
    assert not store.ask(
        "ASK { ?a a <http://www.w3.org/ns/odrl/2/Agreement> ; <http://www.w3.org/ns/odrl/2/target> ?port }",
        {"port": URIRef(MEDICAL_FILE)},
    )
    kinds = {(e.kind, e.subject) for e in events_after(store, encode_cursor(before_events), 100)}
    assert ("access-request.decided", waiting.iri) in kinds and ("access-request.revoked", agreed.iri) in kinds
    latest = max(history(store, agreed.iri), key=lambda version: version.version)
    assert latest.action is Action.UPDATE and latest.by == ADMIN.id  # the closing is in the request's history
    store.close()
