"""Reading RDF documents into records' raw material, with the file, line and column of any error.

Parsing uses Oxigraph's parsers: fast, precise positions, and JSON-LD contexts are never fetched over the network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

import pyoxigraph as ox
from rdflib import Graph

from server.errors import BadInput
from server.store.terms import to_rdflib

FORMATS_BY_SUFFIX: dict[str, ox.RdfFormat] = {
    ".ttl": ox.RdfFormat.TURTLE,
    ".turtle": ox.RdfFormat.TURTLE,
    ".nt": ox.RdfFormat.N_TRIPLES,
    ".nq": ox.RdfFormat.N_QUADS,
    ".trig": ox.RdfFormat.TRIG,
    ".jsonld": ox.RdfFormat.JSON_LD,
    ".json": ox.RdfFormat.JSON_LD,
    ".rdf": ox.RdfFormat.RDF_XML,
    ".owl": ox.RdfFormat.RDF_XML,
}

FORMATS_BY_NAME: dict[str, ox.RdfFormat] = {
    "turtle": ox.RdfFormat.TURTLE,
    "ntriples": ox.RdfFormat.N_TRIPLES,
    "nquads": ox.RdfFormat.N_QUADS,
    "trig": ox.RdfFormat.TRIG,
    "jsonld": ox.RdfFormat.JSON_LD,
    "rdfxml": ox.RdfFormat.RDF_XML,
}


@dataclass
class RdfDocument:
    """What one document said: triples outside any named graph, and named graphs by IRI."""

    source: str
    default: Graph = field(default_factory=Graph)
    named: dict[str, Graph] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.default) + sum(len(g) for g in self.named.values())


def format_for(path: Path) -> ox.RdfFormat:
    fmt = FORMATS_BY_SUFFIX.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(FORMATS_BY_SUFFIX))
        raise BadInput(f"unknown RDF file type '{path.suffix}' (known: {known})", source=str(path))
    return fmt


def parse_rdf(data: bytes | str, fmt: ox.RdfFormat, source: str, base_iri: str | None = None) -> RdfDocument:
    """Parse a whole document; a syntax error becomes BadInput naming source, line and column."""
    document = RdfDocument(source)
    if isinstance(data, str):
        # Text from JSON may hold lone surrogates ("\uD800"), which are no Unicode: passed through as bytes, the
        # parser refuses them as invalid UTF-8 at their line and column instead of the encoder failing first.
        data = data.encode("utf-8", "surrogatepass")
    try:
        for quad in ox.parse(data, fmt, base_iri=base_iri, rename_blank_nodes=True):
            triple = (to_rdflib(quad.subject), to_rdflib(quad.predicate), to_rdflib(quad.object))
            graph_name = quad.graph_name
            if isinstance(graph_name, ox.NamedNode):
                document.named.setdefault(graph_name.value, Graph(identifier=graph_name.value)).add(triple)  # type: ignore[arg-type]
            elif isinstance(graph_name, ox.BlankNode):
                raise BadInput("named graphs must be named by IRIs, not blank nodes", source=source)
            else:
                document.default.add(triple)  # type: ignore[arg-type]
    except SyntaxError as error:
        message, position = (*error.args, None)[:2]
        line = column = None
        if isinstance(position, tuple) and len(position) >= 3:
            line, column = position[1], position[2]
        if line is None and fmt == ox.RdfFormat.RDF_XML:
            line, column = _xml_error_position(data)
        text = str(message)
        # Oxigraph prefixes its own position; we report ours in the standard file:line:column form.
        text = text.split(": ", 1)[1] if text.startswith("Parser error") and ": " in text else text
        raise BadInput(f"not valid {fmt.name}: {text}", source=source, line=line, column=column) from None
    except ValueError as error:
        raise BadInput(f"cannot read {fmt.name}: {error}", source=source) from None
    return document


def _xml_error_position(data: bytes | str) -> tuple[int | None, int | None]:
    """Oxigraph's RDF/XML errors carry no position; the XML parser knows where well-formedness broke."""
    try:
        ElementTree.fromstring(data)
    except ElementTree.ParseError as error:
        line, column = error.position
        return line, column + 1
    return None, None


def read_rdf_file(path: Path, base_iri: str | None = None) -> RdfDocument:
    fmt = format_for(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise BadInput(f"cannot read file: {error.strerror or error}", source=str(path)) from None
    return parse_rdf(data, fmt, str(path), base_iri=base_iri)
