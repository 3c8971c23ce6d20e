"""The Data Product MVP checklist enforced on every write, and the compiled engine agreeing with pyshacl."""

from __future__ import annotations

import io
import logging
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pyoxigraph as ox
import pytest
from pyshacl import validate as pyshacl_validate
from rdflib import RDF, RDFS, Graph, Literal, URIRef

from server.catalog.records import merge_records, records_of
from server.catalog.writes import write_documents, write_records
from server.errors import ValidationRefused
from server.governance.neighbourhood import Records, neighbourhood
from server.governance.shapes import UnsupportedShape, catalog_shapes, read_shapes, shapes_from_graph
from server.identity.principal import SYSTEM
from server.namespaces import DPROD, SH, VM
from server.rdf_io import parse_rdf, read_rdf_file
from server.resources import seed_files, shape_files
from server.store import Store, open_store
from server.validation import (
    ValidationReport,
    ValidationResult,
    check_write,
    completeness,
    validate_records,
    validate_store,
)

# The same questions on every store backend: memory, and each remote SPARQL server CI runs.
pytestmark = pytest.mark.all_backends

DATA = Path(__file__).parent / "data"
BASE = "https://valuemesh.example/"
NEW_PRODUCT = BASE + "data-product/territory-planning"

# One file per checklist item, named for what is wrong, and what its refusal must say (in the article's words).
REFUSED = {
    "product-without-owner.ttl": "Territory planning: a data product needs exactly one owner (Owner / Steward); it has none",
    "product-with-two-owners.ttl": "Territory planning: a data product needs exactly one owner (Owner / Steward); it has 2",
    "owner-not-an-agent.ttl": "must be a registered person or team",
    "product-without-name.ttl": "a data product needs a name (Data Product name); it has none",
    "duplicate-name-in-domain.ttl": "HCP 360: a data product name must be unique to the data domain (Data Product name)",
    "name-differing-only-in-case.ttl": "hcp 360: a data product name must be unique to the data domain (Data Product name); https://valuemesh.example/data-product/hcp-360 in the same domain has the same name",
    "name-differing-only-in-spacing.ttl": "data-product/hcp-360 in the same domain has the same name",
    "name-differing-only-in-unicode-form.ttl": "data-product/hcp-360 in the same domain has the same name",
    "product-without-description.ttl": "Territory planning: a data product needs a description (Description of the Data Product)",
    "product-without-agreement.ttl": "Territory planning: a data product needs a data sharing agreement",
    "agreement-without-access-mode.ttl": '"Open Access" or "Access Approval Required"',
    "unknown-access-mode.ttl": "it has vm:AskNicely",
    "agreement-without-access-policy.ttl": "published data access policy",
    "agreement-without-distribution-rights.ttl": "distribution rights",
    "agreement-without-slo.ttl": "a data sharing agreement needs at least one SLO (Data sharing agreement: SLO)",
    "slo-without-target.ttl": "Territory planning (Monthly plan on time): an SLO needs a target",
    "slo-target-out-of-range.ttl": "Territory planning (Monthly plan on time): an SLO target is a percentage from 0 to 100 (Data sharing agreement: SLO); it has 120",
    "slo-with-invalid-period.ttl": 'an SLO period is a valid xsd:duration such as "P1D" or "P1M" (Data sharing agreement: SLO); it has "monthly"',
    "slo-period-not-a-duration.ttl": "an SLO period is a valid xsd:duration",
    "no-output-port.ttl": "Territory planning: a data product needs at least one output port (Port: a delivery mechanism for the Data Product)",
    "consumes-missing-port.ttl": "hcp-360/port/no-such-port is neither (Port)",
    "product-without-type.ttl": "Territory planning: a data product needs a type (Data Product type: consumer-oriented or source-oriented)",
    "unknown-product-type.ttl": "it has vm:Aggregate",
    "product-without-domain.ttl": "Territory planning: a data product needs a business domain (Business Domain: Business Function)",
    "unknown-domain.ttl": "the business domain must be a registered domain",
    "regulated-without-privacy-classification.ttl": "Territory planning: a data product of a regulated domain needs a privacy classification (Data Privacy, Classification and compliance); its domain Commercial is regulated",
    "criteria-out-of-range.ttl": "Territory planning: business value is one integer from 0 to 5 (Data use case prioritization); it has 7",
    "criteria-not-integers.ttl": 'reach is one integer from 0 to 5 (Data use case prioritization); it has "3.5"',
}
ACCEPTED = ["conforming-product.ttl", "warnings-only-product.ttl"]


