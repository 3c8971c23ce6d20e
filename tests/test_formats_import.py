"""Descriptors teams keep in git, converted to records: the shared standard examples and our own YAML."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import RDFS, Literal, URIRef

from server.catalog.writes import write_records
from server.errors import BadInput, ValidationRefused
from server.formats import convert_files, records_from_yaml
from server.formats.loading import load_file
from server.formats.odcs import parse_contract_argument
from server.formats.schema_check import DescriptorInvalid
from server.identity.principal import SYSTEM
from server.namespaces import DCAT, DCT, DPROD, VM
from server.store import Store
from tests.conftest import DATA, SHARED

STANDARDS = SHARED / "standards"
DESCRIPTORS = DATA / "descriptors"
BASE = "https://valuemesh.example/"
ODPS_EXAMPLE = STANDARDS / "odps-1.0" / "simple-data-product.odps.yaml"
ODCS_EXAMPLE = STANDARDS / "odcs-3.1" / "database-table-sla.odcs.yaml"
TRIP = STANDARDS / "dpds-1.0" / "examples" / "tripexecution"


def labels(graph, predicate) -> set[str]:  # type: ignore[no-untyped-def]
    return {str(graph.value(o, RDFS.label)) for o in graph.objects(None, predicate)}


def test_odps_example_takes_its_slos_from_the_odcs_contract_and_the_checklist_names_what_to_add(
    seeded_store: Store,
) -> None:
    batch = convert_files(
        [ODPS_EXAMPLE],
        store=seeded_store,
        contract_arguments=[parse_contract_argument(f"processed-data={ODCS_EXAMPLE}")],
    )
    (conversion,) = batch.conversions
    product = conversion.records[conversion.product]
    assert conversion.product == BASE + "data-product/simple-data-product"
    assert labels(product, DPROD.outputPort) == {"processed-data"}
    assert labels(product, DPROD.inputPort) == {"source-data"}
    # SLA properties that state objectives became SLOs; lifecycle dates and retention are reported, not dropped.
    assert labels(product, VM.serviceLevelObjective) == {
        "latency 4 d",
        "frequency 1 d",
        "timeOfAvailability 09:00-08:00",
        "timeOfAvailability 08:00-08:00",
    }
    assert any("'retention' states no objective" in note for note in conversion.notes)

    with pytest.raises(ValidationRefused) as refused:
        write_records(seeded_store, batch.records(), actor=SYSTEM)
    messages = " ".join(v.message for v in refused.value.report.violations)
    assert "owner" in messages and "domain" in messages and "period" in messages
    assert not len(seeded_store.record(conversion.product))


def test_dpds_example_with_ref_ports_imports_from_its_directory(seeded_store: Store) -> None:
    batch = convert_files([TRIP], store=seeded_store)
    (conversion,) = batch.conversions
    product = conversion.records[conversion.product]
    assert labels(product, DPROD.outputPort) == {"Trip Status", "Trip Events"}
    assert labels(product, DPROD.inputPort) == {"tmsInput"}
    # The port file that is a whole descriptor is used for its one port, said so, and not registered on its own.
    assert any("trip-events-oport.json is a whole data product descriptor" in n for n in conversion.notes)
    assert str(TRIP / "ports" / "trip-events-oport.json") in batch.skipped
    # Promised availability 0.99999 is a 99.999% target; the audience expectation is the access policy.
    targets = {str(o) for o in product.objects(None, VM.target)}
    assert targets == {"99.999"}
    policy = str(product.value(URIRef(conversion.product + "/agreement"), VM.accessPolicy))
    assert "not for customer care and finance" in policy
    # The domain and owner it names are new to the catalog: minimal records, label only.
    domain = batch.records()[BASE + "domain/transport-management"]
    assert set(domain.objects(None, RDFS.label)) == {Literal("Transport Management")}
    assert BASE + "agent/john-doe" in batch.records()


def test_dpds_descriptor_without_info_name_is_refused_with_its_location() -> None:
    with pytest.raises(DescriptorInvalid) as refused:
        convert_files([STANDARDS / "dpds-1.0" / "examples" / "minimal.dpd.json"])
    problem = refused.value.problems[0]
    assert (problem.path, problem.line) == ("$.info", 3)
    assert "'name' is a required property" in problem.message
    assert str(refused.value).startswith(str(STANDARDS / "dpds-1.0" / "examples" / "minimal.dpd.json") + ":3:")


def test_official_schemas_are_used_when_given() -> None:
    odd = DESCRIPTORS / "odps-with-field-the-standard-does-not-define.odps.yaml"
    # Our structural schema lets the unknown field through (it is kept as an annotation) ...
    (conversion,) = convert_files([odd]).conversions
    assert "Campaign reach" in conversion.records[conversion.product].serialize(format="turtle")
    # ... the official ODPS schema, when the user supplies it, refuses it with its location.
    with pytest.raises(DescriptorInvalid) as refused:
        convert_files([odd], official_dir=STANDARDS)
    assert "official ODPS v1.0" in str(refused.value)
    assert "'owner' was unexpected" in refused.value.problems[0].message
    # Our own examples pass the official schemas in full.
    assert convert_files([DESCRIPTORS / "odps-with-contract"], official_dir=STANDARDS).conversions


def test_a_bare_yaml_version_stays_a_string() -> None:
    loaded = load_file(DESCRIPTORS / "hcp-call-planning.valuemesh.yaml")
    assert loaded.data["valuemesh"] == "1.0"
    assert loaded.data["version"] == "2.10"  # a float would have made it 2.1
    records = records_from_yaml((DESCRIPTORS / "hcp-call-planning.valuemesh.yaml").read_text())
    product = records[BASE + "data-product/hcp-call-planning"]
    assert product.value(URIRef(BASE + "data-product/hcp-call-planning"), DCAT.version) == Literal("2.10")


def test_our_yaml_maps_every_checklist_item(seeded_store: Store) -> None:
    batch = convert_files([DESCRIPTORS / "hcp-call-planning.valuemesh.yaml"], store=seeded_store)
    records = batch.records()
    node = URIRef(BASE + "data-product/hcp-call-planning")
    product = records[str(node)]
    assert product.value(node, DPROD.domain) == URIRef(BASE + "domain/commercial")  # found by label
    assert product.value(node, DPROD.dataProductOwner) == URIRef(BASE + "agent/head-of-customer-insights")
    assert product.value(node, DCT.type) == VM.ConsumerOriented
    assert product.value(node, VM.privacyClassification) == VM.Confidential
    assert (URIRef(BASE + "use-case/hcp-360-dashboard"), VM.servedBy, node) in product
    port = URIRef(BASE + "data-product/hcp-call-planning/port/crm-interactions")
    assert product.value(port, VM.consumes) == URIRef(BASE + "data-product/crm-interactions/port/table")
    # Only the agent the catalog lacks gets a record; the seed's domain and owner are never replaced.
    assert sorted(records) == [BASE + "agent/call-planning-team", str(node)]
    outcome = write_records(seeded_store, records, actor=SYSTEM)
    assert outcome.added == sorted(records)


@pytest.mark.parametrize(
    ("name", "where", "message"),
    [
        ("product-without-name.valuemesh.yaml", ("$", 1), "'name' is a required property"),
        ("slo-target-is-text.valuemesh.yaml", ("$.sharing.slos[0].target", 18), "is not of type 'number'"),
    ],
)
def test_schema_invalid_descriptors_are_refused_with_path_and_line(name: str, where: tuple, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(DescriptorInvalid) as refused:
        convert_files([DESCRIPTORS / name])
    problem = refused.value.problems[0]
    assert (problem.path, problem.line) == where
    assert message in problem.message


def test_port_references_over_the_network_are_refused() -> None:
    with pytest.raises(BadInput) as refused:
        convert_files([DESCRIPTORS / "dpds-port-ref-over-https"])
    assert refused.value.line == 12
    assert "never fetches" in str(refused.value)


@pytest.mark.parametrize(
    ("path", "product"),
    [
        (ODPS_EXAMPLE, "data-product/simple-data-product"),
        (
            STANDARDS / "dpds-1.0" / "examples" / "tripexecution" / "ports" / "trip-events-oport.json",
            "data-product/tripexecution",  # DPDS info.name `tripExecution`: camelCase is not split (iris.py)
        ),
        (DESCRIPTORS / "hcp-call-planning.valuemesh.yaml", "data-product/hcp-call-planning"),
    ],
)
def test_records_from_yaml_detects_the_format(path: Path, product: str) -> None:
    records = records_from_yaml(path.read_text(), str(path))
    assert list(records) == [BASE + product]


def test_text_that_is_no_descriptor_is_refused() -> None:
    with pytest.raises(BadInput, match="not a data product descriptor"):
        records_from_yaml("just: some\nsettings: true\n")
    with pytest.raises(BadInput, match="ODCS data contract"):
        records_from_yaml(ODCS_EXAMPLE.read_text())


def test_port_datasets_come_from_each_format(seeded_store: Store) -> None:
    """valuemesh YAML and DPDS name them on the port; ODPS in a custom property, or through its ODCS contract's
    servers and tables (OpenLineage's naming: postgres://host:port + database.schema.table, kafka://host + topic)."""
    from server.formats.reading import describe_product

    batch = convert_files([DESCRIPTORS / "odps-with-contract-servers"], store=seeded_store)
    (conversion,) = batch.conversions
    write_records(seeded_store, batch.records(), actor=SYSTEM, validate=False)
    (port,) = [p for p in describe_product(seeded_store, conversion.product).ports if p.output]
    assert [str(d) for d in port.datasets] == [
        "kafka://broker.example.org:9092/order_lines",
        "postgres://warehouse.example.org:5432/sales.orders.order_lines",
    ]
    source = DESCRIPTORS / "call-plan-with-datasets.valuemesh.yaml"
    records = records_from_yaml(source.read_text(), str(source), store=seeded_store)
    names = {str(o) for graph in records.values() for o in graph.objects(None, VM.datasetName)}
    assert names == {"commercial.planning.call_plan"}
