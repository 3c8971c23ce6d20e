"""valuemesh's own descriptor: the article's MVP checklist as a short YAML file a domain team keeps in git.

The schema (schemas/valuemesh-data-product.schema.json) documents each field; editors complete it when the file
starts with `# yaml-language-server: $schema=<path or URL of the schema>`.
"""

from __future__ import annotations

from typing import Any

from server.formats.description import (
    ACCESS_MODES,
    INDICATORS,
    MECHANISMS,
    PRIVACY,
    PRODUCT_TYPES,
    Port,
    ProductDescription,
    Reference,
    ServiceLevelObjective,
    SharingAgreement,
    dataset_names,
    decimal_of,
)
from server.formats.loading import LoadedDocument


def _agent(value: Any) -> Reference:
    if isinstance(value, dict):
        return Reference(str(value["name"]), person=value.get("kind", "person") == "person")
    return Reference(str(value))


def _port(entry: dict[str, Any], output: bool) -> Port:
    return Port(
        label=str(entry["name"]),
        output=output,
        key=entry.get("id"),
        mechanism=MECHANISMS.get(str(entry.get("mechanism"))),
        description=entry.get("description"),
        consumes=[str(c) for c in entry.get("consumes") or []],
        datasets=dataset_names(entry.get("datasets")),
    )


def _slo(entry: dict[str, Any]) -> ServiceLevelObjective:
    target = decimal_of(entry["target"]) if entry.get("target") is not None else None
    budget = decimal_of(entry["error_budget"]) if entry.get("error_budget") is not None else None
    return ServiceLevelObjective(
        label=str(entry["name"]),
        indicator=INDICATORS.get(str(entry.get("indicator"))),
        target=target,
        period=entry.get("period"),
        error_budget=budget,
        description=entry.get("description"),
    )


def product_from_valuemesh_yaml(document: LoadedDocument) -> ProductDescription:
    """The product a valuemesh descriptor describes (already checked against its schema)."""
    data: dict[str, Any] = document.data
    ports = data.get("ports") or {}
    sharing = data.get("sharing") or {}
    privacy = data.get("privacy") or {}
    return ProductDescription(
        name=str(data["name"]),
        key=data.get("id"),
        version=data.get("version"),
        description=data.get("description"),
        purpose=data.get("job"),
        product_type=PRODUCT_TYPES.get(str(data.get("type"))),
        domain=Reference(str(data["domain"])) if data.get("domain") else None,
        owner=_agent(data["owner"]) if data.get("owner") else None,
        producers=[_agent(a) for a in data.get("producers") or []],
        consumers=[_agent(a) for a in data.get("consumers") or []],
        ports=[_port(p, False) for p in ports.get("input") or []] + [_port(p, True) for p in ports.get("output") or []],
        agreement=SharingAgreement(
            access=ACCESS_MODES.get(str(sharing.get("access"))),
            policy=sharing.get("policy"),
            distribution=sharing.get("distribution"),
            slos=[_slo(s) for s in sharing.get("slos") or []],
        ),
        privacy=PRIVACY.get(str(privacy.get("classification"))),
        personal_data=privacy.get("personal_data"),
        applicable_law=privacy.get("applicable_law"),
        restricted=data.get("restricted") is True,
        use_cases=[str(u) for u in data.get("use_cases") or []],
        keywords=[str(t) for t in data.get("tags") or []],
        source_format="valuemesh",
    )
