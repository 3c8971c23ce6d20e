"""Shapes as SPARQL conditions: an expression true exactly when a node conforms to a shape.

sh:node, sh:and, sh:or, sh:xone, sh:not and qualified value shapes ask whether a value node conforms to another
shape. When that shape's constraints each say something about one node (its datatype, class, pattern, the values
on a path of it...), conformance is a SPARQL expression on the node, and the constraint that nests the shape is a
set-at-a-time query like any other (server/governance/shapes.py). Where some constraint cannot be written as such
an expression (counts other than 0 or 1, closed shapes, comparisons between paths, SPARQL constraints),
`conforms` answers None and the shape is left to a standard validator (server/governance/fallback.py).

Every atomic test is wrapped so that an error (comparing a string with a number, say) reads as "does not
conform", as SHACL says, instead of making the whole expression an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from rdflib import RDF, RDFS, Graph, Literal
from rdflib.collection import Collection
from rdflib.term import Node

from server.governance.paths import BadPath, sparql_path
from server.namespaces import SH
from server.store.terms import to_oxigraph

XSD = "http://www.w3.org/2001/XMLSchema#"
# Datatypes whose lexical forms the engine can check with a SPARQL cast (an ill-formed literal fails the cast).
CASTABLE = {
    f"{XSD}{name}"
    for name in ("integer", "decimal", "double", "float", "boolean", "duration", "dateTime", "date", "string")
}
# Of those, the numeric ones: SPARQL's isNumeric is false for an ill-formed literal (SPARQL 1.1, 17.4.2.4), which
# tells it without casting the value's string back (decoding every value: half of a datatype check on disk).
NUMERIC = {f"{XSD}{name}" for name in ("integer", "decimal", "double", "float")}


def well_formed(datatype: str, var: str) -> str:
    """An expression true when `var`, a literal of `datatype` (one of CASTABLE), is a well-formed one."""
    if datatype in NUMERIC:
        return f"isNumeric({var})"
    if datatype == f"{XSD}string":
        # Every string is a lexical form of xsd:string, so its cast never fails: casting would only decode the value.
        return "true"
    return f"COALESCE(datatype(<{datatype}>(STR({var}))) = <{datatype}>, false)"


NODE_KINDS: dict[Node, str] = {
    SH.IRI: "isIRI({v})",
    SH.BlankNode: "isBlank({v})",
    SH.Literal: "isLiteral({v})",
    SH.BlankNodeOrIRI: "!isLiteral({v})",
    SH.BlankNodeOrLiteral: "!isIRI({v})",
    SH.IRIOrLiteral: "!isBlank({v})",
}
_COMPARISONS: dict[Node, str] = {
    SH.minInclusive: ">=",
    SH.maxInclusive: "<=",
    SH.minExclusive: ">",
    SH.maxExclusive: "<",
}
LOGICAL = (SH.node, SH["and"], SH["or"], SH.xone, SH["not"])
# Parameters that constrain nothing on their own.
_IGNORED = {
    RDF.type,
    SH.path,
    SH.severity,
    SH.message,
    SH.group,
    SH.name,
    SH.description,
    SH.order,
    SH.defaultValue,
    SH.flags,
    SH.targetClass,
    SH.targetNode,
    SH.targetSubjectsOf,
    SH.targetObjectsOf,
    SH.deactivated,
    RDFS.label,
    RDFS.comment,
}


def term(node: Node) -> str:
    return str(to_oxigraph(node))


def members(graph: Graph, node: Node) -> list[Node]:
    return list(Collection(graph, node))


def _fresh(prefix: str) -> Callable[[], str]:
    counter: Iterator[int] = iter(range(1_000_000))
    return lambda: f"?{prefix}{next(counter)}"


def value_holds(graph: Graph, shape: Node, component: Node, parameter: Node, var: str) -> str | None:
    """The expression true when `var` meets one value-node constraint; None when it cannot be written."""
    if component == SH["class"]:
        return f"EXISTS {{ {var} <{RDF.type}>/<{RDFS.subClassOf}>* <{parameter}> }}"
    if component == SH["in"]:
        return "(" + (" || ".join(f"sameTerm({var}, {term(m)})" for m in members(graph, parameter)) or "false") + ")"
    if component == SH.datatype:
        datatype = str(parameter)
        if datatype.startswith(XSD) and datatype not in CASTABLE:
            return None  # ill-formed literals of other XSD types cannot be told in SPARQL
        formed = f" && {well_formed(datatype, var)}" if datatype in CASTABLE else ""
        # No isLiteral guard: datatype() of an IRI or a blank node is an error, false under COALESCE; and each
        # mention of the value decodes it anew on disk.
        return f"COALESCE(datatype({var}) = <{datatype}>{formed}, false)"
    if component == SH.nodeKind:
        return NODE_KINDS[parameter].format(v=var) if parameter in NODE_KINDS else None
    if component in _COMPARISONS:
        return f"COALESCE({var} {_COMPARISONS[component]} {term(parameter)}, false)"
    if component in (SH.minLength, SH.maxLength):
        operator = ">=" if component == SH.minLength else "<="
        # STR of a blank node is an error (SPARQL 1.1, 17.4.2.5), which COALESCE reads as a violation, as SHACL
        # says; no isBlank guard, as each mention of the value decodes it again on disk. (Virtuoso, whose STR of a
        # blank node is "nodeID://b1", validates a local copy: server/validation.py.)
        return f"COALESCE(STRLEN(STR({var})) {operator} {int(parameter)}, false)"  # type: ignore[call-overload]
    if component == SH.pattern:
        flags = graph.value(shape, SH.flags)
        arguments = term(Literal(str(parameter))) + (f", {term(Literal(str(flags)))}" if flags is not None else "")
        return f"COALESCE(REGEX(STR({var}), {arguments}), false)"  # a blank node: as for the lengths
    if component == SH.languageIn:
        tags = " || ".join(f"langMatches(lang({var}), {term(Literal(str(t)))})" for t in members(graph, parameter))
        return f"COALESCE({tags or 'false'}, false)"  # lang() of a node that is no literal: an error, or ""
    return None


def logical_holds(graph: Graph, component: Node, parameter: Node, var: str, fresh: Callable[[], str]) -> str | None:
    """The expression true when `var` meets sh:node, sh:and, sh:or, sh:xone or sh:not with `parameter`."""
    if component in (SH.node, SH["not"]):
        inner = _conforms(graph, parameter, var, fresh)
        return None if inner is None else (inner if component == SH.node else f"!({inner})")
    parts = [_conforms(graph, m, var, fresh) for m in members(graph, parameter)]
    if any(p is None for p in parts):
        return None
    if component == SH["and"]:
        return "(" + (" && ".join(f"({p})" for p in parts) or "true") + ")"
    if component == SH["or"]:
        return "(" + (" || ".join(f"({p})" for p in parts) or "false") + ")"
    return "(" + (" + ".join(f"IF({p}, 1, 0)" for p in parts) or "0") + " = 1)"


def _on_values(graph: Graph, shape: Node, var: str, path: str, fresh: Callable[[], str]) -> str | None:
    """A property shape's constraints on the values of `var` along `path`."""
    found: list[str] = []
    for component, parameter in graph.predicate_objects(shape):
        if component in _IGNORED:
            continue
        value = fresh()
        if component == SH.minCount and int(parameter) <= 1:  # type: ignore[call-overload]
            found.append("true" if int(parameter) == 0 else f"EXISTS {{ {var} {path} {value} }}")  # type: ignore[call-overload]
        elif component == SH.maxCount and int(parameter) <= 1:  # type: ignore[call-overload]
            other = fresh()
            found.append(
                f"NOT EXISTS {{ {var} {path} {value} }}"
                if int(parameter) == 0  # type: ignore[call-overload]
                else f"NOT EXISTS {{ {var} {path} {value} . {var} {path} {other} FILTER (!sameTerm({value}, {other})) }}"
            )
        elif component == SH.hasValue:
            found.append(f"EXISTS {{ {var} {path} {term(parameter)} }}")
        else:
            holds = (
                logical_holds(graph, component, parameter, value, fresh)
                if component in LOGICAL
                else value_holds(graph, shape, component, parameter, value)
            )
            if holds is None:
                return None
            found.append(f"NOT EXISTS {{ {var} {path} {value} FILTER (!({holds})) }}")
    return " && ".join(found) or "true"


