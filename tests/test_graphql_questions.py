"""The catalog's questions through /graphql over the seed: lineage, overlap, goal trace, use cases, paging."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rdflib import URIRef

from server.catalog.writes import write_documents
from server.identity.principal import SYSTEM
from server.rdf_io import read_rdf_file
from server.settings import Settings
from server.store import Store
from server.web.app import create_app

# The same questions on every store backend: memory, and each remote SPARQL server CI runs.
pytestmark = pytest.mark.all_backends

DATA = Path(__file__).parent / "data"
CAT = "https://valuemesh.example/"
HCP_360 = CAT + "data-product/hcp-360"
DIGITAL_ENGAGEMENT = CAT + "data-product/digital-engagement"
NEXT_BEST_ACTION = CAT + "data-product/next-best-action"
MEDICAL_INQUIRIES = CAT + "data-product/medical-inquiries"


def graphql(client: TestClient, document: str, **variables: Any) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": document, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]  # type: ignore[no-any-return]


LINEAGE = """
query ($id: ID!, $direction: LineageDirection, $maxDepth: Int) {
  lineage(id: $id, direction: $direction, maxDepth: $maxDepth) {
    root { id name }
    nodes { depth node { __typename ... on DataProduct { id name } ... on DataSource { id name } } }
    edges { source target }
  }
}
"""


def depths(graph: dict[str, Any]) -> dict[str, int]:
    return {hop["node"]["id"]: hop["depth"] for hop in graph["nodes"]}


def test_hcp_360_upstream_contains_its_products_and_sources(client: TestClient) -> None:
    graph = graphql(client, LINEAGE, id=HCP_360)["lineage"]
    assert graph["root"]["name"] == "HCP 360"
    found = depths(graph)
    for product in ("crm-interactions", "f2f-meetings", "hcp-master-data"):
        assert found[CAT + "data-product/" + product] == 1
    for source in ("crm", "f2f-meeting-records", "hcp-master-data"):
        assert found[CAT + "source/" + source] == 2
    kinds = {hop["node"]["id"]: hop["node"]["__typename"] for hop in graph["nodes"]}
    assert kinds[CAT + "source/crm"] == "DataSource"
    assert {"source": CAT + "source/crm", "target": CAT + "data-product/crm-interactions"} in graph["edges"]
    assert {"source": CAT + "data-product/crm-interactions", "target": HCP_360} in graph["edges"]


def test_digital_engagement_upstream_contains_hcp_360_once_at_its_smallest_depth(client: TestClient) -> None:
    graph = graphql(client, LINEAGE, id=DIGITAL_ENGAGEMENT)["lineage"]
    ids = [hop["node"]["id"] for hop in graph["nodes"]]
    assert len(ids) == len(set(ids))
    assert depths(graph)[HCP_360] == 1
    assert depths(graph)[CAT + "source/crm"] == 3


def test_next_best_action_reaches_email_events_at_depth_one_though_a_longer_path_exists(client: TestClient) -> None:
    found = depths(graphql(client, LINEAGE, id=NEXT_BEST_ACTION)["lineage"])
    assert found[CAT + "data-product/email-campaign-events"] == 1  # also reachable via Digital Engagement at 2


def test_max_depth_bounds_the_walk(client: TestClient) -> None:
    graph = graphql(client, LINEAGE, id=DIGITAL_ENGAGEMENT, maxDepth=1)["lineage"]
    assert set(depths(graph).values()) == {1}
    assert HCP_360 in depths(graph)
    for edge in graph["edges"]:
        assert edge["target"] == DIGITAL_ENGAGEMENT
    assert graphql(client, LINEAGE, id=DIGITAL_ENGAGEMENT, maxDepth=0)["lineage"]["nodes"] == []


def test_downstream_is_impact_analysis(client: TestClient) -> None:
    graph = graphql(client, LINEAGE, id=CAT + "data-product/crm-interactions", direction="DOWNSTREAM")["lineage"]
    assert depths(graph) == {HCP_360: 1, DIGITAL_ENGAGEMENT: 2, NEXT_BEST_ACTION: 2}
    assert {"source": HCP_360, "target": NEXT_BEST_ACTION} in graph["edges"]
    assert {"source": DIGITAL_ENGAGEMENT, "target": NEXT_BEST_ACTION} in graph["edges"]


def test_the_planted_overlap_pair_is_found_first(client: TestClient) -> None:
    document = "{ overlaps { left { id } right { id } shared { ... on DataProduct { id } } jaccard } }"
    pairs = graphql(client, document)["overlaps"]
    top = pairs[0]
    assert {top["left"]["id"], top["right"]["id"]} == {DIGITAL_ENGAGEMENT, NEXT_BEST_ACTION}
    assert {node["id"] for node in top["shared"]} == {HCP_360, CAT + "data-product/email-campaign-events"}
    # Digital Engagement has 3 direct sources, Next Best Action 3 (one of them Digital Engagement): 2 shared of 4.
    assert top["jaccard"] == 0.5
    shared_counts = [len(pair["shared"]) for pair in pairs]
    assert shared_counts == sorted(shared_counts, reverse=True)


def test_overlaps_among_given_ids_and_min_shared(client: TestClient) -> None:
    document = "query ($ids: [ID!], $min: Int) { overlaps(ids: $ids, minShared: $min) { left { id } right { id } } }"
    among = graphql(client, document, ids=[DIGITAL_ENGAGEMENT, NEXT_BEST_ACTION, HCP_360], min=1)["overlaps"]
    assert [(p["left"]["id"], p["right"]["id"]) for p in among] == [(DIGITAL_ENGAGEMENT, NEXT_BEST_ACTION)]
    assert graphql(client, document, ids=[DIGITAL_ENGAGEMENT, NEXT_BEST_ACTION], min=3)["overlaps"] == []


def test_hcp_360_goal_trace_reaches_the_vision(client: TestClient) -> None:
    document = """query ($id: ID!) { goalTrace(id: $id) {
        dataProduct { id } useCases { id } goals { id title parent { id } } } }"""
    trace = graphql(client, document, id=HCP_360)["goalTrace"]
    assert trace["dataProduct"]["id"] == HCP_360
    assert CAT + "use-case/hcp-360-dashboard" in {u["id"] for u in trace["useCases"]}
    goals = {g["id"]: g for g in trace["goals"]}
    assert CAT + "goal/influence-hcp" in goals
    assert CAT + "goal/vision" in goals
    assert goals[CAT + "goal/vision"]["parent"] is None
    # Every goal in the trace has its parent in the trace too: the path up to the vision is complete.
    for goal in goals.values():
        assert goal["parent"] is None or goal["parent"]["id"] in goals


def test_the_planted_untraced_product_is_listed(client: TestClient) -> None:
    untraced = graphql(client, "{ untracedDataProducts { id name } }")["untracedDataProducts"]
    assert [p["id"] for p in untraced] == [MEDICAL_INQUIRIES]


def test_use_cases_come_back_highest_score_first(client: TestClient) -> None:
    document = "{ useCases { title prioritization { businessValue effort score } goals { id } dataProducts { id } } }"
    use_cases = graphql(client, document)["useCases"]
    assert [u["prioritization"]["score"] for u in use_cases] == [34, 30, 27]
    assert use_cases[0]["title"] == "Digital customer engagement dashboard"
    assert HCP_360 in {p["id"] for p in use_cases[1]["dataProducts"]}


def test_the_lean_value_tree_from_its_root(client: TestClient) -> None:
    document = "{ goals { id children { id children { id useCases { id } } } } }"
    (root,) = graphql(client, document)["goals"]
    assert root["id"] == CAT + "goal/vision"
    grandchildren = {g["id"]: g for child in root["children"] for g in child["children"]}
    assert [u["id"] for u in grandchildren[CAT + "goal/influence-hcp"]["useCases"]] == [
        CAT + "use-case/hcp-360-dashboard"
    ]


def test_a_product_with_its_details(client: TestClient) -> None:
    document = """query ($id: ID!) { dataProduct(id: $id) {
        name type job domain { name regulated } owner { name } consumers { id }
        inputPorts { mechanism sources { ... on DataProduct { id } } } outputPorts { name mechanism }
        sharingAgreement { access slos { indicator target period errorBudget } }
        privacyClassification useCases { id } } }"""
    product = graphql(client, document, id=HCP_360)["dataProduct"]
    assert product["type"] == "CONSUMER_ORIENTED"
    assert product["domain"] == {"name": "Commercial", "regulated": True}
    assert {s["id"] for p in product["inputPorts"] for s in p["sources"]} == {
        CAT + "data-product/crm-interactions",
        CAT + "data-product/f2f-meetings",
        CAT + "data-product/hcp-master-data",
    }
    slos = {(s["target"], s["period"], s["errorBudget"]) for s in product["sharingAgreement"]["slos"]}
    assert (99.5, "P1D", 0.5) in slos
    assert (99.0, "P3M", 1.0) in slos  # no error budget stated: 100 - target
    assert product["sharingAgreement"]["access"] == "APPROVAL_REQUIRED"
    assert product["privacyClassification"]


def test_domains_and_nodes_by_id(client: TestClient) -> None:
    domains = graphql(client, "{ domains { id name dataProducts { id } } }")["domains"]
    commercial = next(d for d in domains if d["id"] == CAT + "domain/commercial")
    assert HCP_360 in {p["id"] for p in commercial["dataProducts"]}
    document = "query ($id: ID!) { node(id: $id) { __typename id } }"
    for iri, kind in [
        (HCP_360, "DataProduct"),
        (CAT + "goal/vision", "Goal"),
        (CAT + "use-case/next-best-action", "UseCase"),
        (CAT + "source/crm", "DataSource"),
        (CAT + "domain/commercial", "Domain"),
        (CAT + "agent/pjp", "Agent"),
        (HCP_360 + "/port/api", "OutputPort"),
        (HCP_360 + "/slo/freshness", "ServiceLevelObjective"),
    ]:
        assert graphql(client, document, id=iri)["node"] == {"__typename": kind, "id": iri}


def test_paging_through_all_products_with_cursors(client: TestClient) -> None:
    document = """query ($after: String) { dataProducts(first: 2, after: $after) {
        totalCount edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }"""
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = graphql(client, document, after=after)["dataProducts"]
        seen += [edge["node"]["id"] for edge in page["edges"]]
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert page["totalCount"] == 9
    assert len(seen) == len(set(seen)) == 9
    assert seen == sorted(seen)
    assert pages == 5


def test_filters_narrow_the_listing_and_its_count(client: TestClient) -> None:
    document = """query ($domain: ID, $type: DataProductType, $search: String) {
        dataProducts(domain: $domain, type: $type, search: $search) { totalCount edges { node { id } } } }"""
    medical = graphql(client, document, domain=CAT + "domain/medical-affairs")["dataProducts"]
    assert medical["totalCount"] == 1
    assert [e["node"]["id"] for e in medical["edges"]] == [MEDICAL_INQUIRIES]
    consumer = graphql(client, document, type="CONSUMER_ORIENTED")["dataProducts"]
    assert {e["node"]["id"] for e in consumer["edges"]} == {HCP_360, DIGITAL_ENGAGEMENT, NEXT_BEST_ACTION}
    found = graphql(client, document, search="inquir")["dataProducts"]
    assert found["totalCount"] == 1


def test_validation_of_the_catalog_and_of_chosen_nodes(client: TestClient) -> None:
    document = """query ($ids: [ID!]) { validation(ids: $ids) {
        conforms results { focusNode record severity message item } } }"""
    whole = graphql(client, document)["validation"]
    assert whole["conforms"] is True  # the seed passes the checklist; warnings do not count
    warned = {r["record"] or r["focusNode"] for r in whole["results"] if r["severity"] == "WARNING"}
    assert MEDICAL_INQUIRIES in warned  # it serves no use case
    chosen = graphql(client, document, ids=[MEDICAL_INQUIRIES])["validation"]
    assert chosen["results"]
    assert all(MEDICAL_INQUIRIES in (r["focusNode"], r["record"]) for r in chosen["results"])
    assert graphql(client, document, ids=[HCP_360])["validation"]["results"] == [
        r for r in whole["results"] if HCP_360 in (r["focusNode"], r["record"])
    ]


def test_validation_of_chosen_nodes_equals_the_whole_catalogs_results_about_them(
    client: TestClient, seeded_store: Store
) -> None:
    """Chosen nodes are judged on their records and neighbourhood only; the answer is the same as the whole
    catalog's results about them, for every node of the seed (products, ports, SLOs, domains, use cases, goals)."""
    document = """query ($ids: [ID!]) { validation(ids: $ids) {
        conforms results { focusNode record severity message item } } }"""
    whole = graphql(client, document)["validation"]["results"]
    nodes = sorted(
        {
            str(node)
            for record in seeded_store.record_iris()
            for node in seeded_store.record(record).subjects()
            if isinstance(node, URIRef)
        }
    )
    assert len(nodes) > 50
    for node in nodes[::3]:  # a third of them, of every kind, keeps this quick on the remote stores too
        chosen = graphql(client, document, ids=[node])["validation"]["results"]
        expected = [r for r in whole if node in (r["focusNode"], r["record"])]
        assert sorted(map(str, chosen)) == sorted(map(str, expected)), node
    assert graphql(client, document, ids=[CAT + "data-product/no-such-thing"])["validation"]["results"] == []


def test_the_readme_query_runs(client: TestClient) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## GraphQL", 1)[1]
    document = section.split("```graphql", 1)[1].split("```", 1)[0]
    data = graphql(client, document)
    assert data["lineage"]["nodes"]
    assert [p["name"] for p in data["untracedDataProducts"]] == ["Medical inquiries"]


def test_overlaps_involving_one_product_against_the_whole_catalog(client: TestClient) -> None:
    document = "query ($id: ID) { overlaps(involving: $id) { left { id } right { id } shared { __typename } } }"
    pairs = graphql(client, document, id=NEXT_BEST_ACTION)["overlaps"]
    assert pairs
    assert all(NEXT_BEST_ACTION in (p["left"]["id"], p["right"]["id"]) for p in pairs)
    assert {DIGITAL_ENGAGEMENT} <= {p["left"]["id"] for p in pairs} | {p["right"]["id"] for p in pairs}
    assert graphql(client, document, id=MEDICAL_INQUIRIES)["overlaps"] == []


def test_products_report_their_checklist_completeness(client: TestClient) -> None:
    document = "{ dataProducts { edges { node { id completeness } } } }"
    edges = graphql(client, document)["dataProducts"]["edges"]
    assert {edge["node"]["completeness"] for edge in edges} == {1.0}  # every seed product meets the checklist


def test_the_first_overlaps_only_and_a_refusal_past_the_page_size(seeded_store: Store) -> None:
    write_documents(
        seeded_store, [read_rdf_file(DATA / "territory-plan.ttl")], actor=SYSTEM
    )  # three overlapping pairs now
    document = "query ($first: Int) { overlaps(first: $first) { left { id } right { id } } }"
    with TestClient(
        create_app(Settings(store="memory:", seed=False, max_page_size=2), store=seeded_store),
        base_url="http://localhost",
    ) as small:
        everything = small.post("/graphql", json={"query": document}).json()
        assert everything["data"] is None
        error = everything["errors"][0]
        assert error["extensions"]["code"] == "BAD_INPUT"
        assert "3 pairs overlap, more than the maximum page size (2)" in error["message"]

        top = graphql(small, document, first=1)["overlaps"]
        assert [{top[0]["left"]["id"], top[0]["right"]["id"]}] == [{DIGITAL_ENGAGEMENT, NEXT_BEST_ACTION}]
        assert len(graphql(small, document, first=2)["overlaps"]) == 2
        too_many = small.post("/graphql", json={"query": document, "variables": {"first": 3}}).json()
        assert too_many["errors"][0]["extensions"]["code"] == "BAD_INPUT"
