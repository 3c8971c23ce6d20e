"""Bitol ODPS v1.0 products to the graph and back.

What ODPS has no field for (type, privacy, access policy, producers, consumers, use cases) is read from and
written to `customProperties` under the names in PRODUCT_PROPERTIES; everything else ODPS says and our model does
not (status, support, management ports, authoritative definitions, ...) is kept as the node's annotation and given
back on export. docs/formats.md has the full mapping table.
"""

from __future__ import annotations

import copy
from typing import Any

from server.catalog.iris import segment
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
    dataset_entries,
    dataset_names,
    decimal_of,
    keyword,
)
from server.formats.loading import LoadedDocument
from server.formats.odcs import Contracts, agreement_from_contracts, datasets_of_contract
from server.namespaces import VM

OWNER_ROLES = {"owner", "product owner", "data product owner", "dataproductowner"}
# ODPS output port `type` -> our port mechanism.
PORT_TYPES = {
    "table": VM.Table, "tables": VM.Table, "database": VM.Table,
    "api": VM.Api, "rest": VM.Api, "graphql": VM.Api,
    "stream": VM.Stream, "streams": VM.Stream, "topic": VM.Stream, "kafka": VM.Stream,
    "file": VM.File, "files": VM.File,
    "dashboard": VM.Dashboard, "report": VM.Report,
}  # fmt: skip
PRODUCT_PROPERTIES = (
    "dataProductType",
    "privacyClassification",
    "personalData",
    "applicableLaw",
    "accessMode",
    "accessPolicy",
    "distributionRights",
    "producers",
    "consumers",
    "useCases",
    "serviceLevelObjectives",
)
PORT_PROPERTIES = ("mechanism", "consumes", "datasets")


def _properties(entry: dict[str, Any]) -> dict[str, Any]:
    return {str(p.get("property")): p.get("value") for p in entry.get("customProperties") or [] if isinstance(p, dict)}


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _agents(value: Any, person: bool) -> list[Reference]:
    return [Reference(label=name, person=person) for name in _as_list(value)]


def product_from_odps(document: LoadedDocument, contracts: Contracts, notes: list[str]) -> ProductDescription:
    """The product an ODPS document describes, its SLAs taken from the contracts its output ports name."""
    data: dict[str, Any] = document.data
    description = data.get("description") or {}
    custom = _properties(data)
    product = ProductDescription(
        name=str(data.get("name") or data["id"]),
        identifier=str(data["id"]),
        version=data.get("version"),
        description=description.get("usage"),
        purpose=description.get("purpose"),
        product_type=PRODUCT_TYPES.get(str(custom.get("dataProductType"))),
        domain=Reference(str(data["domain"])) if data.get("domain") else None,
        privacy=PRIVACY.get(str(custom.get("privacyClassification"))),
        personal_data=custom.get("personalData") if isinstance(custom.get("personalData"), bool) else None,
        applicable_law=str(custom["applicableLaw"]) if custom.get("applicableLaw") else None,
        use_cases=_as_list(custom.get("useCases")),
        keywords=[str(t) for t in data.get("tags") or []],
        producers=_agents(custom.get("producers"), person=False),
        consumers=_agents(custom.get("consumers"), person=False),
        source_format="odps",
    )
    team = data.get("team") or {}
    if team.get("name"):
        product.producers.insert(0, Reference(str(team["name"]), person=False))
    owners = [m for m in team.get("members") or [] if str(m.get("role", "")).strip().lower() in OWNER_ROLES]
    if owners:
        product.owner = Reference(str(owners[0].get("name") or owners[0]["username"]))
        if len(owners) > 1:
            notes.append(f"{document.source}: {len(owners)} team members have the owner role; the first is the owner")
    kept = {k: v for k, v in data.items() if k not in ("inputPorts", "outputPorts")}
    product.source_fields = {"odps": kept}

    port_contracts = []
    for position, entry in enumerate(data.get("inputPorts") or []):
        props = _properties(entry)
        product.ports.append(
            Port(
                label=str(entry["name"]),
                output=False,
                mechanism=MECHANISMS.get(str(props.get("mechanism"))),
                consumes=_as_list(props.get("consumes")),
                datasets=dataset_names(props.get("datasets")),
                source_fields={"odps": entry, "position": position},
            )
        )
    for position, entry in enumerate(data.get("outputPorts") or []):
        props = _properties(entry)
        mechanism = MECHANISMS.get(str(props.get("mechanism"))) or PORT_TYPES.get(str(entry.get("type", "")).lower())
        contract = contracts.find(str(entry["name"]), entry.get("contractId"))
        datasets = dataset_names(props.get("datasets")) or (datasets_of_contract(contract.data) if contract else [])
        product.ports.append(
            Port(
                label=str(entry["name"]),
                output=True,
                mechanism=mechanism,
                description=entry.get("description"),
                datasets=datasets,
                source_fields={"odps": entry, "position": position},
            )
        )
        if contract is not None:
            port_contracts.append(contract)
        elif entry.get("contractId"):
            notes.append(
                f"{document.source}: output port '{entry['name']}' names contract {entry['contractId']}, which was "
                "not found next to the product nor given with --contract; its SLA is not known"
            )
    product.agreement = agreement_from_contracts(port_contracts, notes)
    product.agreement.access = ACCESS_MODES.get(str(custom.get("accessMode"))) or product.agreement.access
    product.agreement.policy = custom.get("accessPolicy") or product.agreement.policy
    product.agreement.distribution = custom.get("distributionRights") or description.get("limitations")
    product.agreement.slos.extend(_slos_from_property(custom.get("serviceLevelObjectives")))
    return product


