"""Restricted records through the real app with API tokens: a restricted product in Commercial is absent for an
outsider in every face (GraphQL, linked data, /sparql), present for its domain, GOVERNANCE, ADMIN, its owner, and an
outsider once their access request is approved (and absent again after revocation or expiry); the catalog is unchanged
by every refused attempt, and restricted products are still validated by the checklist."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rdflib import Literal, URIRef

from server.identity.principal import Principal, Role
from server.namespaces import VM
from server.settings import Settings
from server.store import Store
from server.store.base import TOKENS_GRAPH
from server.store.oxigraph import OxigraphStore
from server.web.app import create_app
from tests.test_access_requests import DECIDE, REQUEST, REVOKE, Catalog

CAT = "https://valuemesh.example/"
COMMERCIAL = CAT + "domain/commercial"
MARKETING = CAT + "domain/marketing"
CRM = CAT + "data-product/crm-interactions"
CRM_TABLE = CRM + "/port/table"
CRM_EXTRACT = CRM + "/port/crm-extract"
CRM_AGREEMENT = CRM + "/agreement"
CRM_SLO = CRM + "/slo/daily-completeness"
CRM_OWNER = CAT + "agent/crm-product-owner"
HCP_360 = CAT + "data-product/hcp-360"
SOURCE_CRM = CAT + "source/crm"
OUTSIDER = "https://example.org/agent/web-team"
CRM_NODES = [CRM, CRM_TABLE, CRM_EXTRACT, CRM_AGREEMENT, CRM_SLO]

PRODUCT = "query ($id: ID!) { dataProduct(id: $id) { id name restricted outputPorts { id } } }"
NODE = "query ($id: ID!) { node(id: $id) { id } }"
LISTING = (
    """query ($search: String) { dataProducts(first: 100, search: $search) { totalCount edges { node { id } } } }"""
)
DOMAIN_LISTING = (
    f'query {{ dataProducts(domain: "{COMMERCIAL}", first: 100) {{ totalCount edges {{ node {{ id }} }} }} }}'
)
DOMAINS = "{ domains { id dataProducts { id } } }"
LINEAGE = """query ($id: ID!, $dir: LineageDirection) {
  lineage(id: $id, direction: $dir) { nodes { node { ... on DataProduct { id } ... on DataSource { id } } }
                                      edges { source target } withheld note } }"""
OVERLAPS = "{ overlaps { left { id } right { id } shared { ... on DataProduct { id } ... on DataSource { id } } } }"
INVOLVING = "query ($id: ID) { overlaps(involving: $id) { left { id } } }"
GOAL_TRACE = "query ($id: ID!) { goalTrace(id: $id) { dataProduct { id } } }"
UNTRACED = "{ untracedDataProducts { id } }"
USE_CASES = "{ useCases { id dataProducts { id } } }"
INPUT_SOURCES = f'{{ dataProduct(id: "{HCP_360}") {{ inputPorts {{ sources {{ ... on DataProduct {{ id }} }} }} }} }}'
VALIDATION = "{ validation { results { focusNode record } } }"

SPARQL_PROBES = {
    "plain": f"SELECT ?p ?o WHERE {{ <{CRM}> ?p ?o }}",
    "graph": f"SELECT ?g ?p ?o WHERE {{ GRAPH ?g {{ <{CRM}> ?p ?o }} }}",
    "from named": f"SELECT ?p ?o FROM NAMED <{CRM}> WHERE {{ GRAPH <{CRM}> {{ ?s ?p ?o }} }}",
    "port label": f"SELECT ?l WHERE {{ <{CRM_TABLE}> <http://www.w3.org/2000/01/rdf-schema#label> ?l }}",
    "path": f"""PREFIX dprod: <https://ekgf.github.io/dprod/> PREFIX vm: <https://w3id.org/valuemesh/ontology#>
        SELECT ?p WHERE {{ <{HCP_360}> (dprod:inputPort/vm:consumes/^dprod:outputPort)+ ?p FILTER(?p = <{CRM}>) }}""",
    "tokens": f"SELECT ?s WHERE {{ GRAPH <{TOKENS_GRAPH}> {{ ?s ?p ?o }} }}",
}
GRAPHS = "SELECT DISTINCT ?g WHERE { GRAPH ?g {} }"


@pytest.fixture
def catalog(seeded_store: Store, settings: Settings) -> Iterator[Catalog]:
    """The seed with CRM interactions marked restricted (by ADMIN, through the catalog), and the people below."""
    app = create_app(settings, store=seeded_store)
    with TestClient(app, base_url="http://localhost") as client:
        record = seeded_store.record(CRM)
        record.add((URIRef(CRM), VM.restricted, Literal(True)))
        app.state.catalog.store.replace_records({CRM: list(record)})
        catalog = Catalog(app, client, seeded_store)
        catalog.person("outsider", OUTSIDER, domains=(MARKETING,), roles=(Role.DOMAIN_MEMBER,))
        catalog.person("member", "https://example.org/agent/commercial-dev", domains=(COMMERCIAL,))
        catalog.person("owner", CRM_OWNER)
        catalog.person("auditor", "https://example.org/agent/audit", roles=(Role.GOVERNANCE,))
        catalog.person("admin", "https://example.org/agent/platform-team", roles=(Role.ADMIN,))
        yield catalog


def sparql(catalog: Catalog, who: str, query: str) -> list[dict[str, str]]:
    response = catalog.client.get(
        "/sparql",
        params={"query": query},
        headers={**catalog.headers.get(who, {}), "Accept": "application/sparql-results+json"},
    )
    assert response.status_code == 200, response.text
    return [{k: v["value"] for k, v in row.items()} for row in response.json()["results"]["bindings"]]


def listed(catalog: Catalog, who: str, search: str | None = None) -> tuple[int, list[str]]:
    page = catalog.data(who, LISTING, search=search)["dataProducts"]
    return page["totalCount"], [e["node"]["id"] for e in page["edges"]]


def reads_crm(catalog: Catalog, who: str) -> bool:
    """Whether `who` sees CRM interactions, asked of every face at once; the faces must agree."""
    seen = {
        "dataProduct": catalog.data(who, PRODUCT, id=CRM)["dataProduct"] is not None,
        "node": catalog.data(who, NODE, id=CRM_TABLE)["node"] is not None,
        "listing": CRM in listed(catalog, who)[1],
        "linked data": catalog.client.get(
            "/data-product/crm-interactions/port/table", headers=catalog.headers.get(who, {})
        ).status_code
        == 200,
        "sparql": bool(sparql(catalog, who, SPARQL_PROBES["graph"])),
    }
    assert len(set(seen.values())) == 1, seen
    return next(iter(seen.values()))


def unchanged(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    catalog.store.dump(out, "application/n-quads")
    return b"\n".join(sorted(line for line in out.getvalue().splitlines() if TOKENS_GRAPH.encode() not in line))


def test_an_outsider_finds_no_trace_of_a_restricted_product_in_graphql(catalog: Catalog) -> None:
    before = unchanged(catalog)
    for who in ("outsider", "anonymous"):
        assert catalog.data(who, PRODUCT, id=CRM)["dataProduct"] is None
        for node in CRM_NODES:
            assert catalog.data(who, NODE, id=node)["node"] is None, node
        total, iris = listed(catalog, who)
        assert CRM not in iris and total == len(iris) == listed(catalog, "admin")[0] - 1
        assert listed(catalog, who, search="CRM interactions") == (0, [])
        domain = catalog.data(who, DOMAIN_LISTING)["dataProducts"]
        assert CRM not in [e["node"]["id"] for e in domain["edges"]] and domain["totalCount"] == len(domain["edges"])
        for row in catalog.data(who, DOMAINS)["domains"]:
            assert CRM not in [p["id"] for p in row["dataProducts"]]
        assert CRM not in [p["id"] for p in catalog.data(who, UNTRACED)["untracedDataProducts"]]
        for use_case in catalog.data(who, USE_CASES)["useCases"]:
            assert CRM not in [p["id"] for p in use_case["dataProducts"]]
        assert catalog.data(who, INPUT_SOURCES)["dataProduct"]["inputPorts"][0]["sources"] in ([], [{}]) or all(
            s.get("id") != CRM
            for p in catalog.data(who, INPUT_SOURCES)["dataProduct"]["inputPorts"]
            for s in p["sources"]
        )
        for pair in catalog.data(who, OVERLAPS)["overlaps"]:
            assert CRM not in (pair["left"]["id"], pair["right"]["id"])
            assert CRM not in [s.get("id") for s in pair["shared"]]
        assert catalog.refused(who, INVOLVING, id=CRM)[0] == "NOT_FOUND"
        assert catalog.refused(who, GOAL_TRACE, id=CRM)[0] == "NOT_FOUND"
        assert catalog.refused(who, LINEAGE, id=CRM)[0] == "NOT_FOUND"
        for result in catalog.data(who, VALIDATION)["validation"]["results"]:
            assert result["focusNode"] not in CRM_NODES and result["record"] != CRM
    assert unchanged(catalog) == before


def test_lineage_through_a_restricted_product_stops_there_and_says_so(catalog: Catalog) -> None:
    outsider = catalog.data("outsider", LINEAGE, id=HCP_360)["lineage"]
    reached = {hop["node"]["id"] for hop in outsider["nodes"]}
    assert CRM not in reached and SOURCE_CRM not in reached  # not the product, nor what lies beyond it
    assert all(CRM not in (e["source"], e["target"]) for e in outsider["edges"])
    assert outsider["withheld"] == 1 and "restricted" in outsider["note"]
    member = catalog.data("member", LINEAGE, id=HCP_360)["lineage"]
    assert {CRM, SOURCE_CRM} <= {hop["node"]["id"] for hop in member["nodes"]}
    assert member["withheld"] == 0 and member["note"] is None
    # Downstream of a public product never passes through the restricted one either.
    down = catalog.data("outsider", LINEAGE, id=CAT + "data-product/hcp-master-data", dir="DOWNSTREAM")["lineage"]
    assert CRM not in {hop["node"]["id"] for hop in down["nodes"]}


def test_linked_data_answers_404_for_every_iri_of_the_record(catalog: Catalog) -> None:
    for node in CRM_NODES:
        path = node.removeprefix(CAT.rstrip("/"))
        for accept in ("text/turtle", "text/html"):
            for who in ("outsider", "anonymous"):
                response = catalog.client.get(path, headers={**catalog.headers.get(who, {}), "Accept": accept})
                assert response.status_code == 404, (node, who, accept)
            assert catalog.client.get(path, headers={**catalog.headers["member"], "Accept": accept}).status_code == 200
    # The public product that consumes it names the port's IRI (its own statement), never the port's label.
    page = catalog.client.get("/data-product/hcp-360", headers={"Accept": "text/html"}).text
    assert "CRM interactions table" not in page and "crm-interactions" in page


@pytest.mark.parametrize("probe", sorted(SPARQL_PROBES))
def test_sparql_of_an_outsider_reaches_no_restricted_triple(catalog: Catalog, probe: str) -> None:
    before = unchanged(catalog)
    for who in ("outsider", "anonymous"):
        assert sparql(catalog, who, SPARQL_PROBES[probe]) == [], (who, probe)
    if probe != "tokens":
        assert sparql(catalog, "member", SPARQL_PROBES[probe]) != []
        for who in ("auditor", "admin"):  # GOVERNANCE and ADMIN read the restricted product...
            assert sparql(catalog, who, SPARQL_PROBES[probe]) != [], (who, probe)
    assert sparql(catalog, "admin", SPARQL_PROBES["tokens"]) == []  # ...but no service graph: no face serves those
    assert unchanged(catalog) == before


def test_governance_and_admin_query_every_record_and_no_service_graph(catalog: Catalog) -> None:
    records = set(catalog.app.state.catalog.backend.record_iris())
    for who in ("auditor", "admin"):
        assert {row["g"] for row in sparql(catalog, who, GRAPHS)} == records, who


def test_the_graphs_an_outsider_can_name_are_the_public_records(catalog: Catalog) -> None:
    graphs = {row["g"] for row in sparql(catalog, "outsider", GRAPHS)}
    assert CRM not in graphs and not any(g.startswith("urn:valuemesh:") for g in graphs)
    everything = set(catalog.app.state.catalog.backend.record_iris())
    assert graphs == everything - {CRM}  # exactly the union of the public records
    assert CRM in {row["g"] for row in sparql(catalog, "member", GRAPHS)}


@pytest.mark.parametrize("who", ["member", "owner", "auditor", "admin"])
def test_its_domain_owner_governance_and_admin_read_it_everywhere(catalog: Catalog, who: str) -> None:
    assert reads_crm(catalog, who)
    assert catalog.data(who, PRODUCT, id=CRM)["dataProduct"]["restricted"] is True
    total, iris = listed(catalog, who)
    assert CRM in iris and total == len(iris)


def test_an_approved_access_request_opens_it_until_revoked_or_expired(catalog: Catalog) -> None:
    assert not reads_crm(catalog, "outsider")
    request = catalog.data("outsider", REQUEST, port=CRM_TABLE, purpose="campaign planning", until="2099-12-31")
    pending = request["requestAccess"]
    assert pending["status"] == "PENDING" and not reads_crm(catalog, "outsider")
    catalog.data("owner", DECIDE, id=pending["id"], approve=True, reason="fits the policy")
    assert reads_crm(catalog, "outsider")
    outsider = Principal(OUTSIDER, "outsider", frozenset({Role.DOMAIN_MEMBER}), frozenset({MARKETING}), via="token")
    restrictions = catalog.app.state.catalog.restrictions()
    assert CRM in restrictions.readable(outsider)
    assert CRM not in restrictions.readable(outsider, now=datetime(2100, 1, 1, tzinfo=UTC))  # past its end date
    catalog.data("owner", REVOKE, id=pending["id"], reason="project ended")
    assert not reads_crm(catalog, "outsider")
    assert (
        sparql(catalog, "outsider", f"SELECT ?r WHERE {{ ?r <http://www.w3.org/ns/odrl/2/target> <{CRM_TABLE}> }}")
        == []
    )


def test_restricted_products_are_written_and_validated_like_any_other(catalog: Catalog) -> None:
    create = """mutation ($input: DataProductInput!) { createDataProduct(input: $input) {
        __typename ... on DataProduct { id restricted } ... on RegistrationRefused { report { results { message } } } } }"""
    fields: dict[str, Any] = {
        "name": "Field notes",
        "description": "What PJPs note after each visit.",
        "type": "SOURCE_ORIENTED",
        "domain": COMMERCIAL,
        "owner": CRM_OWNER,
        "outputPorts": [{"name": "Notes table", "mechanism": "TABLE"}],
        "sharingAgreement": {
            "access": "APPROVAL_REQUIRED",
            "policy": "Commercial only.",
            "distributionRights": "None.",
            "slos": [{"name": "Daily", "indicator": "TIMELINESS", "target": 99.0, "period": "P1D"}],
        },
        "privacyClassification": "CONFIDENTIAL",
        "restricted": True,
    }
    catalog.person(
        "writer", "https://example.org/agent/commercial-writer", domains=(COMMERCIAL,), roles=(Role.DOMAIN_MEMBER,)
    )
    before = unchanged(catalog)
    # The write path reads the whole store: the restricted product's IRI is taken, whoever writes.
    assert catalog.refused("writer", create, input={**fields, "name": "CRM interactions"})[0] == "CONFLICT"
    incomplete = catalog.data("writer", create, input={**fields, "outputPorts": []})["createDataProduct"]
    assert incomplete["__typename"] == "RegistrationRefused"  # the MVP checklist applies as to any product
    assert unchanged(catalog) == before
    made = catalog.data("writer", create, input=fields)["createDataProduct"]
    assert made == {"__typename": "DataProduct", "id": CAT + "data-product/field-notes", "restricted": True}
    assert catalog.data("outsider", PRODUCT, id=made["id"])["dataProduct"] is None
    assert sparql(catalog, "outsider", f"SELECT ?p WHERE {{ <{made['id']}> ?p ?o }}") == []
    assert catalog.data("member", PRODUCT, id=made["id"])["dataProduct"]["restricted"] is True


def test_yaml_marks_a_product_restricted() -> None:
    from server.formats.valuemesh_yaml import product_from_valuemesh_yaml

    class Doc:
        def __init__(self, restricted: bool) -> None:
            self.data = {"valuemesh": 1, "name": "Secret", "restricted": restricted}

    assert product_from_valuemesh_yaml(Doc(True)).restricted is True  # type: ignore[arg-type]
    assert product_from_valuemesh_yaml(Doc(False)).restricted is False  # type: ignore[arg-type]


def test_on_disk_the_worker_processes_answer_over_the_callers_dataset(tmp_path: Path, seed_nquads: bytes) -> None:
    """The embedded store on disk: queries run in worker processes over checkpoints of the public view (or of a
    reader's copy of it); the view survives a restart, and is rebuilt when the store was written behind its back."""
    location = tmp_path / "store"
    store = OxigraphStore(location)
    store.bulk_load(seed_nquads, "application/n-quads")
    record = store.record(CRM)
    record.add((URIRef(CRM), VM.restricted, Literal(True)))

    def serve() -> Iterator[Catalog]:
        app = create_app(Settings(store=str(location), seed=False), store=store)
        with TestClient(app, base_url="http://localhost") as client:
            assert app.state.sparql_query_workers is not None  # the real worker processes
            catalog = Catalog(app, client, store)
            for who, agent, domains, roles in (
                ("outsider", OUTSIDER, (MARKETING,), (Role.DOMAIN_MEMBER,)),
                ("member", "https://example.org/agent/commercial-dev", (COMMERCIAL,), ()),
                ("admin", "https://example.org/agent/platform-team", (), (Role.ADMIN,)),
            ):
                catalog.person(f"{who}-{uuid.uuid4().hex[:6]}", agent, domains=domains, roles=roles)
                catalog.headers[who] = catalog.headers.popitem()[1]
            yield catalog

    for catalog in serve():
        catalog.app.state.catalog.store.replace_records({CRM: list(record)})
        for who in ("outsider", "anonymous"):
            assert sparql(catalog, who, SPARQL_PROBES["graph"]) == []
            assert sparql(catalog, who, SPARQL_PROBES["tokens"]) == []
        assert sparql(catalog, "member", SPARQL_PROBES["graph"]) != []
        assert sparql(catalog, "admin", SPARQL_PROBES["graph"]) != []
        assert sparql(catalog, "admin", SPARQL_PROBES["tokens"]) == []  # no face serves the service graphs
        assert sparql(catalog, "outsider", SPARQL_PROBES["graph"]) == []  # each caller's dataset, in turn
    marker = (tmp_path / "store.public.marker").read_text()
    assert marker == store.marker()
    # Written behind the view's back (as the CLI writes the files): the next open rebuilds the view.
    store.replace_records({CRM: [t for t in record if t[1] != VM.restricted]})
    for catalog in serve():
        assert sparql(catalog, "outsider", SPARQL_PROBES["graph"]) != []
    assert (tmp_path / "store.public.marker").read_text() == store.marker() != marker
    store.close()


def test_when_the_public_view_cannot_be_built_no_caller_queries_the_whole_store(
    tmp_path: Path, seed_nquads: bytes
) -> None:
    """Where the view should be written there is a file: it cannot be built, and SPARQL answers nobody, ADMIN
    included, rather than run their queries over the store with its service graphs (the tokens graph here)."""
    location = tmp_path / "store"
    store = OxigraphStore(location)
    store.bulk_load(seed_nquads, "application/n-quads")
    (tmp_path / "store.public").write_text("not a store")
    app = create_app(Settings(store=str(location), seed=False), store=store)
    with TestClient(app, base_url="http://localhost") as client:
        catalog = Catalog(app, client, store)
        catalog.person("admin", "https://example.org/agent/platform-team", domains=(), roles=(Role.ADMIN,))
        assert app.state.catalog.public_view is None
        for headers in (catalog.headers["admin"], {}):
            response = client.get("/sparql", params={"query": SPARQL_PROBES["tokens"]}, headers=headers)
            assert response.status_code == 503, response.text
            assert "public view for SPARQL could not be built" in response.json()["detail"]
        # The other faces still answer.
        assert catalog.data("admin", LISTING)["dataProducts"]["totalCount"] > 0
    store.close()