def _conforms(graph: Graph, shape: Node, var: str, fresh: Callable[[], str]) -> str | None:
    if graph.value(shape, SH.deactivated) == Literal(True):
        return "true"
    path_node = graph.value(shape, SH.path)
    if path_node is not None:
        try:
            return _on_values(graph, shape, var, sparql_path(graph, path_node), fresh)
        except BadPath:
            return None
    found: list[str] = []
    for component, parameter in graph.predicate_objects(shape):
        if component in _IGNORED:
            continue
        if component == SH.property:
            holds = _conforms(graph, parameter, var, fresh)
        elif component == SH.hasValue:
            holds = f"sameTerm({var}, {term(parameter)})"
        elif component in LOGICAL:
            holds = logical_holds(graph, component, parameter, var, fresh)
        else:
            holds = value_holds(graph, shape, component, parameter, var)
        if holds is None:
            return None
        found.append(holds)
    return "(" + (" && ".join(found) or "true") + ")"


def conforms(graph: Graph, shape: Node, var: str) -> str | None:
    """A SPARQL expression true exactly when the node in `var` conforms to `shape` (None: not expressible)."""
    return _conforms(graph, shape, var, _fresh("c"))


def logical(graph: Graph, component: Node, parameter: Node, var: str) -> str | None:
    """The expression for one sh:node/and/or/xone/not constraint on `var` (None: not expressible)."""
    return logical_holds(graph, component, parameter, var, _fresh("c"))