@pytest.fixture(autouse=True)
def _quiet_rdflib() -> None:
    # rdflib logs a traceback for each ill-typed literal in the fixtures; they are what the tests are about.
    logging.getLogger("rdflib.term").setLevel(logging.CRITICAL)


def export(store: Store) -> bytes:
    out = io.BytesIO()
    store.dump(out, "application/n-quads")
    return b"\n".join(sorted(out.getvalue().splitlines()))


def write_file(store: Store, name: str):  # type: ignore[no-untyped-def]
    return write_documents(store, [read_rdf_file(DATA / name)], actor=SYSTEM)


# --- the write path ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_each_checklist_item_is_refused_with_its_message_and_nothing_stored(seeded_store: Store, name: str) -> None:
    before = export(seeded_store)
    with pytest.raises(ValidationRefused) as refused:
        write_file(seeded_store, name)
    messages = [v.message for v in refused.value.report.violations]
    assert any(REFUSED[name] in m for m in messages), messages
    assert export(seeded_store) == before


def test_every_checklist_item_has_a_fixture() -> None:
    """Each item of the checklist (each sh:PropertyGroup of mvp-checklist.ttl) refuses at least one fixture."""
    seed = merge_records(records_of(read_rdf_file(p)) for p in seed_files())
    items_refused: set[str | None] = set()
    for name in REFUSED:
        records = {**seed, **records_of(read_rdf_file(DATA / name))}
        items_refused |= {r.item for r in validate_records(records).violations}
    checklist = Graph().parse(next(p for p in shape_files() if p.name == "mvp-checklist.ttl"))
    items = {str(checklist.value(g, RDFS.label)) for g in checklist.subjects(RDF.type, SH.PropertyGroup)}
    assert len(items) == 9
    assert items == items_refused


def test_a_conforming_new_product_is_accepted_and_stored(seeded_store: Store) -> None:
    outcome = write_file(seeded_store, "conforming-product.ttl")
    assert NEW_PRODUCT in outcome.added
    assert outcome.report.results == []
    assert len(seeded_store.record(NEW_PRODUCT)) > 0
    assert validate_store(seeded_store).conforms


def test_warnings_are_reported_but_never_block(seeded_store: Store) -> None:
    outcome = write_file(seeded_store, "warnings-only-product.ttl")
    assert NEW_PRODUCT in outcome.added
    warnings = sorted(w.message for w in outcome.report.warnings)
    assert warnings == [
        "Territory planning: a data product should have consumers (a vm:consumer, or a data product consuming its "
        "output ports); it has none",
        "Territory planning: a data product should serve at least one use case, so that it traces to a goal of the "
        "Lean Value Tree; it has none",
    ]
    assert outcome.report.conforms


def test_the_seed_conforms(seeded_store: Store) -> None:
    report = validate_store(seeded_store)
    assert report.violations == [], [v.message for v in report.violations]


def test_the_refusal_carries_the_whole_report(seeded_store: Store) -> None:
    records = records_of(read_rdf_file(DATA / "product-without-owner.ttl"))
    graph = records[NEW_PRODUCT]
    for port in list(graph.objects(URIRef(NEW_PRODUCT), DPROD.outputPort)):
        graph.remove((port, None, None))  # a port nothing owns would be refused as belonging to no record
    graph.remove((URIRef(NEW_PRODUCT), DPROD.outputPort, None))
    with pytest.raises(ValidationRefused) as refused:
        write_records(seeded_store, records, actor=SYSTEM)
    items = {v.item for v in refused.value.report.violations}
    assert items == {"Owner / Steward", "Port"}
    assert "2 checklist violation(s)" in str(refused.value)


