"""The architects' query library (queries/*.rq): documented, runnable by name, and right about the seed.

Expected answers come from two places: the facts seed/README.md plants on purpose (the overlap pair, the untraced
product), and walks over the seed's records in Python, independent of the SPARQL under test."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import PROV, RDFS

from server.catalog.access_requests import request_access
from server.identity.principal import Principal
from server.namespaces import DPROD, VM
from server.query_library import LibraryQuery, library, library_query
from server.store import Store

# The same questions on every store backend: memory, and each remote SPARQL server CI runs.
pytestmark = pytest.mark.all_backends

BASE = "https://valuemesh.example/"
EXPECTED_NAMES = {
    "upstream-lineage",
    "downstream-impact",
    "products-without-slo",
    "overlapping-pairs",
    "goal-trace",
    "products-serving-no-goal",
    "interaction-map",
    "who-has-access",
    "goals-at-risk",
    "lineage-drift",
}


def _iri(path: str) -> URIRef:
    return URIRef(BASE + path)


def _union(store: Store) -> Graph:
    graph = Graph()
    for iri in store.record_iris():
        graph += store.record(iri)
    return graph


def _reads(graph: Graph, product: URIRef) -> set[URIRef]:
    """What a product reads directly: the products owning the output ports it consumes, and data sources."""
    found = set()
    for port in graph.objects(product, DPROD.inputPort):
        for consumed in graph.objects(port, VM.consumes):
            owners = set(graph.subjects(DPROD.outputPort, consumed))
            found |= owners or {consumed}
    return found  # type: ignore[return-value]


def _upstream(graph: Graph, product: URIRef) -> set[URIRef]:
    seen: set[URIRef] = set()
    todo = [product]
    while todo:
        for node in _reads(graph, todo.pop()):
            if node not in seen:
                seen.add(node)
                todo.append(node)
    return seen


def _products(graph: Graph) -> set[URIRef]:
    return set(graph.subjects(predicate=None, object=DPROD.DataProduct))  # type: ignore[arg-type]


def _run(store: Store, name: str, **params: str) -> list[dict[str, str | None]]:
    entry = library_query(name)
    rows = store.select(entry.text, entry.bindings(params))
    return [{k: None if v is None else str(v) for k, v in row.items()} for row in rows]


# --- the library as documentation ----------------------------------------------------------------------------


def test_the_library_holds_the_questions_architects_asked_for() -> None:
    assert set(library()) == EXPECTED_NAMES


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_every_query_documents_what_it_answers_its_parameters_and_an_example(name: str) -> None:
    entry: LibraryQuery = library()[name]
    assert entry.title and len(entry.answers) > 40
    assert entry.example.startswith(f"valuemesh query --name {name}")
    example_params = {part.split("=")[0] for part in entry.example.split("--param ")[1:]}
    assert example_params <= {p.name for p in entry.parameters}
    required = {p.name for p in entry.parameters if not p.optional}
    assert required <= example_params  # the example runs as written
    for parameter in entry.parameters:
        assert f"?{parameter.name}" in entry.text  # bound as an engine substitution, so the query must use it


# --- each query against the seed ------------------------------------------------------------------------------


@pytest.mark.all_backends
@pytest.mark.parametrize(
    "product", ["data-product/hcp-360", "data-product/next-best-action", "data-product/web-analytics"]
)
def test_upstream_lineage(seeded_store: Store, product: str) -> None:
    rows = _run(seeded_store, "upstream-lineage", product=BASE + product)
    expected = _upstream(_union(seeded_store), _iri(product))
    assert {row["upstream"] for row in rows} == {str(node) for node in expected}
    kinds = {row["upstream"]: row["kind"] for row in rows}
    assert all(kinds[iri].startswith("data source") == ("/source/" in iri) for iri in kinds)  # type: ignore[union-attr]


@pytest.mark.all_backends
def test_upstream_lineage_reaches_the_crm_four_steps_below_next_best_action(seeded_store: Store) -> None:
    rows = _run(seeded_store, "upstream-lineage", product=BASE + "data-product/next-best-action")
    read_by = {row["upstream"]: row["readBy"] for row in rows}
    assert read_by[BASE + "source/crm"] == BASE + "data-product/crm-interactions"  # seed/README.md: planted path
    assert BASE + "data-product/medical-inquiries" not in read_by


@pytest.mark.all_backends
@pytest.mark.parametrize(
    "source", ["source/crm", "source/email-platform", "data-product/hcp-360", "source/medical-information-system"]
)
def test_downstream_impact(seeded_store: Store, source: str) -> None:
    rows = _run(seeded_store, "downstream-impact", source=BASE + source)
    graph = _union(seeded_store)
    expected = {p for p in _products(graph) if _iri(source) in _upstream(graph, p)}
    assert {row["product"] for row in rows} == {str(p) for p in expected}
    assert all(row["ownerLabel"] for row in rows)  # who to tell


@pytest.mark.all_backends
def test_downstream_impact_of_the_crm_is_the_planted_chain(seeded_store: Store) -> None:
    rows = _run(seeded_store, "downstream-impact", source=BASE + "source/crm")
    assert {row["product"] for row in rows} == {
        BASE + "data-product/" + slug
        for slug in ("crm-interactions", "hcp-360", "digital-engagement", "next-best-action")
    }


@pytest.mark.all_backends
def test_products_without_slo(seeded_store: Store) -> None:
    # The checklist makes every seeded product promise an SLO.
    assert _run(seeded_store, "products-without-slo") == []
    assert _run(seeded_store, "products-without-slo", domain=BASE + "domain/commercial") == []
    # A record stored around the checklist (as a bulk load or another tool could) shows up, in its domain only.
    record = BASE + "data-product/crm-interactions"
    triples = [t for t in seeded_store.record(record) if t[1] != VM.serviceLevelObjective]
    seeded_store.replace_records({record: triples})
    in_commercial = _run(seeded_store, "products-without-slo", domain=BASE + "domain/commercial")
    assert [(row["product"], row["domainLabel"]) for row in in_commercial] == [(record, "Commercial")]
    assert _run(seeded_store, "products-without-slo", domain=BASE + "domain/marketing") == []
    assert [row["product"] for row in _run(seeded_store, "products-without-slo")] == [record]


@pytest.mark.all_backends
def test_who_has_access_lists_the_agreements_in_force(seeded_store: Store) -> None:
    assert _run(seeded_store, "who-has-access") == []  # the seed grants nobody anything by agreement
    analyst = Principal(id="https://example.org/agent/analyst", name="analyst", via="token")
    master_data = BASE + "data-product/hcp-master-data/port/api"  # Open Access: granted at once
    request_access(seeded_store, BASE, master_data, "a churn model", None, actor=analyst)
    request_access(seeded_store, BASE, BASE + "data-product/crm-interactions/port/table", "q3", None, actor=analyst)
    lapsed = datetime(2020, 1, 1, tzinfo=UTC)
    web = BASE + "data-product/web-analytics/port/table"
    request_access(seeded_store, BASE, web, "q1 2020", "2020-01-31", actor=analyst, now=lapsed)
    rows = _run(seeded_store, "who-has-access")
    assert [(row["assignee"], row["port"], row["productLabel"], row["assigner"]) for row in rows] == [
        (analyst.id, master_data, "HCP master data", BASE + "agent/hcp-master-data-steward")
    ]  # the pending request grants nothing yet, the lapsed agreement nothing any more
    assert _run(seeded_store, "who-has-access", product=BASE + "data-product/web-analytics") == []


@pytest.mark.all_backends
def test_overlapping_pairs_finds_the_planted_pair_only(seeded_store: Store) -> None:
    rows = _run(seeded_store, "overlapping-pairs")
    assert len(rows) == 1
    (pair,) = rows
    assert {pair["product"], pair["other"]} == {
        BASE + "data-product/digital-engagement",
        BASE + "data-product/next-best-action",
    }
    assert pair["sharedInputs"] == "2"
    assert set(pair["shares"].split(" | ")) == {"HCP 360 API", "Email campaign events table"}  # type: ignore[union-attr]


@pytest.mark.all_backends
@pytest.mark.parametrize(
    "product", ["data-product/hcp-360", "data-product/next-best-action", "data-product/medical-inquiries"]
)
def test_goal_trace(seeded_store: Store, product: str) -> None:
    rows = _run(seeded_store, "goal-trace", product=BASE + product)
    graph = _union(seeded_store)
    expected = set()
    for use_case in graph.subjects(VM.servedBy, _iri(product)):
        for goal in graph.objects(use_case, VM.helpsAchieve):
            expected |= {(str(use_case), str(g)) for g in graph.transitive_objects(goal, VM.subGoalOf)}
    assert {(row["useCase"], row["goal"]) for row in rows} == expected
    levels = {row["goal"]: int(row["level"]) for row in rows}  # type: ignore[arg-type]
    if levels:
        assert levels[BASE + "goal/vision"] == 1
        assert max(levels.values()) > 1


@pytest.mark.all_backends
def test_products_serving_no_goal_is_the_planted_untraced_product(seeded_store: Store) -> None:
    rows = _run(seeded_store, "products-serving-no-goal")
    assert [(row["product"], row["domainLabel"]) for row in rows] == [
        (BASE + "data-product/medical-inquiries", "Medical Affairs")
    ]


def _map_edges(graph: Graph, products: set[URIRef]) -> set[tuple[str, str]]:
    return {(str(p), str(up)) for p in products for up in _reads(graph, p)}


@pytest.mark.all_backends
@pytest.mark.parametrize("use_case", [None, "use-case/hcp-360-dashboard", "use-case/next-best-action"])
def test_interaction_map(seeded_store: Store, use_case: str | None) -> None:
    entry = library_query("interaction-map")
    params = {} if use_case is None else {"useCase": BASE + use_case}
    drawn = seeded_store.construct(entry.text, entry.bindings(params))
    graph = _union(seeded_store)
    if use_case is None:
        on_a_map = {p for p in _products(graph) if any(True for _ in graph.subjects(VM.servedBy, p))}
    else:
        on_a_map = set(graph.objects(_iri(use_case), VM.servedBy))  # type: ignore[arg-type]
    assert {(str(s), str(o)) for s, o in drawn.subject_objects(PROV.wasDerivedFrom)} == _map_edges(graph, on_a_map)
    # The article's layers: sources feed source-oriented products only; every node is named and classified.
    for product, upstream in drawn.subject_objects(PROV.wasDerivedFrom):
        if (upstream, None, VM.DataSource) in drawn:
            assert (product, None, VM.SourceOriented) in drawn
        assert drawn.value(product, RDFS.label) and drawn.value(upstream, RDFS.label)


# --- through the CLI --------------------------------------------------------------------------------------------


def test_cli_runs_a_library_query_by_name_with_a_parameter(cli: Callable[..., Any]) -> None:
    result = cli(
        "query",
        "--store",
        "memory:",
        "--name",
        "upstream-lineage",
        "--param",
        f"product={BASE}data-product/hcp-360",
        "-f",
        "csv",
    )
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("product,upstream,upstreamLabel,kind")
    assert any(f"{BASE}source/crm,CRM,data source" in line for line in lines)


def test_cli_construct_by_name_prints_turtle(cli: Callable[..., Any]) -> None:
    result = cli(
        "query",
        "--store",
        "memory:",
        "--name",
        "interaction-map",
        "--param",
        f"useCase={BASE}use-case/hcp-360-dashboard",
    )
    assert result.exit_code == 0, result.stderr
    graph = Graph().parse(data=result.stdout, format="turtle")
    assert (_iri("data-product/hcp-360"), PROV.wasDerivedFrom, _iri("data-product/crm-interactions")) in graph


def test_cli_lists_the_library(cli: Callable[..., Any]) -> None:
    result = cli("query", "--list")
    assert result.exit_code == 0
    for name in EXPECTED_NAMES:
        assert name in result.stdout
    assert "--param product=<IRI>" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "goal-trace"], "needs --param product="),
        (["--name", "goal-trace", "--param", "produkt=x"], "has no parameter produkt"),
        (["--name", "goal-trace", "--param", "product=not an iri> } ; DROP ALL"], "is not an IRI"),
        (["--name", "goal-trace", "--param", "product"], "write it as name=value"),
        (["--name", "no-such-query"], "no query named 'no-such-query'"),
        (["--name", "goal-trace", "SELECT * WHERE {}"], "either a query"),
    ],
)
def test_cli_refuses_unusable_library_calls(cli: Callable[..., Any], args: list[str], message: str) -> None:
    result = cli("query", "--store", "memory:", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_a_question_about_an_iri_the_catalog_never_mentions_says_so(cli: Callable[..., Any], tmp_path: Any) -> None:
    mistyped = "https://valuemesh.example/data-product/hcp-36"
    store = str(tmp_path / "store")
    done = cli("query", "--name", "upstream-lineage", "--param", f"product={mistyped}", "--store", store)
    assert done.exit_code == 2
    assert f"knows nothing of <{mistyped}>" in done.stderr
    known = cli("query", "--name", "upstream-lineage", "--param", f"product={mistyped}0", "--store", store)
    assert known.exit_code == 0, known.stderr  # hcp-360: the seed's product