def _slos_from_property(value: Any) -> list[ServiceLevelObjective]:
    """SLOs written by our own export into the `serviceLevelObjectives` custom property."""
    slos = []
    for item in value if isinstance(value, list) else []:
        if isinstance(item, dict) and item.get("name"):
            slos.append(
                ServiceLevelObjective(
                    label=str(item["name"]),
                    indicator=INDICATORS.get(str(item.get("indicator"))),
                    target=decimal_of(item["target"]) if item.get("target") is not None else None,
                    period=item.get("period"),
                    error_budget=decimal_of(item["errorBudget"]) if item.get("errorBudget") is not None else None,
                    description=item.get("description"),
                )
            )
    return slos


def _slo_property(slos: list[ServiceLevelObjective]) -> list[dict[str, Any]] | None:
    written = []
    for slo in slos:
        item: dict[str, Any] = {"name": slo.label, "indicator": keyword(INDICATORS, slo.indicator)}
        if slo.target is not None:
            item["target"] = float(slo.target)
        if slo.period:
            item["period"] = slo.period
        if slo.error_budget is not None:
            item["errorBudget"] = float(slo.error_budget)
        if slo.description:
            item["description"] = slo.description
        written.append(item)
    return written or None


def _set_custom(entry: dict[str, Any], names: tuple[str, ...], values: dict[str, Any]) -> None:
    """Write the customProperties we own from `values` in place, keeping every other one where it was."""
    written: list[dict[str, Any]] = []
    done: set[str] = set()
    for item in entry.get("customProperties") or []:
        name = item.get("property")
        if name not in names:
            written.append(item)
        elif values.get(name) not in (None, [], ""):
            written.append({**item, "value": values[name]})
            done.add(name)
    written += [{"property": k, "value": v} for k, v in values.items() if k not in done and v not in (None, [], "")]
    if written:
        entry["customProperties"] = written
    else:
        entry.pop("customProperties", None)


def _port_entry(port: Port) -> dict[str, Any]:
    entry = copy.deepcopy(port.source_fields.get("odps") or {})
    entry["name"] = port.label
    entry.setdefault("version", "1.0.0")
    written_type = PORT_TYPES.get(str(entry.get("type", "")).lower())
    props: dict[str, Any] = {"datasets": dataset_entries(port.datasets)}
    if port.output:
        if port.description:
            entry["description"] = port.description
        if port.mechanism is not None and written_type != port.mechanism:
            entry["type"] = keyword(MECHANISMS, port.mechanism)
    else:
        props["mechanism"] = keyword(MECHANISMS, port.mechanism)
        props["consumes"] = port.consumes or None
        entry.setdefault("contractId", "")
    _set_custom(entry, PORT_PROPERTIES, props)
    return entry


def odps_from_product(product: ProductDescription) -> dict[str, Any]:
    """An ODPS v1.0 document for a product: the kept ODPS fields, overlaid with what the graph says now."""
    doc: dict[str, Any] = copy.deepcopy(product.source_fields.get("odps") or {})
    doc.setdefault("apiVersion", "v1.0.0")
    doc.setdefault("kind", "DataProduct")
    doc.setdefault("id", product.identifier or product.iri)
    doc.setdefault("status", "active")
    doc["name"] = product.name
    if product.version:
        doc["version"] = product.version
    if product.domain is not None:
        doc["domain"] = product.domain.label
    description = dict(doc.get("description") or {})
    for field_name, value in (
        ("purpose", product.purpose),
        ("usage", product.description),
        ("limitations", product.agreement.distribution),
    ):
        if value:
            description[field_name] = value
    if description:
        doc["description"] = description
    if sorted(doc.get("tags") or []) != sorted(product.keywords):
        doc["tags"] = product.keywords
    if not doc.get("tags"):
        doc.pop("tags", None)
    team = dict(doc.get("team") or {})
    producers = list(product.producers)
    team_agent = next((p for p in producers if p.label == team.get("name")), None) or (
        producers[0] if producers and not team.get("name") else None
    )
    if team_agent is not None:
        team["name"] = team_agent.label
        producers.remove(team_agent)
    if product.owner is not None:
        members = list(team.get("members") or [])
        owners = [m for m in members if str(m.get("role", "")).strip().lower() in OWNER_ROLES]
        if not owners or (owners[0].get("name") or owners[0].get("username")) != product.owner.label:
            members = [m for m in members if m not in owners]
            members.insert(0, {"username": segment(product.owner.label), "name": product.owner.label, "role": "owner"})
        team["members"] = members
    if team:
        doc["team"] = team
    # What the kept contracts state is given back by them; custom properties carry only what differs.
    contracts = [LoadedDocument(c, "contract") for c in product.agreement.source_fields.get("odcs") or []]
    from_contracts = agreement_from_contracts(contracts, [])
    own_slos = [slo for slo in product.agreement.slos if "odcs" not in slo.source_fields]
    _set_custom(
        doc,
        PRODUCT_PROPERTIES,
        {
            "dataProductType": keyword(PRODUCT_TYPES, product.product_type),
            "privacyClassification": keyword(PRIVACY, product.privacy),
            "personalData": product.personal_data,
            "applicableLaw": product.applicable_law,
            "accessMode": None
            if product.agreement.access == from_contracts.access
            else keyword(ACCESS_MODES, product.agreement.access),
            "accessPolicy": None if product.agreement.policy == from_contracts.policy else product.agreement.policy,
            "producers": [p.label for p in producers] or None,
            "consumers": [c.label for c in product.consumers] or None,
            "useCases": product.use_cases or None,
            "serviceLevelObjectives": _slo_property(own_slos),
        },
    )
    inputs = [_port_entry(p) for p in product.ports if not p.output]
    outputs = [_port_entry(p) for p in product.ports if p.output]
    if inputs:
        doc["inputPorts"] = inputs
    if outputs:
        doc["outputPorts"] = outputs
    return doc
