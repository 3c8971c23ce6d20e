"""Conversion between pyoxigraph's terms and rdflib's, done at the edges only."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pyoxigraph as ox
from rdflib import BNode, Literal, URIRef
from rdflib.term import Node

_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
_RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"


def to_rdflib(term: ox.NamedNode | ox.BlankNode | ox.Literal | ox.DefaultGraph | None) -> Node | None:
    if term is None or isinstance(term, ox.DefaultGraph):
        return None
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if isinstance(term, ox.Literal):
        # normalize=False: rdflib would rewrite a lexical form it can parse ("1"^^xsd:boolean as "true") or guess
        # at ("none"^^xsd:boolean as "false"), and SHACL judges literals as written.
        if term.language:
            return Literal(term.value, lang=term.language)
        datatype = term.datatype.value
        if datatype == _XSD_STRING:
            return Literal(term.value)
        return Literal(term.value, datatype=URIRef(datatype), normalize=False)
    raise TypeError(f"unsupported term {term!r}")


def to_oxigraph(term: Node) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    if isinstance(term, Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        if term.datatype is not None and str(term.datatype) not in (_XSD_STRING, _RDF_LANG_STRING):
            return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
        return ox.Literal(str(term))
    raise TypeError(f"unsupported term {term!r}")


def triples_to_rdflib(triples: Iterable[ox.Triple | ox.Quad]) -> Iterator[tuple[Node, Node, Node]]:
    for t in triples:
        yield to_rdflib(t.subject), to_rdflib(t.predicate), to_rdflib(t.object)  # type: ignore[misc, arg-type]


def triple_to_oxigraph(triple: tuple[Node, Node, Node]) -> ox.Triple:
    """One rdflib triple as Oxigraph's (the stubs cannot tell a predicate is always an IRI)."""
    s, p, o = (to_oxigraph(term) for term in triple)
    return ox.Triple(s, p, o)  # type: ignore[arg-type]


def serialize_triples(triples: Iterable[tuple[Node, Node, Node]], fmt: ox.RdfFormat, **options: object) -> bytes:
    """rdflib triples written by Oxigraph's serializer."""
    return ox.serialize([triple_to_oxigraph(t) for t in triples], format=fmt, **options) or b""  # type: ignore[arg-type]
