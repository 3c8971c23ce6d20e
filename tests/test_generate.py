"""The benchmark's synthetic catalog: repeatable, loadable, and shaped like a real catalog (MVP checklist, depth)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from rdflib import URIRef

from bench.generate import build_store, generate_catalog, main, plan_catalog
from server.namespaces import VM, sparql_prefixes
from server.store.oxigraph import OxigraphStore
from server.validation import validate_store

SMALL = 200
SEED = 11

# Each query lists the products that break one item of the article's MVP checklist; all must come back empty.
# (Asked directly as well as through the shapes, so a change in either is noticed here.)
CHECKLIST_BREAKERS = {
    "exactly one owner": """
        SELECT ?p WHERE { ?p a dprod:DataProduct OPTIONAL { ?p dprod:dataProductOwner ?o } }
        GROUP BY ?p HAVING (COUNT(?o) != 1)""",
    "a name unique within its domain": """
        SELECT ?p WHERE { ?p a dprod:DataProduct ; rdfs:label ?name ; dprod:domain ?d .
            ?q a dprod:DataProduct ; rdfs:label ?name ; dprod:domain ?d . FILTER(?p != ?q) }""",
    "description, job, type and domain": """
        SELECT ?p WHERE { ?p a dprod:DataProduct
            FILTER NOT EXISTS { ?p dct:description ?x ; dprod:purpose ?j ; dct:type ?t ; dprod:domain ?d .
                                VALUES ?t { vm:SourceOriented vm:ConsumerOriented } } }""",
    "at least one output port": """
        SELECT ?p WHERE { ?p a dprod:DataProduct FILTER NOT EXISTS { ?p dprod:outputPort/a vm:OutputPort } }""",
    "a sharing agreement with access mode, policy, distribution rights": """
        SELECT ?p WHERE { ?p a dprod:DataProduct FILTER NOT EXISTS {
            ?p odrl:hasPolicy ?a . ?a a vm:DataSharingAgreement ; dct:accessRights ?mode ;
               vm:accessPolicy ?policy ; vm:distributionRights ?rights } }""",
    "at least one SLO with a target and an xsd:duration period": """
        SELECT ?p WHERE { ?p a dprod:DataProduct FILTER NOT EXISTS {
            ?p odrl:hasPolicy/vm:serviceLevelObjective ?slo . ?slo vm:target ?t ; vm:period ?period .
            FILTER(DATATYPE(?period) = xsd:duration && ?t >= 0 && ?t <= 100) } }""",
    "privacy classification where the domain is regulated": """
        SELECT ?p WHERE { ?p a dprod:DataProduct ; dprod:domain/vm:regulated true
            FILTER NOT EXISTS { ?p vm:privacyClassification ?c } }""",
}

# Ten explicit upstream steps between products, from a bound product: lineage at least ten products deep.
TEN_STEPS_UP = (
    "ASK { "
    + " ".join(f"?p{i} dprod:inputPort/vm:consumes/^dprod:outputPort ?p{i + 1} ." for i in range(10)).replace(
        "?p0", "?start"
    )
    + " }"
)


@pytest.fixture(scope="module")
def small_catalog() -> OxigraphStore:
    return build_store(SMALL, SEED)


def digest(n: int, seed: int) -> str:
    return hashlib.sha256("".join(generate_catalog(n, seed)).encode()).hexdigest()


def test_same_seed_gives_the_same_bytes_and_another_seed_another_catalog() -> None:
    assert digest(SMALL, SEED) == digest(SMALL, SEED)
    assert digest(SMALL, SEED) != digest(SMALL, SEED + 1)


def test_the_command_line_writes_what_the_api_generates(tmp_path: Path) -> None:
    out = tmp_path / "catalog.nq"
    assert main([str(50), "--seed", "3", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == "".join(generate_catalog(50, 3))


def test_every_record_is_one_named_graph_and_the_catalog_has_the_requested_size(small_catalog: OxigraphStore) -> None:
    plan = plan_catalog(SMALL, SEED)
    rows = small_catalog.select(sparql_prefixes() + "SELECT (COUNT(*) AS ?n) WHERE { ?p a dprod:DataProduct }")
    assert int(str(rows.rows[0][0])) == SMALL
    product = plan.products[-1].iri
    record = small_catalog.record(product)
    ports = {str(o) for o in record.objects(URIRef(product), URIRef("https://ekgf.github.io/dprod/outputPort"))}
    assert ports and all(port.startswith(product + "/port/") for port in ports)
    assert all(str(s).startswith(product) for s in record.subjects())


def test_the_catalog_passes_the_projects_shacl_validation(small_catalog: OxigraphStore) -> None:
    report = validate_store(small_catalog)
    assert report.violations == []
    # The warnings about serving no use case (the inverse vm:servedBy path) are exactly the planted untraced products.
    untraced = {r.focus_node for r in report.warnings if r.path == "^" + str(VM.servedBy)}
    assert untraced == set(plan_catalog(SMALL, SEED).untraced)


@pytest.mark.parametrize("item", sorted(CHECKLIST_BREAKERS))
def test_every_product_meets_the_mvp_checklist(small_catalog: OxigraphStore, item: str) -> None:
    breakers = small_catalog.select(sparql_prefixes() + CHECKLIST_BREAKERS[item])
    assert breakers.rows == [], f"products missing '{item}': {breakers.column('p')[:5]}"


def test_the_domains_are_partly_regulated_and_products_have_one_to_three_inputs(small_catalog: OxigraphStore) -> None:
    regulated = small_catalog.select(sparql_prefixes() + "SELECT ?r WHERE { ?d a vm:Domain ; vm:regulated ?r }")
    assert {bool(r.toPython()) for r in regulated.column("r")} == {True, False}  # type: ignore[union-attr]
    counts = small_catalog.select(
        sparql_prefixes()
        + """SELECT ?p (COUNT(DISTINCT ?in) AS ?inputs) (COUNT(DISTINCT ?out) AS ?outputs)
             WHERE { ?p a dprod:DataProduct ; dprod:inputPort ?in ; dprod:outputPort ?out } GROUP BY ?p"""
    )
    assert len(counts) == SMALL
    assert {int(str(n)) for n in counts.column("inputs")} <= {1, 2, 3}
    assert {int(str(n)) for n in counts.column("outputs")} <= {1, 2}


@pytest.mark.parametrize("n", [SMALL, 1000])
def test_lineage_reaches_ten_products_deep(n: int) -> None:
    plan = plan_catalog(n, SEED)
    store = build_store(n, SEED)
    deepest = plan.products_at_depth(plan.max_depth)[0]
    assert plan.max_depth >= 10
    assert store.ask(sparql_prefixes() + TEN_STEPS_UP, bindings={"start": URIRef(deepest)})
    source_oriented = plan.products_at_depth(0)[0]
    assert not store.ask(sparql_prefixes() + TEN_STEPS_UP, bindings={"start": URIRef(source_oriented)})


def test_planted_overlaps_consume_the_same_ports(small_catalog: OxigraphStore) -> None:
    plan = plan_catalog(SMALL, SEED)
    assert plan.overlap_pairs
    consumed = sparql_prefixes() + "SELECT ?p ?x WHERE { ?p dprod:inputPort/vm:consumes ?x }"
    for a, b in plan.overlap_pairs:
        of_a = set(small_catalog.select(consumed, bindings={"p": URIRef(a)}).column("x"))
        of_b = set(small_catalog.select(consumed, bindings={"p": URIRef(b)}).column("x"))
        assert len(of_a) >= 2 and of_a == of_b


def test_use_cases_link_goals_to_products_except_the_untraced_ones(small_catalog: OxigraphStore) -> None:
    plan = plan_catalog(SMALL, SEED)
    traced = small_catalog.select(
        sparql_prefixes()
        + """SELECT DISTINCT ?p WHERE { ?u a vm:UseCase ; vm:servedBy ?p ; vm:helpsAchieve/vm:subGoalOf* ?vision .
                                        ?vision a vm:Vision }"""
    )
    traced_products = {str(p) for p in traced.column("p")}
    assert traced_products.isdisjoint(plan.untraced)
    assert len(traced_products) + len(plan.untraced) == SMALL
    criteria = small_catalog.select(
        sparql_prefixes()
        + """SELECT ?u ?v WHERE { ?u a vm:UseCase ; ?c ?v .
               VALUES ?c { vm:businessValue vm:timeCriticality vm:riskReduction vm:reach vm:impact vm:confidence
                           vm:effort } }"""
    )
    assert len(criteria) == 7 * len(plan.use_cases)
    assert {int(str(v)) for v in criteria.column("v")} <= set(range(6))
    depth = small_catalog.select(
        sparql_prefixes()
        + "SELECT (MAX(?levels) AS ?d) WHERE { { SELECT ?g (COUNT(?up) AS ?levels) "
        + "WHERE { ?g a vm:Goal ; vm:subGoalOf* ?up } GROUP BY ?g } }"
    )
    assert int(str(depth.rows[0][0])) == 5


def test_the_catalog_loads_on_disk_too(tmp_path: Path) -> None:
    store = build_store(50, SEED, tmp_path / "store")
    store.close()
    reopened = OxigraphStore(tmp_path / "store", read_only=True)
    assert len([iri for iri in reopened.record_iris() if "/data-product/" in iri]) == 50
