"""What the register page does with a descriptor, as store work (run in the catalog's worker thread).

A descriptor is read exactly as `registerDataProduct` reads it (catalog/registration.py `records_of_document`) and
judged by the write path itself (`write_records` with `dry_run`): the preview is what a store would do, minus the
commit. When the caller may not write the product, the checklist is still judged (a dry run as the catalog itself,
which commits nothing) and the refusal is shown beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyoxigraph as ox
from rdflib import RDF, RDFS, Graph, URIRef
from rdflib.term import Node

from server.catalog.records import Records
from server.catalog.registration import records_of_document, register_document
from server.catalog.writes import WriteOutcome, write_records
from server.errors import BadInput, Forbidden, Unauthenticated, ValidationRefused
from server.identity.principal import SYSTEM, Principal
from server.namespaces import DCT, DPROD, PREFIXES, VM
from server.store.base import Store
from server.store.terms import serialize_triples
from server.validation import ValidationReport

# Far above any real descriptor (a few kB); batches go through `valuemesh register` or the load endpoint.
MAX_DOCUMENT_BYTES = 1_000_000

# The choices of the form's format field: the names `registerDataProduct(format:)` takes, and "detect".
FORMAT_CHOICES = (
    ("detect", "Detect from the text"),
    ("YAML", "Descriptor: valuemesh YAML, ODPS or DPDS (YAML or JSON)"),
    ("TURTLE", "Turtle"),
    ("JSON_LD", "JSON-LD"),
)
_SUFFIXES = {".ttl": "TURTLE", ".jsonld": "JSON_LD", ".yaml": "YAML", ".yml": "YAML"}
_TURTLE_STARTS = ("@prefix", "@base", "prefix ", "base ", "<")


def detect_format(text: str, filename: str | None = None) -> str:
    """TURTLE, JSON_LD or YAML (the descriptor formats), from the file's name or else the document's first line."""
    if filename:
        suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        if suffix in _SUFFIXES:
            return _SUFFIXES[suffix]
        if suffix == ".json":
            return "JSON_LD" if '"@context"' in text else "YAML"
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue  # both Turtle and YAML comment with #
        if stripped.lower().startswith(_TURTLE_STARTS):
            return "TURTLE"
        if stripped.startswith(("{", "[")):
            # JSON: JSON-LD has keywords; a JSON descriptor (DPDS, ODPS) is read as YAML, which JSON is
            return "JSON_LD" if any(k in text for k in ('"@context"', '"@id"', '"@graph"')) else "YAML"
        return "YAML"
    raise BadInput("the document is empty: paste a descriptor or choose a file", source="document")


def checked_text(data: bytes, what: str) -> str:
    """A document's text: BadInput when it is too large, not UTF-8, or empty."""
    if len(data) > MAX_DOCUMENT_BYTES:
        raise BadInput(
            f"{what} is {len(data):,} bytes; the register page takes descriptors up to {MAX_DOCUMENT_BYTES:,} bytes "
            "(load larger batches with `valuemesh register` or the load endpoint)",
            source="document",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadInput(f"{what} is not UTF-8 text (byte {error.start + 1} cannot be read)", source="document") from None
    if not text.strip():
        raise BadInput("the document is empty: paste a descriptor or choose a file", source="document")
    return text


@dataclass(frozen=True)
class Named:
    iri: str
    label: str | None


@dataclass(frozen=True)
class PortLine:
    iri: str
    direction: str  # "input" | "output"
    label: str | None
    mechanism: str | None
    consumes: list[str]


@dataclass
class ProductSummary:
    """What would be stored, as a person checks it: the product's name, IRI, domain, owner and ports."""

    iri: str
    name: str | None
    description: str | None
    domain: list[Named]
    owner: list[Named]
    ports: list[PortLine]
    others: list[Named]  # the agents, domains or sources the document adds with its product


@dataclass
class Preview:
    format: str  # the format name registration takes (TURTLE, JSON_LD, YAML)
    format_name: str
    summary: ProductSummary
    report: ValidationReport
    outcome: WriteOutcome | None  # None when the checklist refused it
    refused: str | None = None  # why the caller may not store it (the policy's words)
    needs_identity: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def passes(self) -> bool:
        return self.report.conforms

    @property
    def storable(self) -> bool:
        return self.passes and self.refused is None and not self.needs_identity


def _label(graph: Graph, node: Node) -> str | None:
    value = graph.value(node, RDFS.label) or graph.value(node, DCT.title)
    return str(value) if value is not None else None


def _named(store: Store, records: Records, iri: Node) -> Named:
    graph = records.get(str(iri))
    if graph is None or not len(graph):
        graph = store.record(str(iri))
    return Named(str(iri), _label(graph, iri))


def summary_of(store: Store, product: str, records: Records) -> ProductSummary:
    graph = records[product]
    node = URIRef(product)
    ports = []
    for direction, predicate in (("input", DPROD.inputPort), ("output", DPROD.outputPort)):
        for port in sorted(graph.objects(node, predicate), key=str):
            mechanism = graph.value(port, DCT.type)
            ports.append(
                PortLine(
                    str(port),
                    direction,
                    _label(graph, port),
                    _short(str(mechanism)) if mechanism is not None else None,
                    sorted(str(fed) for fed in graph.objects(port, VM.consumes)),
                )
            )
    description = graph.value(node, DCT.description)
    return ProductSummary(
        iri=product,
        name=_label(graph, node),
        description=str(description) if description is not None else None,
        domain=[_named(store, records, d) for d in sorted(graph.objects(node, DPROD.domain), key=str)],
        owner=[_named(store, records, o) for o in sorted(graph.objects(node, DPROD.dataProductOwner), key=str)],
        ports=ports,
        others=[_named(store, records, URIRef(iri)) for iri in sorted(records) if iri != product],
    )


def _short(iri: str) -> str:
    for prefix, namespace in PREFIXES.items():
        if iri.startswith(namespace):
            return iri[len(namespace) :] if prefix == "vm" else f"{prefix}:{iri[len(namespace) :]}"
    return iri


_KIND_NAMES = {"valuemesh": "valuemesh YAML", "odps": "ODPS", "dpds": "DPDS"}


def reading_of(store: Store, text: str, fmt: str, base: str) -> tuple[str, list[str]]:
    """How the page names what it read (Turtle, JSON-LD, valuemesh YAML, ODPS, DPDS) and what the conversion of a
    descriptor noted for the person (what it could not carry over, what it assumed), as `valuemesh register` prints."""
    if fmt == "TURTLE":
        return "Turtle", []
    if fmt == "JSON_LD":
        return "JSON-LD", []
    # Imported here, as registration.py does: the descriptor formats are the heavier modules, not needed to start.
    from server.formats.conversion import convert_document
    from server.formats.loading import load_text

    conversion = convert_document(load_text(text, "document"), base=base, store=store)
    return _KIND_NAMES.get(conversion.format, conversion.format), conversion.notes


def read_document(store: Store, text: str, fmt: str, base: str) -> tuple[str, Records]:
    """The product the document describes and its records, as `registerDataProduct` reads them."""
    return records_of_document(text, fmt, base, store)


def preview(store: Store, text: str, fmt: str, base: str, actor: Principal) -> Preview:
    """What storing the document as `actor` would do, committing nothing (BadInput for an unusable document)."""
    product, records = read_document(store, text, fmt, base)
    summary = summary_of(store, product, records)
    named, notes = reading_of(store, text, fmt, base)
    refused: str | None = None
    needs_identity = False
    try:
        outcome: WriteOutcome | None = write_records(store, records, actor=actor, dry_run=True)
        report = outcome.report if outcome is not None else ValidationReport()
    except ValidationRefused as refusal:
        return Preview(fmt, named, summary, refusal.report, None, notes=notes)
    except (Forbidden, Unauthenticated) as error:
        needs_identity = actor.via == "anonymous"  # the plain anonymous reader: no identity at all
        refused = None if needs_identity else str(error)
        # Judged as the catalog itself, so the person still learns what the checklist says; nothing is committed.
        try:
            outcome = write_records(store, records, actor=SYSTEM, dry_run=True)
            report = outcome.report
        except ValidationRefused as refusal:
            outcome, report = None, refusal.report
    return Preview(fmt, named, summary, report, outcome, refused=refused, needs_identity=needs_identity, notes=notes)


def store_document(store: Store, text: str, fmt: str, base: str, actor: Principal) -> str:
    """Store the document's product as `actor` through the registration path; its IRI (ValidationRefused, Forbidden,
    BadInput: nothing is stored)."""
    product, _ = register_document(store, text, fmt, base, actor=actor)
    return product


def product_name(store: Store, iri: str) -> str | None:
    """The product's name, or None when `iri` is no product of the catalog."""
    record = store.record(iri)
    if (URIRef(iri), RDF.type, DPROD.DataProduct) not in record:
        return None
    return _label(record, URIRef(iri)) or iri


def product_turtle(store: Store, iri: str, base: str) -> str | None:
    """The product's record as Turtle, for editing (None when `iri` is no product of the catalog).

    Written by Oxigraph, which keeps each literal as stored (rdflib would write the decimal "99" as 99.0, a
    different term: storing the form unchanged would then replace the record with an equal-looking one)."""
    record = store.record(iri)
    if (URIRef(iri), RDF.type, DPROD.DataProduct) not in record:
        return None
    # vm:nameKey is derived by the catalog on every write (records.normalised), never written by a person
    triples = sorted((t for t in record if t[1] != VM.nameKey), key=lambda t: (str(t[0]), str(t[1]), str(t[2])))
    written = serialize_triples(triples, ox.RdfFormat.TURTLE, prefixes=dict(PREFIXES), base_iri=base)
    return written.decode("utf-8")