def test_a_write_that_breaks_a_stored_product_is_refused(seeded_store: Store) -> None:
    """Replacing HCP 360 without the API port that Digital engagement consumes breaks Digital engagement."""
    hcp_360 = BASE + "data-product/hcp-360"
    api = URIRef(hcp_360 + "/port/api")
    record = seeded_store.record(hcp_360)
    record.remove((URIRef(hcp_360), DPROD.outputPort, api))
    record.remove((api, None, None))
    before = export(seeded_store)
    with pytest.raises(ValidationRefused) as refused:
        write_records(seeded_store, {hcp_360: record}, actor=SYSTEM)
    # seed/README.md: both consume HCP 360's API.
    broken = {v.record for v in refused.value.report.violations}
    assert broken == {BASE + "data-product/digital-engagement", BASE + "data-product/next-best-action"}
    assert all("is neither (Port)" in v.message for v in refused.value.report.violations)
    assert export(seeded_store) == before


def test_making_a_domain_regulated_needs_its_products_classified(seeded_store: Store) -> None:
    marketing = BASE + "domain/marketing"
    record = seeded_store.record(marketing)
    record.set((URIRef(marketing), VM.regulated, Literal(True)))
    unclassified = {
        str(row[0])
        for row in seeded_store.select(
            "PREFIX dprod: <https://ekgf.github.io/dprod/> PREFIX vm: <https://w3id.org/valuemesh/ontology#> "
            "SELECT ?p ?d WHERE { ?p dprod:domain ?d FILTER NOT EXISTS { ?p vm:privacyClassification ?c } }",
            bindings={"d": URIRef(marketing)},
        ).rows
    }
    if not unclassified:
        pytest.fail("the seed's Marketing domain has no unclassified product; this test needs one")
    with pytest.raises(ValidationRefused) as refused:
        write_records(seeded_store, {marketing: record}, actor=SYSTEM)
    assert {v.record for v in refused.value.report.violations} == unclassified


def test_validating_a_write_reads_its_neighbourhood_not_the_catalog(seeded_store: Store) -> None:
    """What a write is judged with does not grow when unrelated products are added to the catalog."""
    records = records_of(read_rdf_file(DATA / "conforming-product.ttl"))
    before = neighbourhood(seeded_store, records)
    text = (DATA / "conforming-product.ttl").read_text()
    for i in range(50):
        copy = text.replace("territory-planning", f"copy-{i}").replace('"Territory planning"', f'"Copy {i}"')
        seeded_store.replace_records(records_of(parse_rdf(copy, ox.RdfFormat.TURTLE, f"copy-{i}.ttl")))
    after = neighbourhood(seeded_store, records)
    # The new products serve no purpose here but are visible: the use cases, ports and names they share are not.
    assert len(after) == len(before)
    assert check_write(seeded_store, records).conforms


@pytest.mark.parametrize(
    ("shapes_file", "conforms"),
    [("shapes-consumed-ports-say-their-kind.ttl", True), ("shapes-domain-described-briefly.ttl", False)],
)
def test_a_write_is_judged_on_everything_an_organisations_shapes_reach(
    seeded_store: Store, shapes_file: str, conforms: bool
) -> None:
    """Shapes that look at stored records two steps away (a path sequence, sh:node on a stored domain) judge a
    write as they judge the whole catalog with it: the consumed port's kind and the domain's description are
    fetched, though neither is in the packaged shapes' neighbourhood."""
    shapes = read_shapes([*shape_files(), DATA / shapes_file])
    records = records_of(read_rdf_file(DATA / "conforming-product.ttl"))
    seed = merge_records(records_of(read_rdf_file(p)) for p in seed_files())
    written = {str(s) for graph in records.values() for s in graph.subjects()}
    whole = [r for r in validate_records({**seed, **records}, shapes).results if r.focus_node in written]
    report = check_write(seeded_store, records, shapes)
    assert report.conforms is conforms
    assert _keys(report.results) == _keys(whole)
    if not conforms:
        assert any("Territory planning" in r.message and r.path == str(DPROD.domain) for r in report.violations)


def _keys(results: list[ValidationResult]) -> set[tuple[str | None, ...]]:
    return {(r.focus_node, r.path, r.component, r.value) for r in results}


