"""Open Data Mesh DPDS 1.0 descriptors to the graph and back.

Ports given as `$ref`s are read from files relative to the descriptor; references over the network are refused
(registering from CI must not depend on, or leak to, other hosts). Input and output ports become our ports;
discovery, observability and control ports have no counterpart in our model and are kept as annotations, as are
internal components. Output ports' promises become SLOs; their expectations and obligations the sharing
agreement's policy and distribution rights.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path
from typing import Any

from server.catalog.iris import segment
from server.errors import BadInput
from server.formats.description import (
    Port,
    ProductDescription,
    Reference,
    ServiceLevelObjective,
    dataset_entries,
    dataset_names,
    decimal_of,
)
from server.formats.loading import LoadedDocument, json_path, load_file
from server.formats.schema_check import DescriptorInvalid, bundled_schema_path, problems_against
from server.namespaces import VM

PORT_KINDS = ("inputPorts", "outputPorts", "discoveryPorts", "observabilityPorts", "controlPorts")
SERVICE_TYPES = {
    "datastore-services": VM.Table,
    "streaming-services": VM.Stream,
    "rest-services": VM.Api,
    "file-services": VM.File,
}
SPECIFICATIONS = {"asyncapi": VM.Stream, "openapi": VM.Api, "datastoreapi": VM.Table}
# Keys of a promised SLO definition -> our indicators.
SLO_KEYS = {
    "availability": VM.Availability,
    "responsetime": VM.Latency,
    "latency": VM.Latency,
    "freshness": VM.Timeliness,
    "timeliness": VM.Timeliness,
    "completeness": VM.Completeness,
    "accuracy": VM.Accuracy,
}


def _port_schema() -> dict[str, Any]:
    import json

    schema = json.loads(bundled_schema_path("dpds").read_text(encoding="utf-8"))
    return {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": "#/$defs/port"}


def _resolve_port(
    document: LoadedDocument, kind: str, index: int, entry: dict[str, Any], referenced: set[Path], notes: list[str]
) -> dict[str, Any]:
    """The port an interface entry describes, reading a `$ref` from a local file."""
    ref = entry.get("$ref")
    if ref is None:
        return entry
    where = ("interfaceComponents", kind, index, "$ref")
    line = document.line_of(where)
    location = json_path(where)
    if str(ref).lower().startswith(("http://", "https://", "ftp://", "//")):
        raise BadInput(
            f"{location}: the port reference {ref} points to the network; valuemesh never fetches descriptors, "
            "keep the port file next to the descriptor and refer to it by a relative path",
            source=document.source,
            line=line,
        )
    if document.path is None:
        raise BadInput(
            f"{location}: the port reference {ref} can only be resolved for a descriptor read from a file",
            source=document.source,
            line=line,
        )
    target = (document.path.parent / str(ref).split("#", 1)[0]).resolve()
    if not target.is_file():
        raise BadInput(f"{location}: the port file {ref} does not exist", source=document.source, line=line)
    referenced.add(target)
    port_document = load_file(target)
    port = port_document.data
    if isinstance(port, dict) and "interfaceComponents" in port:
        # A whole descriptor where a port belongs (the DPDS example's trip-events-oport.json): use its one port.
        candidates = (port.get("interfaceComponents") or {}).get(kind) or []
        if len(candidates) != 1 or not isinstance(candidates[0], dict):
            raise BadInput(
                f"{location}: {ref} is a whole data product descriptor, not a port, and holds {len(candidates)} "
                f"{kind}; point the reference at a port file",
                source=document.source,
                line=line,
            )
        notes.append(
            f"{document.source}: {ref} is a whole data product descriptor, not a port; "
            f"used the one entry of its {kind} ('{candidates[0].get('name')}')"
        )
        port = candidates[0]
        port_document = LoadedDocument(
            port,
            port_document.source,
            {p[3:]: n for p, n in port_document.lines.items() if p[:3] == ("interfaceComponents", kind, 0)},
        )
    problems = problems_against(_port_schema(), port_document, port)
    if problems:
        raise DescriptorInvalid(port_document.source, "DPDS 1.0 port (valuemesh)", problems)
    merged = {k: v for k, v in entry.items() if k != "$ref"}
    merged.update(port)
    merged["$ref"] = ref
    return merged


def _definition(section: Any, name: str) -> dict[str, Any]:
    value = section.get(name) if isinstance(section, dict) else None
    return value if isinstance(value, dict) else {}


def _slos(port_label: str, promises: dict[str, Any]) -> list[ServiceLevelObjective]:
    """SLOs a port promises: the `x-...Slo` groups of its `slo` definition."""
    slo = _definition(promises, "slo")
    definition = slo.get("definition") if isinstance(slo.get("definition"), dict) else {}
    found = []
    for group, values in (definition or {}).items():
        if not isinstance(values, dict):
            continue
        for name, value in values.items():
            indicator = SLO_KEYS.get(str(name).lower())
            if indicator is None:
                continue
            target: Decimal | None = None
            if indicator == VM.Availability and (number := decimal_of(value)) is not None:
                target = Decimal(format((number * 100 if number <= 1 else number).normalize(), "f"))
            found.append(
                ServiceLevelObjective(
                    label=f"{port_label} {name} {value}",
                    indicator=indicator,
                    target=target,
                    description=f"{name}: {value} ({group}, promised on port {port_label})"
                    + (f". {slo['description']}" if slo.get("description") else ""),
                    source_fields={"dpds": {group: {name: value}}},
                )
            )
    return found


def _descriptions(ports: list[tuple[str, dict[str, Any]]], section: str, name: str) -> str | None:
    texts = [
        f"{label}: {_definition(port.get(section), name).get('description')}"
        for label, port in ports
        if _definition(port.get(section), name).get("description")
    ]
    return "\n".join(texts) or None


def product_from_dpds(document: LoadedDocument, referenced: set[Path], notes: list[str]) -> ProductDescription:
    """The product a DPDS descriptor describes, its `$ref` ports read from the files next to it."""
    data: dict[str, Any] = document.data
    info = data["info"]
    owner = info["owner"]
    product = ProductDescription(
        name=str(info.get("displayName") or info["name"]),
        key=str(info["name"]),
        identifier=str(info["fullyQualifiedName"]),
        version=str(info["version"]),
        description=info.get("description"),
        domain=Reference(str(info["domain"])),
        owner=Reference(str(owner.get("name") or owner["id"])),
        keywords=[str(t) for t in data.get("tags") or []],
        source_format="dpds",
    )
    components = data["interfaceComponents"]
    resolved: dict[str, list[dict[str, Any]]] = {}
    for kind in PORT_KINDS:
        entries = components.get(kind) or []
        resolved[kind] = [_resolve_port(document, kind, i, e, referenced, notes) for i, e in enumerate(entries)]
    output_ports: list[tuple[str, dict[str, Any]]] = []
    for kind, output in (("inputPorts", False), ("outputPorts", True)):
        for position, port in enumerate(resolved[kind]):
            if "expectatctions" in port and "expectations" not in port:
                notes.append(
                    f"{document.source}: port '{port.get('name')}' spells 'expectatctions'; read as expectations"
                )
                port["expectations"] = port["expectatctions"]
            promises: dict[str, Any] = port["promises"] if isinstance(port.get("promises"), dict) else {}
            api = _definition(promises, "api")
            mechanism = SERVICE_TYPES.get(str(promises.get("serviceType") or promises.get("servicesType"))) or (
                SPECIFICATIONS.get(str(api.get("specification", "")).lower())
            )
            label = str(port.get("displayName") or port["name"])
            product.ports.append(
                Port(
                    label=label,
                    output=output,
                    key=str(port["name"]),
                    mechanism=mechanism,
                    description=port.get("description"),
                    consumes=[str(c) for c in port.get("x-consumes") or []],
                    datasets=dataset_names(port.get("x-datasets")),
                    source_fields={"dpds": port, "position": position},
                )
            )
            if output:
                output_ports.append((label, port))
                product.agreement.slos.extend(_slos(label, promises or {}))
    product.agreement.policy = _descriptions(output_ports, "expectations", "audience")
    product.agreement.distribution = _descriptions(output_ports, "obligations", "termsAndConditions")
    kept = {k: v for k, v in data.items() if k != "interfaceComponents"}
    kept["interfaceComponents"] = {k: v for k, v in resolved.items() if k not in ("inputPorts", "outputPorts") and v}
    product.source_fields = {"dpds": kept}
    return product


def dpds_from_product(product: ProductDescription) -> dict[str, Any]:
    """A DPDS 1.0 descriptor for a product: kept DPDS fields overlaid with what the graph says now."""
    doc: dict[str, Any] = copy.deepcopy(product.source_fields.get("dpds") or {})
    doc.setdefault("dataProductDescriptor", "1.0.0")
    info = dict(doc.get("info") or {})
    info["name"] = info.get("name") or product.key or segment(product.name)
    info["displayName"] = product.name
    info["fullyQualifiedName"] = product.identifier or product.iri
    info["version"] = product.version or info.get("version") or "1.0.0"
    if product.domain is not None:
        info["domain"] = product.domain.label
    if product.description:
        info["description"] = product.description
    if product.owner is not None:
        owner = dict(info.get("owner") or {})
        if owner.get("name") != product.owner.label:
            owner = {"id": product.owner.iri or product.owner.label, "name": product.owner.label}
        info["owner"] = owner
    doc["info"] = info
    components = dict(doc.get("interfaceComponents") or {})
    for kind, output in (("inputPorts", False), ("outputPorts", True)):
        entries = []
        for port in (p for p in product.ports if p.output == output):
            entry = copy.deepcopy(port.source_fields.get("dpds") or {})
            entry.pop("$ref", None)
            entry["name"] = entry.get("name") or port.key or segment(port.label)
            entry["displayName"] = port.label
            entry.setdefault("version", "1.0.0")
            if port.description:
                entry["description"] = port.description
            promises = dict(entry.get("promises") or {})
            if port.mechanism is not None and "serviceType" not in promises:
                promises["x-mechanism"] = str(port.mechanism).rsplit("#", 1)[-1]
            if promises:
                entry["promises"] = promises
            if port.consumes:
                entry["x-consumes"] = port.consumes
            if port.datasets:
                entry["x-datasets"] = dataset_entries(port.datasets)
            entries.append(entry)
        components[kind] = entries
    doc["interfaceComponents"] = components
    agreement = product.agreement
    extras = {
        "x-dataProductType": str(product.product_type).rsplit("#", 1)[-1] if product.product_type else None,
        "x-privacyClassification": str(product.privacy).rsplit("#", 1)[-1] if product.privacy else None,
        "x-accessMode": str(agreement.access).rsplit("#", 1)[-1] if agreement.access else None,
        "x-accessPolicy": agreement.policy,
        "x-distributionRights": agreement.distribution,
        "x-serviceLevelObjectives": [
            {
                "name": s.label,
                "indicator": str(s.indicator).rsplit("#", 1)[-1] if s.indicator else None,
                "target": float(s.target) if s.target is not None else None,
                "period": s.period,
                "description": s.description,
            }
            for s in agreement.slos
        ]
        or None,
        "x-useCases": product.use_cases or None,
    }
    for key, value in extras.items():
        if value is not None:
            info[key] = value
    return doc
