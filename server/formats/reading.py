"""Reading a stored product record back into a `ProductDescription`, for export to the descriptor formats."""

from __future__ import annotations

from decimal import Decimal

from rdflib import RDFS, Graph, Literal, URIRef
from rdflib.term import Node

from server.errors import NotFound
from server.formats.description import (
    SOURCE_FORMAT,
    Port,
    ProductDescription,
    Reference,
    ServiceLevelObjective,
    SharingAgreement,
    annotation,
    datasets_of,
)
from server.namespaces import DCAT, DCT, DPROD, DPV, ODRL, PROV, VM
from server.store.base import Store


def _text(graph: Graph, node: Node, predicate: URIRef) -> str | None:
    value = graph.value(node, predicate)
    return str(value) if value is not None else None


def _decimal(graph: Graph, node: Node, predicate: URIRef) -> Decimal | None:
    value = graph.value(node, predicate)
    return Decimal(str(value)) if isinstance(value, Literal) else None


def _reference(store: Store, iri: Node | None) -> Reference | None:
    if not isinstance(iri, URIRef):
        return None
    record = store.record(str(iri))
    label = record.value(iri, RDFS.label)
    person = (iri, None, PROV.Organization) not in record
    return Reference(label=str(label) if label is not None else str(iri), iri=str(iri), person=person)


def _port(graph: Graph, node: Node, output: bool) -> Port:
    return Port(
        label=_text(graph, node, RDFS.label) or str(node),
        output=output,
        mechanism=graph.value(node, DCT.type),  # type: ignore[arg-type]
        description=_text(graph, node, DCT.description),
        consumes=sorted(str(o) for o in graph.objects(node, VM.consumes)),
        datasets=datasets_of(graph, node),
        key=str(node).rsplit("/", 1)[-1],
        source_fields=annotation(graph, node),
    )


def _agreement(graph: Graph, node: Node | None) -> SharingAgreement:
    if node is None:
        return SharingAgreement()
    slos = []
    for slo in sorted(graph.objects(node, VM.serviceLevelObjective), key=str):
        slos.append(
            ServiceLevelObjective(
                label=_text(graph, slo, RDFS.label) or str(slo),
                indicator=graph.value(slo, VM.serviceLevelIndicator),  # type: ignore[arg-type]
                target=_decimal(graph, slo, VM.target),
                period=_text(graph, slo, VM.period),
                error_budget=_decimal(graph, slo, VM.errorBudget),
                description=_text(graph, slo, DCT.description),
                key=str(slo).rsplit("/", 1)[-1],
                source_fields=annotation(graph, slo),
            )
        )
    return SharingAgreement(
        access=graph.value(node, DCT.accessRights),  # type: ignore[arg-type]
        policy=_text(graph, node, VM.accessPolicy),
        distribution=_text(graph, node, VM.distributionRights),
        slos=slos,
        source_fields=annotation(graph, node),
    )


def describe_product(store: Store, iri: str) -> ProductDescription:
    """The stored product `iri` as a format-neutral description (NotFound when there is no such product)."""
    graph = store.record(iri)
    node = URIRef(iri)
    if (node, None, DPROD.DataProduct) not in graph:
        raise NotFound(f"no data product {iri}")
    ports = [_port(graph, p, False) for p in graph.objects(node, DPROD.inputPort)]
    ports += [_port(graph, p, True) for p in graph.objects(node, DPROD.outputPort)]
    # Ports keep the order their descriptor gave them; the others follow by name.
    ports.sort(key=lambda p: (p.output, p.source_fields.get("position", 1 << 30), p.label))
    personal = graph.value(node, DPV.hasPersonalData)
    return ProductDescription(
        name=_text(graph, node, RDFS.label) or iri,
        iri=iri,
        key=iri.rsplit("/", 1)[-1],
        description=_text(graph, node, DCT.description),
        purpose=_text(graph, node, DPROD.purpose),
        product_type=graph.value(node, DCT.type),  # type: ignore[arg-type]
        domain=_reference(store, graph.value(node, DPROD.domain)),
        owner=_reference(store, graph.value(node, DPROD.dataProductOwner)),
        producers=[r for r in (_reference(store, a) for a in sorted(graph.objects(node, VM.producer), key=str)) if r],
        consumers=[r for r in (_reference(store, a) for a in sorted(graph.objects(node, VM.consumer), key=str)) if r],
        ports=ports,
        agreement=_agreement(graph, graph.value(node, ODRL.hasPolicy)),
        privacy=graph.value(node, VM.privacyClassification),  # type: ignore[arg-type]
        personal_data=personal.toPython() if isinstance(personal, Literal) else None,
        applicable_law=_text(graph, node, DPV.hasApplicableLaw),
        use_cases=sorted(str(s) for s in graph.subjects(VM.servedBy, node)),
        version=_text(graph, node, DCAT.version),
        identifier=_text(graph, node, DCT.identifier),
        keywords=sorted(str(k) for k in graph.objects(node, DCAT.keyword)),
        source_format=_text(graph, node, SOURCE_FORMAT),
        source_fields=annotation(graph, node),
    )
