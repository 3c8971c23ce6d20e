"""The HTML page of a record (or of a node inside one) for people browsing the catalog's IRIs.

Plain data in, one escaped HTML string out: every label, value and IRI from the graph goes through `html.escape`,
and only http(s) IRIs become links, so nothing stored in the catalog can inject markup or script."""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape


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


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
h1 { margin-bottom: 0.2rem; } .iri { color: #666; font-family: monospace; font-size: 0.9rem; word-break: break-all; }
table { border-collapse: collapse; width: 100%; margin: 0.5rem 0 1.5rem; }
th, td { text-align: left; vertical-align: top; padding: 0.3rem 0.6rem; border-bottom: 1px solid #eee; }
th { width: 14rem; font-weight: 600; } .note { color: #888; font-size: 0.85rem; }
section { margin-top: 1.5rem; } nav { font-size: 0.9rem; margin-top: 2rem; color: #666; }
"""


def _term(term: Term) -> str:
    text = escape(term.text)
    html = f'<a href="{escape(term.href, quote=True)}">{text}</a>' if term.href else text
    if term.note:
        html += f' <span class="note">{escape(term.note)}</span>'
    return html


def _terms(terms: list[Term], empty: str) -> str:
    if not terms:
        return f'<p class="note">{escape(empty)}</p>'
    return "<ul>" + "".join(f"<li>{_term(t)}</li>" for t in terms) + "</ul>"


def _section(section: NodeSection, main: bool) -> str:
    heading = "" if main else f'<h3 id="{escape(section.anchor, quote=True)}">{escape(section.label)}</h3>'
    rows = []
    if section.types:
        rows.append(f"<tr><th>type</th><td>{', '.join(_term(t) for t in section.types)}</td></tr>")
    for prop in section.properties:
        values = "<br>".join(_term(v) for v in prop.values)
        rows.append(f"<tr><th>{_term(prop.predicate)}</th><td>{values}</td></tr>")
    iri = "" if main else f'<div class="iri">{escape(section.iri)}</div>'
    return f"{heading}{iri}<table>{''.join(rows)}</table>"


def render_record_page(page: RecordPage) -> str:
    """The whole page as an HTML document."""
    main, *parts = page.sections or [NodeSection(page.iri, page.label, "main", [], [])]
    body = [
        f"<h1>{escape(page.label)}</h1>",
        f'<div class="iri">{escape(page.iri)}</div>',
    ]
    if page.part_of is not None:
        body.append(f"<p>Part of the record {_term(page.part_of)}.</p>")
    body.append(_section(main, main=True))
    if parts:
        body.append("<section><h2>In this record</h2>" + "".join(_section(s, main=False) for s in parts) + "</section>")
    if page.upstream or page.downstream:
        body.append(
            "<section><h2>Lineage</h2>"
            f"<h3>Upstream: what it is made from</h3>{_terms(page.upstream, 'nothing upstream')}"
            f"<h3>Downstream: what is made from it</h3>{_terms(page.downstream, 'nothing reads it')}"
            "</section>"
        )
    if page.referenced_by:
        items = "".join(
            f"<li>{_term(node)} <span class='note'>{escape(p.text)}</span></li>" for node, p in page.referenced_by
        )
        body.append(f"<section><h2>Referenced by</h2><ul>{items}</ul></section>")
    if page.alternates:
        links = " · ".join(
            f'<a href="?format={escape(media_type, quote=True)}">{escape(label)}</a>'
            for media_type, label in page.alternates
        )
        body.append(f"<nav>This record as {links}</nav>")
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(page.label)} · valuemesh</title><style>{_STYLE}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


def render_not_found(iri: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>Not found · valuemesh</title></head>"
        f"<body><h1>Not in the catalog</h1><p>No record or node has the IRI <code>{escape(iri)}</code>.</p></body>"
        "</html>\n"
    )
