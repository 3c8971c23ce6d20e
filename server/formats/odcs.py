"""Bitol ODCS v3.1 contracts: where an ODPS product's sharing agreement and SLOs come from.

ODPS carries no SLA; its ports name a contract by `contractId`. A contract's `slaProperties` that state an
objective (availability, latency, frequency, time of availability) become SLOs; roles with approvers make access
approval-required. Lifecycle dates and retention are no objectives: they stay in the kept contract text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from server.errors import BadInput
from server.formats.description import DatasetName, ServiceLevelObjective, SharingAgreement, decimal_of
from server.formats.loading import DESCRIPTOR_SUFFIXES, LoadedDocument, load_file
from server.formats.schema_check import check_document
from server.namespaces import VM

# ODCS SLA property -> our service level indicator. ODCS "latency" is how late data arrives, i.e. timeliness.
SLA_INDICATORS = {
    "availability": VM.Availability,
    "latency": VM.Timeliness,
    "frequency": VM.Timeliness,
    "timeofavailability": VM.Timeliness,
    "completeness": VM.Completeness,
    "accuracy": VM.Accuracy,
    "responsetime": VM.Latency,
}
_DURATION_UNITS = {
    "y": "Y", "yr": "Y", "year": "Y", "years": "Y",
    "mo": "M", "month": "M", "months": "M",
    "w": "W", "week": "W", "weeks": "W",
    "d": "D", "day": "D", "days": "D",
    "h": "TH", "hr": "TH", "hour": "TH", "hours": "TH",
    "m": "TM", "min": "TM", "minute": "TM", "minutes": "TM",
    "s": "TS", "sec": "TS", "second": "TS", "seconds": "TS",
}  # fmt: skip


def iso_duration(value: object, unit: object) -> str | None:
    """`P1D` for (1, "d"), `PT5M` for (5, "min"); None when the pair is no duration."""
    code = _DURATION_UNITS.get(str(unit).strip().lower()) if unit is not None else None
    amount = decimal_of(value)
    if code is None or amount is None or amount < 0:
        return None
    number = format(amount.normalize(), "f")
    return f"PT{number}{code[1]}" if code.startswith("T") else f"P{number}{code}"


def is_contract(data: Any) -> bool:
    return isinstance(data, dict) and data.get("kind") == "DataContract"


@dataclass
class Contracts:
    """Contracts by id, and contracts bound to a port by name on the command line (`--contract PORT=FILE`)."""

    by_id: dict[str, LoadedDocument] = field(default_factory=dict)
    by_port: dict[str, LoadedDocument] = field(default_factory=dict)

    def add(self, document: LoadedDocument, port: str | None = None) -> None:
        if port:
            self.by_port[port] = document
        self.by_id.setdefault(str(document.data.get("id")), document)

    def find(self, port_name: str, contract_id: str | None) -> LoadedDocument | None:
        return self.by_port.get(port_name) or (self.by_id.get(contract_id) if contract_id else None)


def read_contract(path: Path, official_dir: Path | None = None) -> LoadedDocument:
    document = load_file(path)
    if not is_contract(document.data):
        raise BadInput("not an ODCS data contract (kind: DataContract)", source=str(path), line=1)
    check_document(document, "odcs", official_dir)
    return document


def contracts_beside(directory: Path, official_dir: Path | None = None) -> list[LoadedDocument]:
    """Contracts kept next to a product: the descriptor files in its directory whose kind is DataContract."""
    found: list[LoadedDocument] = []
    for path in sorted(directory.iterdir()):
        if path.suffix.lower() not in DESCRIPTOR_SUFFIXES or not path.is_file():
            continue
        try:
            document = load_file(path)
        except BadInput:
            continue  # an unreadable neighbour is reported when it is registered itself, not here
        if is_contract(document.data):
            check_document(document, "odcs", official_dir)
            found.append(document)
    return found


def _slo(sla: dict[str, Any]) -> ServiceLevelObjective | None:
    name = str(sla.get("property", ""))
    indicator = SLA_INDICATORS.get(name.lower())
    if indicator is None:
        return None
    value, unit = sla.get("value"), sla.get("unit")
    shown = f"{value} {unit}" if unit else f"{value}"
    details = [f"{name}: {shown}"]
    if sla.get("element"):
        details.append(f"on {sla['element']}")
    if sla.get("driver"):
        details.append(f"(driver: {sla['driver']})")
    if sla.get("description"):
        details.append(f"- {sla['description']}")
    target: Decimal | None = None
    if str(unit).strip() == "%" or (name.lower() == "availability" and unit is None):
        target = decimal_of(value)
    period = iso_duration(value, unit) if name.lower() == "frequency" else None
    return ServiceLevelObjective(
        label=f"{name} {shown}",
        indicator=indicator,
        target=target,
        period=period,
        description=" ".join(details),
        source_fields={"odcs": sla},
    )


def _approvers(role: dict[str, Any]) -> list[str]:
    return [str(role[k]) for k in ("firstLevelApprovers", "secondLevelApprovers") if role.get(k)]


def agreement_from_contracts(contracts: list[LoadedDocument], notes: list[str]) -> SharingAgreement:
    """The sharing agreement the contracts of a product's output ports state."""
    agreement = SharingAgreement()
    roles: list[dict[str, Any]] = []
    for contract in contracts:
        data = contract.data
        for sla in data.get("slaProperties") or []:
            slo = _slo(sla)
            if slo is None:
                notes.append(
                    f"{contract.source}: SLA property '{sla.get('property')}' states no objective; "
                    "kept with the contract, not as an SLO"
                )
            else:
                agreement.slos.append(slo)
        roles.extend(r for r in data.get("roles") or [] if isinstance(r, dict))
    if roles:
        approved = [r for r in roles if _approvers(r)]
        agreement.access = VM.AccessApprovalRequired if approved else VM.OpenAccess
        agreement.policy = "; ".join(
            f"role {r.get('role')}"
            + (f" ({r['access']} access)" if r.get("access") else "")
            + (f", approved by {' then '.join(_approvers(r))}" if _approvers(r) else "")
            + (f": {r['description']}" if r.get("description") else "")
            for r in roles
        )
    if contracts:
        agreement.source_fields = {"odcs": [c.data for c in contracts]}
    return agreement