def test_an_organisations_shape_without_a_message_says_what_it_asks() -> None:
    shapes = read_shapes([*shape_files(), DATA / "shapes-without-messages.ttl"])
    records = records_of(read_rdf_file(DATA / "conforming-product.ttl"))
    packaged = {r.message for r in validate_records(records).violations}
    messages = {r.message for r in validate_records(records, shapes).violations} - packaged
    assert messages == {
        "Territory planning: rdfs:label must match the pattern ^[A-Z]+$",
        "Territory planning: must have at least 2 values of dct:description; it has 1",
    }


def test_shapes_left_to_pyshacl_give_pyshacls_results_on_the_catalog(seeded_store: Store) -> None:
    """The fallback validates a stored catalog on the triples its shapes reach from their targets: the results are
    those of pyshacl over every triple of the store."""
    shapes = read_shapes([DATA / "shapes-left-to-pyshacl.ttl"])
    assert shapes.evaluated and shapes.evaluated_reach is not None
    everything = Graph()
    for row in seeded_store.select("SELECT ?s ?p ?o WHERE { ?s ?p ?o }"):
        everything.add((row["s"], row["p"], row["o"]))  # type: ignore[arg-type]
    _, report, _ = pyshacl_validate(everything, shacl_graph=shapes.graph, allow_warnings=True)
    expected = {
        (str(focus), str(report.value(r, SH.sourceConstraintComponent)))
        for r in report.subjects(SH.focusNode, None)
        for focus in report.objects(r, SH.focusNode)
    }  # type: ignore[union-attr]
    actual = {(r.focus_node, r.component) for r in validate_store(seeded_store, shapes).results}
    assert expected, "the seed has products with fewer than two objectives; this test needs some"
    assert actual == expected


# --- completeness ------------------------------------------------------------------------------------------------


def test_completeness_is_the_share_of_mandatory_items_met(seeded_store: Store) -> None:
    records = records_of(read_rdf_file(DATA / "product-without-owner.ttl"))
    product = URIRef(NEW_PRODUCT)
    records[NEW_PRODUCT].remove((product, URIRef("http://purl.org/dc/terms/description"), None))
    write_records(seeded_store, records, validate=False, actor=SYSTEM)  # as an older, unchecked catalog might hold it
    hcp_360 = BASE + "data-product/hcp-360"
    figures = completeness(seeded_store, [hcp_360, NEW_PRODUCT, BASE + "data-product/no-such-product"])
    # Commercial is regulated: eight items apply; owner and description are missing.
    assert figures == {hcp_360: 1.0, NEW_PRODUCT: 6 / 8}


def test_completeness_leaves_privacy_out_where_the_domain_is_not_regulated(seeded_store: Store) -> None:
    web_analytics = BASE + "data-product/web-analytics"
    record = seeded_store.record(web_analytics)
    record.remove((URIRef(web_analytics), URIRef("http://purl.org/dc/terms/description"), None))
    write_records(seeded_store, {web_analytics: record}, validate=False, actor=SYSTEM)
    assert completeness(seeded_store, [web_analytics]) == {web_analytics: 6 / 7}


# --- the engine gives pyshacl's verdict ----------------------------------------------------------------------------


def _shapes_graph() -> Graph:
    graph = Graph()
    for path in shape_files():
        graph.parse(path, format="turtle")
    return graph


def _value(term: object) -> str:
    """Numbers compared by value: the store keeps 120.0 as its canonical form 120."""
    if isinstance(term, Literal) and isinstance(term.value, int | float | Decimal) and not isinstance(term.value, bool):
        return f"{float(term.value):g}"
    return "" if term is None else str(term)


def _key(focus: object, shape: object, component: object, severity: object, value: object) -> tuple[str, ...]:
    return (str(focus), str(shape), str(component), str(severity).rsplit("#", 1)[-1], _value(value))


def pyshacl_results(data: Graph) -> Counter[tuple[str, ...]]:
    _, report, _ = pyshacl_validate(data, shacl_graph=_shapes_graph(), allow_warnings=True)
    found: Counter[tuple[str, ...]] = Counter()
    for node in report.subjects(RDF.type, SH.ValidationResult):
        found[
            _key(
                report.value(node, SH.focusNode),
                report.value(node, SH.sourceConstraint) or report.value(node, SH.sourceShape),
                report.value(node, SH.sourceConstraintComponent),
                report.value(node, SH.resultSeverity),
                report.value(node, SH.value),
            )
        ] += 1
    return found


