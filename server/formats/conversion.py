"""From descriptor documents to records: detect the format, check the schema, map, settle references.

`convert_files` is the all-or-nothing batch behind `valuemesh register`; `records_from_yaml` converts one
document given as text (the GraphQL `registerDataProduct(format: YAML)` path).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.catalog.records import Records
from server.errors import BadInput
from server.formats.description import ProductDescription
from server.formats.dpds import product_from_dpds
from server.formats.loading import DESCRIPTOR_SUFFIXES, LoadedDocument, load_file, load_text
from server.formats.odcs import Contracts, contracts_beside, read_contract
from server.formats.odps import product_from_odps
from server.formats.references import product_records
from server.formats.schema_check import check_document
from server.formats.valuemesh_yaml import product_from_valuemesh_yaml
from server.namespaces import DEFAULT_BASE
from server.store.base import Store

FORMATS = ("odps", "dpds", "valuemesh")


def detect(data: Any) -> str | None:
    """`odps`, `odcs`, `dpds` or `valuemesh` from the document's marker fields; None for anything else."""
    if not isinstance(data, dict):
        return None
    if "valuemesh" in data:
        return "valuemesh"
    if "dataProductDescriptor" in data:
        return "dpds"
    if data.get("kind") == "DataProduct":
        return "odps"
    if data.get("kind") == "DataContract":
        return "odcs"
    return None


@dataclass
class Conversion:
    """One descriptor converted: its product's IRI, the records to write and what the user should know."""

    source: str
    format: str
    product: str
    records: Records
    notes: list[str] = field(default_factory=list)
    referenced: set[Path] = field(default_factory=set)


def _describe(
    document: LoadedDocument, kind: str, contracts: Contracts, official_dir: Path | None, notes: list[str]
) -> tuple[ProductDescription, set[Path]]:
    check_document(document, kind, official_dir)
    referenced: set[Path] = set()
    if kind == "odps":
        return product_from_odps(document, contracts, notes), referenced
    if kind == "dpds":
        return product_from_dpds(document, referenced, notes), referenced
    return product_from_valuemesh_yaml(document), referenced


def convert_document(
    document: LoadedDocument,
    *,
    base: str = DEFAULT_BASE,
    store: Store | None = None,
    contracts: Contracts | None = None,
    official_dir: Path | None = None,
) -> Conversion:
    """Convert one product descriptor (ODPS, DPDS or valuemesh YAML); BadInput when it is none or is invalid."""
    kind = detect(document.data)
    if kind == "odcs":
        raise BadInput(
            "this is an ODCS data contract, not a data product; register the ODPS product whose ports name it",
            source=document.source,
            line=1,
        )
    if kind is None:
        raise BadInput(
            "not a data product descriptor: expected ODPS (kind: DataProduct), DPDS (dataProductDescriptor) "
            'or valuemesh YAML (valuemesh: "1.0")',
            source=document.source,
            line=1,
        )
    contracts = contracts if contracts is not None else Contracts()
    if kind == "odps" and document.path is not None:
        for contract in contracts_beside(document.path.parent, official_dir):
            contracts.by_id.setdefault(str(contract.data.get("id")), contract)
    notes: list[str] = []
    product, referenced = _describe(document, kind, contracts, official_dir, notes)
    records = product_records(product, base, store)
    product_iri = next(iri for iri in records if "/data-product/" in iri or iri == product.iri)
    return Conversion(document.source, kind, product_iri, records, notes, referenced)


def records_from_yaml(
    text: str, source: str = "<document>", *, base: str = DEFAULT_BASE, store: Store | None = None
) -> Records:
    """Records for one ODPS, DPDS or valuemesh YAML document given as text (the format is detected).

    Pass the catalog's `store` so that domains and agents it already holds are found and never replaced.
    """
    return convert_document(load_text(text, source), base=base, store=store).records


def descriptor_files(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """(files named explicitly, files found under directories), each YAML or JSON."""
    named: list[Path] = []
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in DESCRIPTOR_SUFFIXES))
        elif path.is_file():
            named.append(path)
        else:
            raise BadInput("no such file or directory", source=str(path))
    return named, found


@dataclass
class Batch:
    conversions: list[Conversion] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def records(self) -> Records:
        merged: Records = {}
        for conversion in self.conversions:
            for iri, graph in conversion.records.items():
                if iri in merged:
                    merged[iri] += graph
                else:
                    merged[iri] = graph
        return merged


def convert_files(
    paths: list[Path],
    *,
    base: str = DEFAULT_BASE,
    store: Store | None = None,
    contract_arguments: list[tuple[str | None, Path]] = (),  # type: ignore[assignment]
    official_dir: Path | None = None,
) -> Batch:
    """Convert every descriptor under `paths`; the first unusable one raises BadInput and nothing is converted.

    In directories, files that are no descriptor (port files, API specifications, CI settings) are skipped, and so
    are contracts and files a descriptor refers to; a file named explicitly must be a descriptor.
    """
    named, found = descriptor_files(paths)
    contracts = Contracts()
    for port, path in contract_arguments:
        contracts.add(read_contract(path, official_dir), port)
    documents: list[tuple[LoadedDocument, bool]] = [(load_file(p), True) for p in named]
    documents += [(load_file(p), False) for p in found if p not in named]
    batch = Batch()
    product_documents = []
    for document, explicit in documents:
        kind = detect(document.data)
        if kind in FORMATS or explicit:
            product_documents.append(document)
        elif kind == "odcs":
            check_document(document, "odcs", official_dir)
        else:
            batch.skipped.append(document.source)
    conversions = [
        convert_document(d, base=base, store=store, contracts=contracts, official_dir=official_dir)
        for d in product_documents
    ]
    referenced = {path for c in conversions for path in c.referenced}
    for conversion in conversions:
        if Path(conversion.source).resolve() in referenced:
            # A file a descriptor uses as its port (a whole descriptor posing as one) is no product of its own.
            batch.skipped.append(conversion.source)
        else:
            batch.conversions.append(conversion)
    owners: dict[str, str] = {}
    for conversion in batch.conversions:
        if conversion.product in owners:
            raise BadInput(
                f"describes the same data product ({conversion.product}) as {owners[conversion.product]}",
                source=conversion.source,
            )
        owners[conversion.product] = conversion.source
    return batch
