"""What the page of a record (or of a node inside one) shows, as plain data: server/web/linked_data.py gathers it,
server/web/ui/record.py draws it (autoescaped, and only http(s) IRIs become links)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Term:
    """A value as shown: its text, where it links to (None for literals and non-web IRIs), and a small note."""

    text: str
    href: str | None = None
    note: str = ""  # datatype or language of a literal, the IRI of a linked term


@dataclass(frozen=True)
class Property:
    predicate: Term
    values: list[Term]


@dataclass(frozen=True)
class NodeSection:
    """One subject of the record: the main node, a port, the agreement, an SLO."""

    iri: str
    label: str
    anchor: str
    types: list[Term]
    properties: list[Property]


@dataclass(frozen=True)
class RecordPage:
    iri: str
    label: str
    sections: list[NodeSection]
    part_of: Term | None = None  # the record holding this node, when the page is about a port, an SLO ...
    upstream: list[Term] = field(default_factory=list)
    downstream: list[Term] = field(default_factory=list)
    referenced_by: list[tuple[Term, Term]] = field(default_factory=list)  # (node, predicate)
    alternates: list[tuple[str, str]] = field(default_factory=list)  # (media type, label)
