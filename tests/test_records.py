"""How a document's statements are filed into records (named graphs), so that loading never clobbers a neighbour."""

from __future__ import annotations

from server.catalog.records import records_of
from server.rdf_io import FORMATS_BY_NAME, parse_rdf

PRODUCT_WITH_USE_CASE_LINK = """
@base <https://valuemesh.example/> .
@prefix dprod: <https://ekgf.github.io/dprod/> .
@prefix odrl: <http://www.w3.org/ns/odrl/2/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix vm: <https://w3id.org/valuemesh/ontology#> .

<data-product/p> a dprod:DataProduct ; rdfs:label "P" ;
    dprod:outputPort <data-product/p/port/out> ;
    odrl:hasPolicy <data-product/p/agreement> ;
    vm:consumer [ rdfs:label "an anonymous team" ] .
<data-product/p/port/out> a vm:OutputPort ; rdfs:label "out" .
<data-product/p/agreement> vm:serviceLevelObjective <data-product/p/slo/fresh> .
<data-product/p/slo/fresh> vm:target 99.0 .
<use-case/u> vm:servedBy <data-product/p> .
<domain/d> a vm:Domain ; rdfs:label "D" .
"""


def test_ports_agreements_slos_and_links_to_the_product_file_under_the_product() -> None:
    document = parse_rdf(PRODUCT_WITH_USE_CASE_LINK, FORMATS_BY_NAME["turtle"], "product.ttl")
    records = records_of(document)

    product = "https://valuemesh.example/data-product/p"
    assert set(records) == {product, "https://valuemesh.example/domain/d"}
    subjects = {str(s) for s in records[product].subjects()}
    assert {
        product,
        f"{product}/port/out",
        f"{product}/agreement",
        f"{product}/slo/fresh",
        "https://valuemesh.example/use-case/u",
    } <= subjects
    # all but the domain's two statements, and the name key derived from the product's name
    assert len(records[product]) == len(document.default) - 2 + 1


def test_named_graphs_are_kept_as_the_records_they_name() -> None:
    trig = '<https://valuemesh.example/goal/g> { <https://valuemesh.example/goal/g> <http://www.w3.org/2000/01/rdf-schema#label> "G" }'
    records = records_of(parse_rdf(trig, FORMATS_BY_NAME["trig"], "g.trig"))
    assert list(records) == ["https://valuemesh.example/goal/g"]