def engine_results(report: ValidationReport) -> Counter[tuple[str, ...]]:
    return Counter(
        _key(r.focus_term, r.constraint or r.source_shape, r.component, r.severity, r.value_term)
        for r in report.results
    )


def renamed(name: str, i: int) -> Records:
    """A fixture's records with the product (and its use case) renamed, so that all fixtures fit in one catalog."""
    text = (DATA / name).read_text().replace("territory-planning", f"territory-planning-{i}")
    return records_of(
        parse_rdf(text.replace('"Territory planning', f'"Territory planning {i}'), ox.RdfFormat.TURTLE, name)
    )


def seed_with(fixtures: list[str]) -> tuple[Records, Graph]:
    """The seed's records with the fixtures' (renamed), and all their triples in one graph."""
    records = merge_records([*(records_of(read_rdf_file(p)) for p in seed_files()), *map(renamed, fixtures, range(99))])
    union = Graph()
    for graph in records.values():
        union += graph
    return records, union


@pytest.mark.parametrize("fixtures", [[], sorted(REFUSED) + ACCEPTED], ids=["seed", "seed-and-every-fixture"])
def test_the_engine_gives_pyshacls_results(fixtures: list[str]) -> None:
    """Over the seed, and the seed with every fixture, the compiled queries find exactly what pyshacl finds."""
    records, union = seed_with(fixtures)
    expected = pyshacl_results(union)
    assert engine_results(validate_records(records)) == expected
    violating = {key[0].split("/")[4] for key in expected if key[3] == "Violation"}
    slugs = {name: f"territory-planning-{i}" for i, name in enumerate(fixtures)}
    assert {slugs[name] for name in REFUSED if name in slugs} <= violating
    assert not {slugs[name] for name in ACCEPTED if name in slugs} & violating


def test_the_whole_catalog_on_disk_gives_pyshacls_results(tmp_path: Path) -> None:
    """`valuemesh validate` over a stored catalog (on disk the queries are planned otherwise: every pattern scanned
    once and joined by hash) finds exactly what pyshacl finds, and what validating the same records in memory finds."""
    records, union = seed_with(sorted(REFUSED) + ACCEPTED)
    store = open_store(str(tmp_path / "store"))
    try:
        store.replace_records({iri: list(graph) for iri, graph in records.items()})
        on_disk = validate_store(store)
        # Queries run three at a time (as `valuemesh validate` runs them): the same report, in the same order.
        assert validate_store(store, threads=3).results == on_disk.results
    finally:
        store.close()
    assert engine_results(on_disk) == pyshacl_results(union)
    in_memory = validate_records(records)
    assert sorted(map(repr, on_disk.results)) == sorted(map(repr, in_memory.results))
    assert {r.component for r in on_disk.results} >= {
        str(SH.SPARQLConstraintComponent),
        str(SH.MinCountConstraintComponent),
    }


@pytest.mark.parametrize(
    ("shape", "refusal"),
    [
        ('sh:property [ sh:path ex:p ; sh:patern "^a" ]', "sh:patern"),  # no such component: never skipped
        ('sh:sparql [ sh:select "SELECT $this WHERE { $this ?p ?o MINUS { $this ex:q ?o } }" ]', "MINUS"),
    ],
    ids=["unknown-component", "sparql-with-minus"],
)
def test_shapes_the_engine_cannot_honour_are_refused_when_read(shape: str, refusal: str) -> None:
    shapes = Graph().parse(
        data=f"""
        @prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://example.org/> .
        ex:S a sh:NodeShape ; sh:targetClass ex:C ; {shape} .""",
        format="turtle",
    )
    with pytest.raises(UnsupportedShape, match=refusal):
        shapes_from_graph(shapes)


def test_the_packaged_shapes_are_all_compiled() -> None:
    """Whole-catalog validation with the packaged shapes never goes through pyshacl."""
    shapes = catalog_shapes()
    assert shapes.evaluated == () and shapes.evaluated_graph is None
    assert len(shapes.checks) == 65