_CONTRACT_ARGUMENT = re.compile(r"^(?P<port>[^=/\\]+)=(?P<file>.+)$")


def parse_contract_argument(argument: str) -> tuple[str | None, Path]:
    """`FILE` or `PORT=FILE` (binds the contract to the output port of that name, whatever its id)."""
    match = _CONTRACT_ARGUMENT.match(argument)
    if match and not Path(argument).exists():
        return match.group("port"), Path(match.group("file"))
    return None, Path(argument)


# ODCS server types whose datasets OpenLineage names `<scheme>://<host>:<port>` + `<database>.<schema>.<table>`.
_HOSTED = {"postgres": "postgres", "postgresql": "postgres", "mysql": "mysql", "sqlserver": "mssql"}


def _dataset_of(server: dict[str, Any], table: str) -> DatasetName | None:
    """The OpenLineage name of `table` on an ODCS server, as OpenLineage's naming conventions give it (None for a
    server type they name no way we read)."""
    kind = str(server.get("type", "")).lower()
    path = ".".join(str(server[k]) for k in ("database", "schema") if server.get(k))
    qualified = f"{path}.{table}" if path else table
    if kind in _HOSTED and server.get("host"):
        where = f"{_HOSTED[kind]}://{server['host']}" + (f":{server['port']}" if server.get("port") else "")
        return DatasetName(where, qualified)
    if kind == "snowflake" and server.get("account"):
        return DatasetName(f"snowflake://{server['account']}", qualified)
    if kind == "bigquery" and server.get("project"):
        return DatasetName("bigquery", f"{server['project']}.{server.get('dataset', '')}.{table}".replace("..", "."))
    if kind == "kafka" and server.get("host"):
        return DatasetName(f"kafka://{server['host']}", table)
    if kind == "s3" and server.get("location"):
        bucket, _, key = str(server["location"]).removeprefix("s3://").partition("/")
        return DatasetName(f"s3://{bucket}", key.rstrip("/") or table)
    return None


def datasets_of_contract(contract: dict[str, Any]) -> list[DatasetName]:
    """The datasets an ODCS contract's servers hold: each server with each schema object (table) it describes."""
    tables = [
        str(o["physicalName"] if o.get("physicalName") else o["name"])
        for o in contract.get("schema") or []
        if isinstance(o, dict) and (o.get("name") or o.get("physicalName"))
    ]
    found: set[DatasetName] = set()
    for server in contract.get("servers") or []:
        if not isinstance(server, dict):
            continue
        for table in tables or [""]:
            dataset = _dataset_of(server, table) if table or str(server.get("type")) == "s3" else None
            if dataset is not None:
                found.add(dataset)
    return sorted(found)
