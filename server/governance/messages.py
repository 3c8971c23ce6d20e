"""A message for a constraint whose shape has no sh:message: the constraint in words, as governance writes them.

"must match the pattern ^[A-Z]", "must have at least 1 value of dct:description": the record's name and what was
found are added around it by the engine, as for the packaged shapes' own messages.
"""

from __future__ import annotations

from rdflib import Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.term import Node

from server.namespaces import PREFIXES, SH

_KINDS = {
    SH.IRI: "an IRI",
    SH.BlankNode: "a blank node",
    SH.Literal: "a literal",
    SH.BlankNodeOrIRI: "a blank node or an IRI",
    SH.BlankNodeOrLiteral: "a blank node or a literal",
    SH.IRIOrLiteral: "an IRI or a literal",
}


def display(term: Node | None) -> str:
    """A term as a person reads it: a literal's text, a vocabulary IRI as prefix:name, other IRIs in full."""
    if term is None:
        return ""
    if isinstance(term, Literal):
        return str(term)
    text = str(term)
    for prefix, namespace in PREFIXES.items():
        if text.startswith(namespace) and len(text) > len(namespace):
            return f"{prefix}:{text[len(namespace) :]}"
    return text


def _path_words(graph: Graph, path: Node | None) -> str:
    if path is None:
        return ""
    if isinstance(path, URIRef):
        return display(path)
    inverse = graph.value(path, SH.inversePath)
    if isinstance(inverse, URIRef):
        return f"^{display(inverse)}"
    return "its path"  # a longer path: the result's path says which


def _values(n: object) -> str:
    return f"{n} value" + ("" if str(n) == "1" else "s")


def constraint_in_words(component: str, parameter: Node | None, path: Node | None, graph: Graph) -> str:
    """The constraint of `component` with `parameter` on the values of `path` (None: the node itself)."""
    name = component.removeprefix(str(SH)).removesuffix("ConstraintComponent")
    path_words = _path_words(graph, path)
    of = f" of {path_words}" if path_words else ""
    subject = path_words or "it"
    shown = display(parameter)
    if name == "MinCount":
        return f"must have at least {_values(shown)}{of}"
    if name == "MaxCount":
        return f"must have at most {_values(shown)}{of}"
    if name == "QualifiedMinCount":
        return f"must have at least {_values(shown)}{of} of the required shape"
    if name == "QualifiedMaxCount":
        return f"must have at most {_values(shown)}{of} of the given shape"
    if name == "In" and parameter is not None:
        return f"{subject} must be one of {', '.join(display(m) for m in Collection(graph, parameter))}"
    if name == "LanguageIn" and parameter is not None:
        return f"{subject} must be in {', '.join(str(m) for m in Collection(graph, parameter))}"
    words = {
        "Pattern": f"must match the pattern {shown}",
        "MinLength": f"must be at least {shown} characters long",
        "MaxLength": f"must be at most {shown} characters long",
        "Datatype": f"must be a literal of type {shown}",
        "Class": f"must be a {shown}",
        "NodeKind": f"must be {_KINDS.get(parameter, shown)}",  # type: ignore[call-overload]
        "MinInclusive": f"must be at least {shown}",
        "MaxInclusive": f"must be at most {shown}",
        "MinExclusive": f"must be more than {shown}",
        "MaxExclusive": f"must be less than {shown}",
        "HasValue": f"must include {shown}",
        "UniqueLang": "must have at most one value per language",
        "Equals": f"must have the same values as {shown}",
        "Disjoint": f"must share no value with {shown}",
        "LessThan": f"must be less than {shown}",
        "LessThanOrEquals": f"must be at most {shown}",
        "Node": f"must conform to {shown}",
        "Not": f"must not conform to {shown}",
        "And": "must meet every one of its shapes",
        "Or": "must meet at least one of its alternatives",
        "Xone": "must meet exactly one of its alternatives",
        "Closed": "must not have properties its shape does not list",
    }
    text = words.get(name, f"must meet {display(parameter) if parameter is not None else name}")
    return f"{subject} {text}"
