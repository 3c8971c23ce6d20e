"""SHACL property paths (predicate, inverse, sequence, alternative, zero-or-more, one-or-more, zero-or-one) as
SPARQL 1.1 property paths, which evaluate them exactly; and as a canonical text for comparing paths by structure."""

from __future__ import annotations

import re

from rdflib import RDF, BNode, Graph, URIRef
from rdflib.collection import Collection
from rdflib.term import Node

from server.namespaces import SH

_UNARY: dict[Node, str] = {SH.inversePath: "^", SH.zeroOrMorePath: "*", SH.oneOrMorePath: "+", SH.zeroOrOnePath: "?"}


class BadPath(ValueError):
    """A node that is not a well-formed SHACL property path."""


def _members(graph: Graph, node: Node) -> list[Node]:
    if node == RDF.nil or graph.value(node, RDF.first) is None:
        raise BadPath(f"{node} is not a non-empty RDF list")
    return list(Collection(graph, node))


def sparql_path(graph: Graph, path: Node) -> str:
    """The SPARQL property path for a SHACL path node of `graph`."""
    if isinstance(path, URIRef):
        return f"<{path}>"
    if not isinstance(path, BNode):
        raise BadPath(f"{path} is not a property path")
    if graph.value(path, RDF.first) is not None:
        members = _members(graph, path)
        if len(members) < 2:
            raise BadPath(f"a sequence path needs at least two members, {path} has {len(members)}")
        return "(" + "/".join(sparql_path(graph, m) for m in members) + ")"
    kinds = [p for p in graph.predicates(path) if p in _UNARY or p == SH.alternativePath]
    if len(kinds) != 1:
        raise BadPath(f"{path} is not a property path")
    kind = kinds[0]
    inner = graph.value(path, kind)
    if kind == SH.alternativePath:
        members = _members(graph, inner)  # type: ignore[arg-type]
        if len(members) < 2:
            raise BadPath(f"an alternative path needs at least two members, {path} has {len(members)}")
        return "(" + "|".join(sparql_path(graph, m) for m in members) + ")"
    text = sparql_path(graph, inner)  # type: ignore[arg-type]
    return f"^{text}" if kind == SH.inversePath else f"({text}){_UNARY[kind]}"


def path_text(graph: Graph, path: Node) -> str:
    """valuemesh's text for a result's path: the predicate's IRI, "^" and the IRI for an inverse predicate, and
    the SPARQL path for anything longer (one text per structure, whatever the blank nodes)."""
    if isinstance(path, URIRef):
        return str(path)
    inverse = graph.value(path, SH.inversePath)
    if isinstance(inverse, URIRef) and graph.value(path, RDF.first) is None:
        return f"^{inverse}"
    return sparql_path(graph, path)


_STEP = r"\^?<[^<>\s]*>"
_SEQUENCE_OF_PREDICATES = re.compile(rf"\(({_STEP})((?:/{_STEP})+)\)")


def scanned(subject: str, path: str, obj: str) -> str:
    """The pattern `subject path obj` for a query over every node at once, the path as `sparql_path` writes it.
    A sequence of predicates (each maybe inverse) is joined step by step by hash, each step a subquery scanning
    its predicate: as a path, or as a pattern of triples, the engine looks every intermediate node up in the
    index, which on disk costs ten times a scan (hasPolicy/serviceLevelObjective of 10,000 products: 150 ms
    against 20). Any other path is left to the engine: a step of length zero scanned alone would pair every node
    with itself. The intermediate nodes are projected away, so the pattern can be used twice in one group."""
    sequence = _SEQUENCE_OF_PREDICATES.fullmatch(path)
    if sequence is None:
        return f"{subject} {path} {obj} ."
    steps = [sequence.group(1), *re.findall(_STEP, sequence.group(2))]
    ends = [subject, *(f"?step{i}_" for i in range(1, len(steps))), obj]
    scans = []
    for i, step in enumerate(steps):
        start, end = ends[i], ends[i + 1]
        triple = f"{end} {step[1:]} {start}" if step.startswith("^") else f"{start} {step} {end}"
        projected = " ".join(v for v in (start, end) if v.startswith("?"))
        scans.append(f"{{ SELECT {projected} WHERE {{ {triple} }} }}")
    projected = " ".join(v for v in (subject, obj) if v.startswith("?"))
    return f"{{ SELECT {projected} WHERE {{ {' '.join(scans)} }} }}"
