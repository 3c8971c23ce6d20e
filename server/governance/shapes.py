"""The SHACL shapes of shapes/, compiled into SPARQL queries that the store's own engine runs.

pyshacl evaluates a shape focus node by focus node on rdflib's SPARQL engine (about 130x slower than Jena on a
10k catalog, see notes/performance.md). A constraint of SHACL Core is a set-at-a-time question ("every data
product without an owner"), so each (shape, constraint) pair becomes a SELECT that finds all its violations at
once, and constraints of the same kind on the same target class are merged into one query (65 checks, 23 queries);
Oxigraph answers them in milliseconds. Only the subset our shapes use is compiled (targetClass; minCount, maxCount,
class, in, datatype, minInclusive, maxInclusive on a predicate or inverse path; SPARQL-based constraints); anything
else in a shape is refused when the shapes are read, so the engine can never silently disagree with a standard
validator. tests/test_validation.py checks it gives pyshacl's results on the seed and every fixture.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rdflib import RDF, RDFS, BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.term import Node

from server.namespaces import DPROD, SH
from server.resources import shape_files
from server.store.terms import to_oxigraph

# Marks where the target (and, for a write, the focus) patterns go inside a compiled query.
TARGET_SLOT = "#TARGET"
FOCUS_SLOT = "#FOCUS"
SUBCLASSES_SLOT = "#SUBCLASSES"

# A node is in focus when some record (named graph) of the data says something about it; the neighbourhood that
# a write fetches from the store sits in the default graph and is context only.
FOCUS_IN_RECORDS = "FILTER EXISTS { GRAPH ?focusRecord { ?this ?focusP ?focusO } }"

_XSD = "http://www.w3.org/2001/XMLSchema#"
# Datatypes whose lexical forms the engine can check with a SPARQL cast (an ill-formed literal fails the cast).
CASTABLE = {
    f"{_XSD}{name}"
    for name in ("integer", "decimal", "double", "float", "boolean", "duration", "dateTime", "date", "string")
}

_NON_CONSTRAINTS = {
    SH.path,
    SH.severity,
    SH.message,
    SH.group,
    SH.name,
    SH.description,
    SH.order,
    SH.deactivated,
    SH.targetClass,
    SH.property,
    SH.sparql,
}
_CORE = {SH.minCount, SH.maxCount, SH["class"], SH["in"], SH.datatype, SH.minInclusive, SH.maxInclusive}

_NAMING = """
    OPTIONAL { GRAPH ?record { ?this a ?recordType } OPTIONAL { ?record <http://www.w3.org/2000/01/rdf-schema#label> ?recordName } }
    OPTIONAL { ?this <http://www.w3.org/2000/01/rdf-schema#label> ?focusName }"""


class UnsupportedShape(ValueError):
    """A shape uses SHACL that valuemesh's engine does not compile."""


@dataclass(frozen=True)
class Check:
    """One constraint of one shape, as a SPARQL SELECT yielding one row per violation (?this, maybe ?value)."""

    name: str  # the property shape or SPARQL constraint, for people
    shape: str  # sh:sourceShape
    constraint: str | None  # sh:sourceConstraint (SPARQL constraints)
    component: str  # sh:sourceConstraintComponent
    severity: str  # "Violation" | "Warning" | "Info"
    message: str
    item: str | None  # the checklist item (sh:group's label)
    target_class: str
    path: Node | None  # a predicate IRI, or a blank node [ sh:inversePath p ] in the shapes graph
    path_text: str | None  # the path as written for people: "dprod:domain", "^vm:servedBy"
    path_iri: str | None  # the predicate's IRI, with "^" in front for an inverse path
    parameter: Node | None  # the constraint's parameter value (the class, the datatype, the count...)
    query: str  # this check alone, with TARGET_SLOT and FOCUS_SLOT still in it


@dataclass(frozen=True)
class Query:
    """One SELECT answering several checks of the same target and kind; a row's ?k is its check's index."""

    checks: tuple[Check, ...]
    text: str  # with TARGET_SLOT and FOCUS_SLOT still in it
    target_class: str

    def sparql(self, *, focus_in_records: bool, subclasses: Mapping[str, Iterable[str]] | None = None) -> str:
        """The runnable query, over every target node or only over nodes the records in focus describe;
        `subclasses` maps each sh:class to its subclasses in the data."""
        target = f"?this <{RDF.type}>/<{RDFS.subClassOf}>* <{self.target_class}> ."
        text = self.text.replace(TARGET_SLOT, target).replace(FOCUS_SLOT, FOCUS_IN_RECORDS if focus_in_records else "")
        if SUBCLASSES_SLOT in text:
            pairs = " ".join(
                f"(<{c.parameter}> <{sub}>)"
                for c in self.checks
                for sub in sorted({str(c.parameter), *(subclasses or {}).get(str(c.parameter), ())})
            )
            text = text.replace(SUBCLASSES_SLOT, pairs)
        return text

    def classes(self) -> set[str]:
        """The sh:class values this query needs the subclasses of."""
        return {str(c.parameter) for c in self.checks if SUBCLASSES_SLOT in self.text}


@dataclass(frozen=True)
class Shapes:
    graph: Graph
    checks: tuple[Check, ...]
    queries: tuple[Query, ...]  # the checks, merged where they share a target and a kind of constraint
    items: tuple[str, ...]  # mandatory checklist items of a data product, in the article's order


def _component(parameter: URIRef) -> str:
    """sh:minCount -> sh:MinCountConstraintComponent."""
    name = parameter[len(str(SH)) :]
    return f"{SH}{name[0].upper()}{name[1:]}ConstraintComponent"


def _sparql_term(term: Node) -> str:
    return str(to_oxigraph(term))


def _severity(graph: Graph, shape: Node) -> str:
    value = graph.value(shape, SH.severity)
    return str(value).rsplit("#", 1)[-1] if value is not None else "Violation"


def _label(graph: Graph, node: Node | None) -> str | None:
    if node is None:
        return None
    value = graph.value(node, RDFS.label)
    return str(value) if value is not None else None


def _short(graph: Graph, node: Node) -> str:
    if isinstance(node, URIRef):
        return graph.namespace_manager.normalizeUri(node)
    return str(node)


def _path(graph: Graph, path: Node) -> tuple[str, str]:
    """The SPARQL path pattern and its text for people, for a predicate or [ sh:inversePath p ]."""
    if isinstance(path, URIRef):
        return f"<{path}>", _short(graph, path)
    inverse = graph.value(path, SH.inversePath)
    if isinstance(path, BNode) and isinstance(inverse, URIRef) and len(list(graph.predicate_objects(path))) == 1:
        return f"^<{inverse}>", "^" + _short(graph, inverse)
    raise UnsupportedShape(f"path {path} is neither a predicate nor an inverse predicate")


def _core_query(component: Node, parameter: Node, path: str, graph: Graph) -> str:
    head = f"{{ {TARGET_SLOT} {FOCUS_SLOT} "
    if component == SH.minCount:
        n = int(parameter)  # type: ignore[call-overload]
        if n == 1:
            return f"SELECT ?this (0 AS ?count) WHERE {head} FILTER NOT EXISTS {{ ?this {path} ?v }} }}"
        return (
            f"SELECT ?this (COUNT(DISTINCT ?v) AS ?count) WHERE {head} OPTIONAL {{ ?this {path} ?v }} }} "
            f"GROUP BY ?this HAVING (COUNT(DISTINCT ?v) < {n})"
        )
    if component == SH.maxCount:
        n = int(parameter)  # type: ignore[call-overload]
        return (
            f"SELECT ?this (COUNT(DISTINCT ?v) AS ?count) WHERE {head} ?this {path} ?v }} "
            f"GROUP BY ?this HAVING (COUNT(DISTINCT ?v) > {n})"
        )
    values = f"SELECT DISTINCT ?this ?value WHERE {head} ?this {path} ?value . "
    if component == SH["class"]:
        return values + f"FILTER NOT EXISTS {{ ?value <{RDF.type}>/<{RDFS.subClassOf}>* <{parameter}> }} }}"
    if component == SH["in"]:
        members = list(Collection(graph, parameter))
        same = " || ".join(f"sameTerm(?value, {_sparql_term(m)})" for m in members) or "false"
        return values + f"FILTER (!({same})) }}"
    if component == SH.datatype:
        datatype = str(parameter)
        well_formed = (
            f" || !COALESCE(datatype(<{datatype}>(STR(?value))) = <{datatype}>, false)" if datatype in CASTABLE else ""
        )
        return values + f"FILTER (!isLiteral(?value) || datatype(?value) != <{datatype}>{well_formed}) }}"
    if component in (SH.minInclusive, SH.maxInclusive):
        operator = ">=" if component == SH.minInclusive else "<="
        # A value that cannot be compared (a string, an IRI) is a violation too, as SHACL says.
        return values + f"FILTER (!COALESCE(?value {operator} {_sparql_term(parameter)}, false)) }}"
    raise UnsupportedShape(f"constraint {component} is not compiled")


def _wrap(inner: str) -> str:
    """Name the focus node's record after the violations are found, so naming costs nothing per target node."""
    return f"SELECT * WHERE {{ {{ {inner} }} {_NAMING} }}"


def _prefixes(graph: Graph, constraint: Node) -> str:
    lines = []
    for holder in graph.objects(constraint, SH.prefixes):
        for declaration in graph.objects(holder, SH.declare):
            prefix, namespace = graph.value(declaration, SH.prefix), graph.value(declaration, SH.namespace)
            lines.append(f"PREFIX {prefix}: <{namespace}>")
    return "\n".join(sorted(set(lines)))


_WHERE = re.compile(r"\bWHERE\s*\{", re.IGNORECASE)


def _sparql_query(graph: Graph, constraint: Node) -> str:
    select = str(graph.value(constraint, SH.select) or "")
    match = _WHERE.search(select)
    if not match:
        raise UnsupportedShape(f"SPARQL constraint {constraint} has no sh:select with a WHERE clause")
    # $this is pre-bound by SHACL; here the target pattern binds it for every target node at once.
    inner = select[: match.end()] + f" {TARGET_SLOT} {FOCUS_SLOT} " + select[match.end() :]
    return _prefixes(graph, constraint) + "\n" + _wrap(inner)


def _check_known(graph: Graph, shape: Node, allowed: set[URIRef]) -> None:
    for predicate in set(graph.predicates(shape)):
        if str(predicate).startswith(str(SH)) and predicate not in allowed:
            raise UnsupportedShape(f"shape {_short(graph, shape)} uses {_short(graph, predicate)}, not compiled")


def compile_shapes(graph: Graph) -> tuple[Check, ...]:
    """Every (shape, constraint) pair of a shapes graph as a Check; refuses SHACL it does not compile."""
    checks: list[Check] = []
    for shape in sorted(set(graph.subjects(RDF.type, SH.NodeShape)), key=str):
        if graph.value(shape, SH.deactivated) == Literal(True):
            continue
        _check_known(graph, shape, _NON_CONSTRAINTS)
        targets = [c for c in graph.objects(shape, SH.targetClass) if isinstance(c, URIRef)]
        for target in targets:
            for prop in sorted(graph.objects(shape, SH.property), key=str):
                if graph.value(prop, SH.deactivated) == Literal(True):
                    continue
                _check_known(graph, prop, _NON_CONSTRAINTS | _CORE)
                path_node = graph.value(prop, SH.path)
                if path_node is None:
                    raise UnsupportedShape(f"property shape {prop} has no sh:path")
                path, path_text = _path(graph, path_node)
                path_iri = path.replace("<", "").replace(">", "")
                for component in sorted(_CORE, key=str):
                    for parameter in graph.objects(prop, component):
                        checks.append(
                            Check(
                                name=_short(graph, prop),
                                shape=str(prop),
                                constraint=None,
                                component=_component(component),
                                severity=_severity(graph, prop),
                                message=str(graph.value(prop, SH.message) or ""),
                                item=_label(graph, graph.value(prop, SH.group)),
                                target_class=str(target),
                                path=path_node,
                                path_text=path_text,
                                path_iri=path_iri,
                                parameter=parameter,
                                query=_wrap(_core_query(component, parameter, path, graph)),
                            )
                        )
            for constraint in sorted(graph.objects(shape, SH.sparql), key=str):
                if graph.value(constraint, SH.deactivated) == Literal(True):
                    continue
                checks.append(
                    Check(
                        name=_short(graph, constraint),
                        shape=str(shape),
                        constraint=str(constraint),
                        component=str(SH.SPARQLConstraintComponent),
                        severity=_severity(graph, shape),
                        message=str(graph.value(constraint, SH.message) or ""),
                        item=_label(graph, graph.value(constraint, SH.group)),
                        target_class=str(target),
                        path=None,
                        path_text=None,
                        path_iri=None,
                        parameter=None,
                        query=_sparql_query(graph, constraint),
                    )
                )
    return tuple(checks)


def mandatory_items(graph: Graph) -> tuple[str, ...]:
    """The checklist items a data product is measured against: groups of Violation shapes on data products."""
    order: dict[str, int] = {}
    for shape in graph.subjects(SH.targetClass, DPROD.DataProduct):
        members = [(p, _severity(graph, p)) for p in graph.objects(shape, SH.property)]
        members += [(c, _severity(graph, shape)) for c in graph.objects(shape, SH.sparql)]
        for member, severity in members:
            group = graph.value(member, SH.group)
            label = _label(graph, group)
            if severity == "Violation" and label is not None:
                order[label] = int(str(graph.value(group, SH.order) or 0))
    return tuple(sorted(order, key=order.__getitem__))


def _merged_text(kind: str, members: list[Check]) -> str:
    """One query for checks of the same kind on the same target, each on its own predicate (and parameter)."""
    rows = " ".join(
        f"({k} <{c.path_iri}> {_sparql_term(c.parameter) if c.parameter is not None else 'UNDEF'})"
        for k, c in enumerate(members)
    )
    head = f"{TARGET_SLOT} {FOCUS_SLOT} VALUES (?k ?p ?param) {{ {rows} }}"
    if kind == "MinCount":
        return f"SELECT ?this ?k (0 AS ?count) WHERE {{ {head} FILTER NOT EXISTS {{ ?this ?p ?v }} }}"
    if kind == "MaxCount":
        # Pairs of distinct values are much cheaper to find than counting every node's values; n values make
        # n(n-1) pairs, from which the engine recovers n for the message.
        # (A UNION of one branch per predicate: with ?p from VALUES, Oxigraph's plan is five times slower.)
        branches = " UNION ".join(
            f"{{ ?this <{c.path_iri}> ?v1 . ?this <{c.path_iri}> ?v2 . BIND ({k} AS ?k) }}"
            for k, c in enumerate(members)
        )
        return (
            f"SELECT ?this ?k (COUNT(*) AS ?pairs) WHERE {{ {TARGET_SLOT} {FOCUS_SLOT} {branches} "
            "FILTER (!sameTerm(?v1, ?v2)) } GROUP BY ?this ?k"
        )
    values = f"SELECT DISTINCT ?this ?k ?value WHERE {{ {head} ?this ?p ?value . "
    if kind == "Class":
        # The subclasses of each class are looked up once per run (SUBCLASSES_SLOT): a property path with the class
        # as a variable is four times slower here.
        return (
            values
            + f"FILTER NOT EXISTS {{ VALUES (?param ?class) {{ {SUBCLASSES_SLOT} }} ?value <{RDF.type}> ?class }} }}"
        )
    if kind in {"MinInclusive", "MaxInclusive"}:
        operator = ">=" if kind == "MinInclusive" else "<="
        return values + f"FILTER (!COALESCE(?value {operator} ?param, false)) }}"
    datatype = str(members[0].parameter)
    well_formed = (
        f" || !COALESCE(datatype(<{datatype}>(STR(?value))) = <{datatype}>, false)" if datatype in CASTABLE else ""
    )
    return values + f"FILTER (!isLiteral(?value) || datatype(?value) != <{datatype}>{well_formed}) }}"


def _merge_key(check: Check) -> tuple[str, ...] | None:
    """Checks with the same key run as one query; None for those that run alone."""
    if check.constraint is not None or check.path_iri is None or check.path_iri.startswith("^"):
        return None
    kind = check.component.removeprefix(str(SH)).removesuffix("ConstraintComponent")
    if kind in {"MinCount", "MaxCount"}:
        return (check.target_class, kind) if int(str(check.parameter)) == 1 else None
    if kind in {"Class", "MinInclusive", "MaxInclusive"}:
        return (check.target_class, kind)
    if kind == "Datatype":
        return (check.target_class, kind, str(check.parameter))
    return None


def plan_queries(checks: Iterable[Check]) -> tuple[Query, ...]:
    """The checks as few queries as possible: each full pass over a target class costs about the same."""
    groups: dict[tuple[str, ...], list[Check]] = {}
    queries: list[Query] = []
    for check in checks:
        key = _merge_key(check)
        if key is None:
            queries.append(Query((check,), check.query, check.target_class))
        else:
            groups.setdefault(key, []).append(check)
    for key, members in groups.items():
        text = members[0].query if len(members) == 1 else _wrap(_merged_text(key[1], members))
        queries.append(Query(tuple(members), text, members[0].target_class))
    return tuple(queries)


def shapes_from_graph(graph: Graph) -> Shapes:
    """The shapes of a shapes graph, compiled (UnsupportedShape for SHACL the engine does not honour)."""
    checks = compile_shapes(graph)
    return Shapes(graph=graph, checks=checks, queries=plan_queries(checks), items=mandatory_items(graph))


def read_shapes(files: Iterable[Path]) -> Shapes:
    graph = Graph()
    for path in files:
        graph.parse(path, format="turtle")
    return shapes_from_graph(graph)


@lru_cache(maxsize=1)
def catalog_shapes() -> Shapes:
    """The shapes this installation ships (shapes/*.ttl), read and compiled once per process."""
    return read_shapes(shape_files())