__all__ = [
    "CASTABLE",
    "LOGICAL",
    "NODE_KINDS",
    "XSD",
    "conforms",
    "logical",
    "members",
    "set_at_a_time",
    "term",
    "value_holds",
    "well_formed",
]


_ATOM = re.compile(r"(NOT\s+)?EXISTS\s*\{\s*")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"|<[^<>"{}|^`\\\s]*>')


def _group_end(text: str, opening: int) -> int | None:
    """The index after the brace closing the group whose `{` is at `opening` (strings and IRIs skipped)."""
    depth, i = 0, opening
    while i < len(text):
        quoted = _QUOTED.match(text, i)
        if quoted:
            i = quoted.end()
            continue
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def set_at_a_time(expression: str, var: str) -> tuple[str, list[str]]:
    """An expression on the node in `var` with each outermost `EXISTS { var ... }` (or NOT EXISTS) made a test of
    a flag, and the OPTIONAL groups that set the flags: each pattern is evaluated once for every node at once and
    joined by hash, instead of being looked up for each node (which on disk costs tens of microseconds a time).
    `(NOT) EXISTS { P }` on a bound `var` is true exactly when the node is (not) among P's solutions for `var`."""
    rewritten: list[str] = []
    groups: list[str] = []
    position = 0
    subject = re.compile(re.escape(var) + r"(?![A-Za-z0-9_])")
    masked = _QUOTED.sub(lambda m: "x" * len(m.group(0)), expression)  # no keyword inside a string or an IRI
    while (found := _ATOM.search(masked, position)) is not None:
        opening = masked.index("{", found.start())
        end = _group_end(expression, opening)
        if end is None:
            return expression, []
        body = expression[opening + 1 : end - 1].strip()
        if not subject.match(body):
            rewritten.append(expression[position:end])
            position = end
            continue
        flag = f"?atom{len(groups)}_"
        groups.append(f"OPTIONAL {{ SELECT DISTINCT {var} (true AS {flag}) WHERE {{ {body} }} }}")
        rewritten.append(expression[position : found.start()] + ("!" if found.group(1) else "") + f"BOUND({flag})")
        position = end
    rewritten.append(expression[position:])
    return "".join(rewritten), groups
