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
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from rdflib import OWL, RDF, RDFS, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.term import Node

from server.governance.compiled_shapes import remembered
from server.governance.conditions import (
    CASTABLE,
    LOGICAL,
    NODE_KINDS,
    XSD,
    conforms,
    logical,
    set_at_a_time,
    value_holds,
    well_formed,
)
from server.governance.hash_plan import hash_plan
from server.governance.messages import constraint_in_words
from server.governance.paths import BadPath, scanned, sparql_path
from server.governance.paths import path_text as path_text_of
from server.governance.reach import Reach, reach_of
from server.governance.value_tests import any_fails, reads_value
from server.namespaces import DPROD, SH
from server.rdf_io import read_rdf_file
from server.resources import shape_files
from server.store.terms import to_oxigraph

# Marks where the target (and, for a write, the focus) patterns go inside a compiled query.
TARGET_SLOT = "#TARGET"
FOCUS_SLOT = "#FOCUS"
SUBCLASSES_SLOT = "#SUBCLASSES"

# A node is in focus when some record (named graph) of the data says something about it; the neighbourhood that
# a write fetches from the store sits in the default graph and is context only.
FOCUS_IN_RECORDS = "FILTER EXISTS { GRAPH ?focusRecord { ?this ?focusP ?focusO } }"
# The focus nodes as a subquery of their own. On the on-disk store a lookup per focus node (a nested-loop join from
# an inline target pattern) costs ten times a scan of the predicate joined by hash, which is what Oxigraph does when
# both sides of a join are subqueries or the right side of a MINUS. SHACL also binds $this once per focus node,
# as DISTINCT does (a node typed with two subclasses of the target class is still one focus node).
FOCUS_NODES = f"{{ SELECT DISTINCT ?this WHERE {{ {TARGET_SLOT} {FOCUS_SLOT} }} }}"
# A nested shape's check (sh:node, sh:or...) on a path with at most this many distinct values looks each value's
# facts up instead of scanning the predicates the nested shape reads: the organisation's sh:node on a product's
# domain reads the labels of 50 domains, where the scan reads the 70,000 labels of everything (0.03 s against
# 0.3-0.7 s at 10k on disk). Looking up costs tens of microseconds a value, so 13,000 SLOs are scanned.
FEW_VALUES = 1000
# Checks that read a value's text (shapes.py _merged_values) test each distinct value of a path once, rather than
# each focus node's value, when the path has at most this many distinct values: the owners of 100k products are
# 16,600 agents, whose node kind is then read 16,600 times instead of 100,000 (0.56 -> 0.27 s). Reading a value
# costs 4-15 µs on disk, so the worst case, values no focus node has, is bounded to a fraction of a second.
REPEATED_VALUES = 50_000
# In memory it is the other way round for counting values: a lookup per focus node is two to six times faster than
# scanning a predicate (labels of everything, say) and joining by hash. So minCount and maxCount have a second plan,
# the lookup plan, which the engine runs on a store in memory (a write's scratch store, a batch checked alone).

_TARGETS = (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf)
# Parameters that say something about a shape but constrain nothing, or are read with another parameter.
_NON_CONSTRAINTS = {
    SH.path,
    SH.severity,
    SH.message,
    SH.group,
    SH.name,
    SH.description,
    SH.order,
    SH.deactivated,
    SH.defaultValue,
    SH.property,
    SH.sparql,
    SH.flags,
    SH.ignoredProperties,
    SH.select,  # a shape can be its own SPARQL constraint
    SH.ask,
    SH.prefixes,
    SH.declare,
    *_TARGETS,
}
# Core components compiled to SPARQL: each value node checked on its own...
_VALUE_COMPONENTS = {
    SH["class"],
    SH["in"],
    SH.datatype,
    SH.nodeKind,
    SH.minInclusive,
    SH.maxInclusive,
    SH.minExclusive,
    SH.maxExclusive,
    SH.minLength,
    SH.maxLength,
    SH.pattern,
    SH.languageIn,
}
# ...the value nodes of a focus node together (the first four only on property shapes, where SHACL defines them)...
_PATH_COMPONENTS = {SH.minCount, SH.maxCount, SH.uniqueLang, SH.lessThan, SH.lessThanOrEquals}
_FOCUS_COMPONENTS = {SH.hasValue, SH.equals, SH.disjoint}
# ...and components a standard validator evaluates (server/governance/fallback.py): they nest shapes in shapes.
_SHAPE_REFERENCES = {SH.node, SH.property, SH["not"], SH["and"], SH["or"], SH.xone, SH.qualifiedValueShape}
_NOT_COMPILED = {
    SH["not"],
    SH["and"],
    SH["or"],
    SH.xone,
    SH.node,
    SH.qualifiedValueShape,
    SH.qualifiedMinCount,
    SH.qualifiedMaxCount,
    SH.qualifiedValueShapesDisjoint,
}
_KNOWN = _NON_CONSTRAINTS | _VALUE_COMPONENTS | _PATH_COMPONENTS | _FOCUS_COMPONENTS | _NOT_COMPILED | {SH.closed}
_CORE = _VALUE_COMPONENTS | _PATH_COMPONENTS | _FOCUS_COMPONENTS
# Constraints that nest shapes, compiled when the nested shapes are SPARQL conditions (conditions.py).
_NESTING_COMPILED = {*LOGICAL, SH.qualifiedMinCount, SH.qualifiedMaxCount}
_NODE_KINDS: dict[Node, str] = {kind: test.format(v="?value") for kind, test in NODE_KINDS.items()}

NAMING = """
    OPTIONAL { GRAPH ?record { ?this a ?recordType } OPTIONAL { ?record <http://www.w3.org/2000/01/rdf-schema#label> ?recordName } }
    OPTIONAL { ?this <http://www.w3.org/2000/01/rdf-schema#label> ?focusName }"""


class UnsupportedShape(ValueError):
    """A shape uses SHACL that valuemesh cannot honour exactly; it is refused when the shapes are read."""


@dataclass(frozen=True)
class Check:
    """One constraint of one shape, as a SPARQL SELECT yielding one row per violation (?this, maybe ?value)."""

    name: str  # the property shape or SPARQL constraint, for people
    shape: str  # sh:sourceShape
    constraint: str | None  # sh:sourceConstraint (SPARQL constraints)
    component: str  # sh:sourceConstraintComponent
    severity: str  # "Violation" | "Warning" | "Info", or the IRI of another severity
    message: str
    item: str | None  # the checklist item (sh:group's label)
    target: str  # a SPARQL pattern binding ?this to each target node
    path: Node | None  # the sh:path node in the shapes graph; None on a node shape
    path_text: str | None  # the path as written for people: "dprod:domain", "^vm:servedBy"
    path_iri: str | None  # the predicate's IRI, "^" and the IRI for an inverse path, the SPARQL path otherwise
    parameter: Node | None  # the constraint's parameter value (the class, the datatype, the count...)
    query: str  # this check alone, with TARGET_SLOT and FOCUS_SLOT still in it
    shape_term: Node | None = None  # the shape node itself (a blank node stays one)
    constraint_term: Node | None = None
    lookup_query: str | None = None  # `query` planned for a store where looking a node up is cheap (see FOCUS_NODES)
    # A check on each value node alone: the SPARQL path to its value nodes and the expression, on ?value, true
    # when a value node violates it (checks of one target merged into one query read them, see _merged_values).
    value_path: str | None = None
    violation: str | None = None
    # A nested shape's check planned for a path with few distinct values (see FEW_VALUES): each value's facts looked
    # up, where `query` scans every statement of the predicates the nested shape reads.
    few_values_query: str | None = None


@dataclass(frozen=True)
class Query:
    """One SELECT answering several checks of the same target and kind; a row's ?k is its check's index."""

    checks: tuple[Check, ...]
    text: str  # with TARGET_SLOT and FOCUS_SLOT still in it
    target: str
    lookup_text: str | None = None  # the same, planned for a store where looking a node up is cheap (see FOCUS_NODES)
    few_values_text: str | None = None  # the same when the path has few distinct values (Check.few_values_query)
    value_path: str | None = None  # the path whose distinct values are counted to choose `few_values_text`
    few_values_limit: int = FEW_VALUES  # at most this many distinct values choose `few_values_text`

    def sparql(
        self,
        *,
        focus_in_records: bool,
        subclasses: Mapping[str, Iterable[str]] | None = None,
        lookups: bool = False,
        few_values: bool = False,
    ) -> str:
        """The runnable query, over every target node or only over nodes the records in focus describe;
        `subclasses` maps each sh:class to its subclasses in the data; `lookups` for a store in memory;
        `few_values` when the path has few distinct values (see `few_values_probe`)."""
        if lookups and self.lookup_text:
            text = self.lookup_text
        elif few_values and self.few_values_text:
            text = self.few_values_text
        else:
            text = self.text
        text = text.replace(TARGET_SLOT, self.target)
        text = text.replace(FOCUS_SLOT, FOCUS_IN_RECORDS if focus_in_records else "")
        if SUBCLASSES_SLOT in text:
            pairs = " ".join(
                f"({k} <{sub}>)"
                for k, c in enumerate(self.checks)
                for sub in sorted({str(c.parameter), *(subclasses or {}).get(str(c.parameter), ())})
            )
            text = text.replace(SUBCLASSES_SLOT, pairs)
        return text

    def few_values_probe(self) -> str | None:
        """A query answering one row, ?n: the distinct values of the path up to `few_values_limit` + 1 (None when
        the query has no plan for few values)."""
        if self.few_values_text is None or self.value_path is None:
            return None
        return (
            f"SELECT (COUNT(*) AS ?n) WHERE {{ SELECT DISTINCT ?value WHERE {{ ?any_ {self.value_path} ?value }} "
            f"LIMIT {self.few_values_limit + 1} }}"
        )

    def classes(self) -> set[str]:
        """The sh:class values this query needs the subclasses of."""
        return {str(c.parameter) for c in self.checks if SUBCLASSES_SLOT in self.text}


NO_REACH = Reach(frozenset())


@dataclass(frozen=True)
class Shapes:
    graph: Graph
    checks: tuple[Check, ...]
    queries: tuple[Query, ...]  # the checks, merged where they share a target and a kind of constraint
    items: tuple[str, ...]  # mandatory checklist items of a data product, in the article's order
    # The shapes a standard validator evaluates (server/governance/fallback.py), with a shapes graph in which
    # every other targeted shape is deactivated; None when everything is compiled.
    evaluated: tuple[Node, ...] = ()
    evaluated_graph: Graph | None = None
    # SPARQL constraints that query the shapes graph ($shapesGraph, $currentShape), as (shape, constraint): pyshacl
    # cannot run them, so server/governance/shapes_graph_queries.py does, with the shapes graph beside the data.
    querying_shapes: tuple[tuple[Node, Node], ...] = ()
    # How far from their focus nodes the evaluated shapes look, for the data pyshacl gets from a whole store; None
    # when some evaluated shape can read anything (a SPARQL constraint or component).
    evaluated_reach: Reach | None = None
    reach: Reach = NO_REACH  # how far from a focus node the shapes look (a write's neighbourhood)


def _component(parameter: URIRef) -> str:
    """sh:minCount -> sh:MinCountConstraintComponent."""
    name = parameter[len(str(SH)) :]
    return f"{SH}{name[0].upper()}{name[1:]}ConstraintComponent"


def _sparql_term(term: Node) -> str:
    return str(to_oxigraph(term))


def severity_of(graph: Graph, shape: Node) -> str:
    value = graph.value(shape, SH.severity)
    if value is None:
        return "Violation"
    return str(value)[len(str(SH)) :] if value in (SH.Violation, SH.Warning, SH.Info) else str(value)


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
    """The SPARQL path pattern and its text for people."""
    try:
        sparql = sparql_path(graph, path)
    except BadPath as bad:
        raise UnsupportedShape(str(bad)) from bad
    if isinstance(path, URIRef):
        return sparql, _short(graph, path)
    inverse = graph.value(path, SH.inversePath)
    if isinstance(inverse, URIRef):
        return sparql, "^" + _short(graph, inverse)
    return sparql, sparql


def _value_nodes(path: str | None, var: str = "?value") -> str:
    """A pattern binding `var` to each value node: the path's objects, or the focus node itself."""
    return f"?this {path} {var} ." if path else f"BIND (?this AS {var})"


def _scanned_value_nodes(path: str | None) -> str:
    """`_value_nodes` for a pattern that follows FOCUS_NODES: the path's pairs as a subquery, joined by hash."""
    return (
        f"{{ SELECT ?this ?value WHERE {{ {scanned('?this', path, '?value')} }} }}"
        if path
        else "BIND (?this AS ?value)"
    )


def _members(graph: Graph, parameter: Node) -> list[Node]:
    return list(Collection(graph, parameter))


def _value_filter(component: Node, parameter: Node, graph: Graph, shape: Node) -> str:
    """The condition under which ?value violates a value-node component."""
    if component == SH["class"]:
        return f"MINUS {{ ?value <{RDF.type}>/<{RDFS.subClassOf}>* <{parameter}> }}"
    if component == SH["in"]:
        same = " || ".join(f"sameTerm(?value, {_sparql_term(m)})" for m in _members(graph, parameter)) or "false"
        return f"FILTER (!({same}))"
    if component == SH.datatype:
        datatype = str(parameter)
        formed = f" && {well_formed(datatype, '?value')}" if datatype in CASTABLE else ""
        return f"FILTER (!COALESCE(datatype(?value) = <{datatype}>{formed}, false))"  # as conditions.value_holds
    if component == SH.nodeKind:
        return f"FILTER (!({_NODE_KINDS[parameter]}))"
    if component in _COMPARISONS:
        # A value that cannot be compared (a string, an IRI) is a violation too, as SHACL says.
        return f"FILTER (!COALESCE(?value {_COMPARISONS[component]} {_sparql_term(parameter)}, false))"
    if component in (SH.minLength, SH.maxLength):
        operator = ">=" if component == SH.minLength else "<="
        return f"FILTER (!COALESCE(STRLEN(STR(?value)) {operator} {int(parameter)}, false))"  # type: ignore[call-overload]
    if component == SH.pattern:
        flags = graph.value(shape, SH.flags)
        arguments = f"{_sparql_term(Literal(str(parameter)))}" + (
            f", {_sparql_term(Literal(str(flags)))}" if flags is not None else ""
        )
        return f"FILTER (!COALESCE(REGEX(STR(?value), {arguments}), false))"
    if component == SH.languageIn:
        tags = " || ".join(
            f"langMatches(lang(?value), {_sparql_term(Literal(str(t)))})" for t in _members(graph, parameter)
        )
        return f"FILTER (!COALESCE({tags or 'false'}, false))"
    raise UnsupportedShape(f"constraint {component} is not compiled")


_COMPARISONS: dict[Node, str] = {
    SH.minInclusive: ">=",
    SH.maxInclusive: "<=",
    SH.minExclusive: ">",
    SH.maxExclusive: "<",
}


def _core_query(
    component: Node, parameter: Node, path: str | None, graph: Graph, shape: Node, *, plain: bool = False
) -> str:
    """The check's query; nested shapes' checks test each distinct value once unless `plain` (the query as SHACL
    states the check: each pair tested, the lookup plan for a store in memory)."""
    head = f"{{ {FOCUS_NODES} "
    if component == SH.minCount:
        n = int(parameter)  # type: ignore[call-overload]
        if n == 1 and path is not None:  # (SHACL defines minCount on property shapes only)
            return f"SELECT ?this (0 AS ?count) WHERE {head} MINUS {{ {scanned('?this', path, '?v')} }} }}"
        return (
            f"SELECT ?this (COUNT(DISTINCT ?v) AS ?count) WHERE {head} OPTIONAL {{ ?this {path} ?v }} }} "
            f"GROUP BY ?this HAVING (COUNT(DISTINCT ?v) < {n})"
        )
    if component == SH.maxCount:
        n = int(parameter)  # type: ignore[call-overload]
        return f"SELECT ?this ?count WHERE {head} {_counted(path, n)} }}"
    if component == SH.hasValue:
        term = _sparql_term(parameter)
        if path is None:
            return f"SELECT ?this WHERE {head} FILTER (!sameTerm(?this, {term})) }}"
        return f"SELECT ?this WHERE {head} FILTER NOT EXISTS {{ ?this {path} {term} }} }}"
    if component == SH.uniqueLang:
        if parameter != Literal(True):
            return f"SELECT ?this WHERE {head} FILTER (false) }}"
        return (
            f"SELECT DISTINCT ?this ?lang WHERE {head} ?this {path} ?v1 . ?this {path} ?v2 . "
            'FILTER (!sameTerm(?v1, ?v2) && lang(?v1) != "" && lang(?v1) = lang(?v2)) BIND (lang(?v1) AS ?lang) }'
        )
    if component in (SH.qualifiedMinCount, SH.qualifiedMaxCount):
        qualified = conforms(graph, graph.value(shape, SH.qualifiedValueShape), "?v")  # type: ignore[arg-type]
        if qualified is None:  # partition() leaves such shapes to a standard validator
            raise UnsupportedShape(f"the qualified value shape of {_short(graph, shape)} is not compiled")
        n = int(parameter)  # type: ignore[call-overload]
        each_pair = plain or path is None or _ZERO_LENGTH.search(re.sub(r"<[^>]*>", "", path)) is not None
        if each_pair or path is None:
            conforming = f"?this {path} ?v FILTER ({qualified})"
        else:
            # The values that conform, each tested once (as in _distinct_values_first), joined with the focus
            # nodes' pairs.
            test, flags = set_at_a_time(qualified, "?v")
            conforming = (
                f"{{ SELECT ?this ?v WHERE {{ {scanned('?this', path, '?v')} }} }} {{ SELECT ?v WHERE {{ {{ SELECT "
                f"?v WHERE {{ {scanned('?any_', path, '?v')} }} GROUP BY ?v }} {' '.join(flags)} FILTER ({test}) }} }}"
            )
        if component == SH.qualifiedMinCount and n == 1 and not each_pair:
            # None conforms: an anti-join by hash, with no count kept for each focus node (0.25 s of 1.3 at 100k).
            # (Not with a path of length zero: MINUS would list its pairs for every node of the store.)
            return f"SELECT ?this (0 AS ?count) WHERE {head} MINUS {{ {conforming} }} }}"
        if component == SH.qualifiedMinCount:
            return (
                f"SELECT ?this (COUNT(DISTINCT ?v) AS ?count) WHERE {head} OPTIONAL {{ {conforming} }} }} "
                f"GROUP BY ?this HAVING (COUNT(DISTINCT ?v) < {n})"
            )
        return (
            f"SELECT ?this (COUNT(DISTINCT ?v) AS ?count) WHERE {head} {conforming} }} "
            f"GROUP BY ?this HAVING (COUNT(DISTINCT ?v) > {n})"
        )
    values = f"SELECT DISTINCT ?this ?value WHERE {head} "
    if component in LOGICAL:
        violation = _violation(component, parameter, path, graph, shape)
        if violation is not None and path is not None and not plain:
            return _distinct_values_first(path, violation)
        return f"{values} {_value_nodes(path)} FILTER (!({logical(graph, component, parameter, '?value')})) }}"
    if component == SH.equals:
        # Each branch binds ?this itself: a UNION's branches are evaluated before they meet the target pattern.
        is_value = f"?this {path} ?value" if path else "FILTER (sameTerm(?value, ?this))"
        return (
            f"SELECT DISTINCT ?this ?value WHERE {{ {head} {_value_nodes(path)} "
            f"FILTER NOT EXISTS {{ ?this <{parameter}> ?value }} }} UNION "
            f"{head} ?this <{parameter}> ?value FILTER NOT EXISTS {{ {is_value} }} }} }}"
        )
    if component == SH.disjoint:
        return f"{values} {_value_nodes(path)} FILTER EXISTS {{ ?this <{parameter}> ?value }} }}"
    if component in (SH.lessThan, SH.lessThanOrEquals):
        operator = "<" if component == SH.lessThan else "<="
        return (
            f"{values} {_value_nodes(path)} ?this <{parameter}> ?other "
            f"FILTER (!COALESCE(?value {operator} ?other, false)) }}"
        )
    return f"{values} {_scanned_value_nodes(path)} {_value_filter(component, parameter, graph, shape)} }}"


# A path whose value nodes can be listed for every node at once: no step of length zero (`*`, `?`), which would pair
# every node of the store with itself.
_ZERO_LENGTH = re.compile(r"[*?]")


def _violation(component: Node, parameter: Node, path: str | None, graph: Graph, shape: Node) -> str | None:
    """For a check on each value node alone (not sh:class, which has a plan of its own), on a path listed for
    every node at once: the expression on ?value true when a value node violates it, as its own query says."""
    if path is None or component == SH["class"] or _ZERO_LENGTH.search(re.sub(r"<[^>]*>", "", path)):
        return None
    if component in LOGICAL:
        holds = logical(graph, component, parameter, "?value")
    elif component in _VALUE_COMPONENTS:
        holds = value_holds(graph, shape, component, parameter, "?value")
    else:
        return None
    return None if holds is None else f"!({holds})"


def _lookup_query(component: Node, parameter: Node, path: str | None, graph: Graph, shape: Node) -> str | None:
    """minCount 1 and maxCount as lookup plans: the focus nodes' values looked up node by node; nested shapes'
    checks as SHACL states them (each pair tested)."""
    if component in (*LOGICAL, SH.qualifiedMinCount, SH.qualifiedMaxCount) and path is not None:
        return _core_query(component, parameter, path, graph, shape, plain=True)
    head = f"{{ {TARGET_SLOT} {FOCUS_SLOT} "
    if component == SH.minCount and int(parameter) == 1:  # type: ignore[call-overload]
        return f"SELECT ?this (0 AS ?count) WHERE {head} FILTER NOT EXISTS {{ ?this {path} ?v }} }}"
    if component == SH.maxCount:
        return (
            f"SELECT ?this (COUNT(DISTINCT ?v) AS ?count) WHERE {head} ?this {path} ?v }} "
            f"GROUP BY ?this HAVING (COUNT(DISTINCT ?v) > {int(parameter)})"  # type: ignore[call-overload]
        )
    return None


def _few_values_query(component: Node, parameter: Node, path: str | None, graph: Graph, shape: Node) -> str | None:
    """A nested shape's check as `_core_query` plans it for a path with few distinct values (see FEW_VALUES): its
    values' facts looked up, or, when it reads none (a datatype, a pattern), each distinct value tested once."""
    if component not in LOGICAL or path is None:
        return None
    violation = _violation(component, parameter, path, graph, shape)
    if violation is None:
        return None
    return _distinct_values_first(path, violation, looked_up=True)


def _counted(path: str | None, most: int) -> str:
    """The nodes with more than `most` values on `path`, counted in one scan of the path. Counting distinct values
    keeps a set per node (the labels of everything, say); so the nodes with more than `most` statements on the path
    are found first, which only counts (half the time), and their values counted after. Each distinct value is
    stated at least once, so no node with too many values is left out."""
    return (
        f"{{ SELECT ?this (COUNT(DISTINCT ?v) AS ?count) WHERE {{ "
        f"{{ SELECT ?this WHERE {{ ?this {path} ?stated_ }} GROUP BY ?this HAVING (COUNT(*) > {most}) }} "
        f"?this {path} ?v }} GROUP BY ?this HAVING (COUNT(DISTINCT ?v) > {most}) }}"
    )


def _closed_query(graph: Graph, shape: Node) -> str:
    allowed = {p for prop in graph.objects(shape, SH.property) for p in graph.objects(prop, SH.path)}
    for ignored in graph.objects(shape, SH.ignoredProperties):
        allowed.update(_members(graph, ignored))
    listed = ", ".join(f"<{p}>" for p in sorted(a for a in allowed if isinstance(a, URIRef)))
    return (
        f"SELECT DISTINCT ?this ?path ?value WHERE {{ {TARGET_SLOT} {FOCUS_SLOT} ?this ?path ?value "
        f"FILTER (?path NOT IN ({listed})) }}"
    )


def _wrap(inner: str) -> str:
    """Name the focus node's record after the violations are found, so naming costs nothing per target node."""
    return f"SELECT * WHERE {{ {{ {inner} }} {NAMING} }}"


def prefix_lines(graph: Graph, constraint: Node) -> str:
    """The PREFIX lines sh:prefixes declares, with those of the ontologies it owl:imports."""
    lines = []
    holders = {
        h for start in graph.objects(constraint, SH.prefixes) for h in graph.transitive_objects(start, OWL.imports)
    }
    for holder in holders:
        for declaration in graph.objects(holder, SH.declare):
            prefix, namespace = graph.value(declaration, SH.prefix), graph.value(declaration, SH.namespace)
            lines.append(f"PREFIX {prefix}: <{namespace}>")
    return "\n".join(sorted(set(lines)))


_WHERE = re.compile(r"\bWHERE\s*\{", re.IGNORECASE)


def _sparql_query(graph: Graph, constraint: Node, select: str) -> str:
    """The constraint's query `select` (as written, or as hash_plan.py plans it) over every focus node."""
    match = _WHERE.search(select)
    if not match:
        raise UnsupportedShape(f"SPARQL constraint {constraint} has no sh:select with a WHERE clause")
    # $this is pre-bound by SHACL; here the target pattern binds it for every target node at once.
    inner = select[: match.end()] + f" {FOCUS_NODES} " + select[match.end() :]
    return prefix_lines(graph, constraint) + "\n" + _wrap(inner)


_STRIPPED = re.compile(
    r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|<[^\s<>"{}]*>|#[^\n]*'
)
_FORBIDDEN = re.compile(r"\b(MINUS|SERVICE|VALUES)\b", re.IGNORECASE)
_PRE_BOUND = ("this", "shapesGraph", "currentShape", "value", "PATH")
_REBOUND = re.compile(r"\bAS\s*[?$](" + "|".join(_PRE_BOUND) + r")\b")
_SUBSELECT = re.compile(r"\bSELECT\b([^{]*)", re.IGNORECASE)
_THIS = re.compile(r"[?$]this\b")


def _bare(query: str) -> str:
    """The query without strings, IRIs and comments, whose text could look like syntax."""
    return _STRIPPED.sub(lambda m: " " if m.group(0).startswith("#") else '""', query)


def refuse_unsupported_sparql(query: str, where: str) -> None:
    """SHACL forbids what would make pre-binding ill-defined: MINUS, SERVICE, VALUES, re-binding a pre-bound
    variable, and a subquery that does not return them."""
    bare = _bare(query)
    found = _FORBIDDEN.search(bare) or _REBOUND.search(bare)
    if found:
        raise UnsupportedShape(f"{where}: {found.group(0)} is not allowed in a SHACL-SPARQL query")
    for subselect in list(_SUBSELECT.finditer(bare))[1:]:
        if not _THIS.search(subselect.group(1)) and _THIS.search(bare):
            raise UnsupportedShape(f"{where}: a subquery must return $this, which SHACL pre-binds")


def _opening(bare: str, brace: int) -> str:
    """The keyword in front of a group's opening brace: EXISTS, OPTIONAL, WHERE..."""
    before = re.findall(r"[A-Za-z]+", bare[max(0, brace - 40) : brace])
    return before[-1].upper() if before else ""


def joins_exactly(query: str) -> bool:
    """Whether binding $this by a target pattern at the top of WHERE gives SHACL's pre-binding: true when $this
    appears, below the top group, only in EXISTS bodies or first in an OPTIONAL body (as a subject there)."""
    bare = _bare(query)
    start = _WHERE.search(bare)
    if start is None or len(_SUBSELECT.findall(bare)) > 1 or re.search(r"\$(shapesGraph|currentShape)\b", bare):
        return False
    for this in _THIS.finditer(bare, start.end()):
        groups: list[int] = []
        for i, char in enumerate(bare[start.end() : this.start()], start.end()):
            if char == "{":
                groups.append(i)
            elif char == "}" and groups:
                groups.pop()
        kinds = [_opening(bare, g) for g in groups]
        if not groups or "EXISTS" in kinds:
            continue
        if kinds[-1] == "OPTIONAL" and len(groups) == 1 and not bare[groups[-1] + 1 : this.start()].strip():
            continue
        return False
    return True


def _sparql_compiles(graph: Graph, constraint: Node) -> bool:
    query = str(graph.value(constraint, SH.select) or "")
    refuse_unsupported_sparql(query, f"SPARQL constraint {_short(graph, constraint)}")
    return bool(_WHERE.search(query)) and joins_exactly(query)


def target_patterns(graph: Graph, shape: Node) -> list[str]:
    """SPARQL patterns binding ?this to the shape's target nodes, one per kind of target."""
    patterns = []
    classes = set(graph.objects(shape, SH.targetClass))
    if (shape, RDF.type, RDFS.Class) in graph or any(
        (shape, RDF.type, c) in graph for c in graph.transitive_subjects(RDFS.subClassOf, RDFS.Class)
    ):
        classes.add(shape)  # an implicit class target
    patterns += [f"?this <{RDF.type}>/<{RDFS.subClassOf}>* <{c}> ." for c in sorted(classes, key=str)]
    nodes = sorted(graph.objects(shape, SH.targetNode), key=str)
    if nodes:
        patterns.append(f"VALUES ?this {{ {' '.join(_sparql_term(n) for n in nodes)} }}")
    patterns += [
        f"{{ SELECT DISTINCT ?this WHERE {{ ?this <{p}> ?targetObject_ }} }}"
        for p in sorted(graph.objects(shape, SH.targetSubjectsOf), key=str)
    ]
    patterns += [
        f"{{ SELECT DISTINCT ?this WHERE {{ ?targetSubject_ <{p}> ?this }} }}"
        for p in sorted(graph.objects(shape, SH.targetObjectsOf), key=str)
    ]
    return patterns


def _deactivated(graph: Graph, node: Node) -> bool:
    return graph.value(node, SH.deactivated) == Literal(True)


def _custom_parameters(graph: Graph) -> set[Node]:
    """Parameters of the SPARQL-based constraint components the shapes graph declares."""
    kinds = set(graph.transitive_subjects(RDFS.subClassOf, SH.ConstraintComponent))
    return {
        path
        for kind in kinds
        for component in graph.subjects(RDF.type, kind)
        for parameter in graph.objects(component, SH.parameter)
        for path in graph.objects(parameter, SH.path)
    }


def _all_shapes(graph: Graph) -> set[Node]:
    shapes: set[Node] = set(graph.subjects(RDF.type, SH.NodeShape)) | set(graph.subjects(RDF.type, SH.PropertyShape))
    for target in _TARGETS:
        shapes.update(graph.subjects(target))
    for reference in _SHAPE_REFERENCES:
        for value in graph.objects(None, reference):
            if reference in (SH["and"], SH["or"], SH.xone):
                shapes.update(_members(graph, value))
            else:
                shapes.add(value)
    return shapes


def _known(graph: Graph, shape: Node, custom: set[Node]) -> None:
    for predicate in set(graph.predicates(shape)):
        if str(predicate).startswith(str(SH)) and predicate not in _KNOWN and predicate not in custom:
            raise UnsupportedShape(f"shape {_short(graph, shape)} uses {_short(graph, predicate)}, not SHACL Core")


def _compiles_alone(graph: Graph, shape: Node, custom: set[Node], *, nested: bool) -> bool:
    """Whether every constraint of `shape` (a property shape when nested) compiles to SPARQL."""
    predicates = set(graph.predicates(shape))
    if predicates & custom or not _nesting_compiles(graph, shape, predicates & _NOT_COMPILED):
        return False
    path = graph.value(shape, SH.path)
    if path is None and (nested or predicates & _PATH_COMPONENTS):
        return False
    if path is not None and (SH.sparql in predicates or SH.closed in predicates or SH.property in predicates):
        return False  # $PATH substitution, closed value nodes and nested property shapes: evaluated
    datatypes = set(graph.objects(shape, SH.datatype))
    if any(str(d).startswith(XSD) and str(d) not in CASTABLE for d in datatypes):
        return False  # ill-formed literals of other XSD types cannot be told in SPARQL
    if any(n not in _NODE_KINDS for n in graph.objects(shape, SH.nodeKind)):
        return False
    return all(_sparql_compiles(graph, c) for c in graph.objects(shape, SH.sparql))


def _nesting_compiles(graph: Graph, shape: Node, nesting: set[Node]) -> bool:
    """Whether the shape's constraints that nest shapes can be written as SPARQL conditions (conditions.py)."""
    for component in nesting & set(LOGICAL):
        if any(logical(graph, component, p, "?value") is None for p in graph.objects(shape, component)):
            return False
    if nesting - set(LOGICAL):
        qualified = list(graph.objects(shape, SH.qualifiedValueShape))
        if (
            len(qualified) != 1
            or graph.value(shape, SH.path) is None
            or graph.value(shape, SH.qualifiedValueShapesDisjoint) == Literal(True)
            or conforms(graph, qualified[0], "?value") is None
        ):
            return False
    return True


def _compiles(graph: Graph, shape: Node, custom: set[Node]) -> bool:
    if not _compiles_alone(graph, shape, custom, nested=False):
        return False
    return all(
        _compiles_alone(graph, prop, custom, nested=True)
        for prop in graph.objects(shape, SH.property)
        if not _deactivated(graph, prop)
    )


def _referenced(graph: Graph, shapes: Iterable[Node]) -> set[Node]:
    """Every shape `shapes` refer to, directly or not."""
    found: set[Node] = set()
    frontier = list(shapes)
    while frontier:
        shape = frontier.pop()
        for reference in _SHAPE_REFERENCES:
            for value in graph.objects(shape, reference):
                members = _members(graph, value) if reference in (SH["and"], SH["or"], SH.xone) else [value]
                for member in members:
                    if member not in found:
                        found.add(member)
                        frontier.append(member)
    return found


def partition(graph: Graph) -> tuple[list[Node], list[Node]]:
    """The targeted shapes compiled to SPARQL, and those a standard validator evaluates: every shape with a
    component that nests shapes, and any targeted shape such a shape refers to (so its results stay one set)."""
    custom = _custom_parameters(graph)
    shapes = _all_shapes(graph)
    for shape in shapes:
        _known(graph, shape, custom)
    targeted = sorted((s for s in shapes if target_patterns(graph, s) and not _deactivated(graph, s)), key=str)
    evaluated = {s for s in targeted if not _compiles(graph, s, custom)}
    while True:
        more = (_referenced(graph, evaluated) & set(targeted)) - evaluated
        if not more:
            break
        evaluated |= more
    return [s for s in targeted if s not in evaluated], [s for s in targeted if s in evaluated]


def _core_checks(graph: Graph, prop: Node, target: str) -> list[Check]:
    """The Core constraints of one shape: on its path's values, or on the focus node itself (a node shape)."""
    path_node = graph.value(prop, SH.path)
    path, path_text = _path(graph, path_node) if path_node is not None else (None, None)
    found: list[tuple[str, Node | None, str, str | None, str | None, str | None]] = [
        (
            _component(component),
            parameter,
            _wrap(_core_query(component, parameter, path, graph, prop)),
            None if (lookup := _lookup_query(component, parameter, path, graph, prop)) is None else _wrap(lookup),
            _violation(component, parameter, path, graph, prop),
            None if (few := _few_values_query(component, parameter, path, graph, prop)) is None else _wrap(few),
        )
        for component in sorted(_CORE | _NESTING_COMPILED, key=str)
        for parameter in graph.objects(prop, component)
    ]
    if path_node is None and graph.value(prop, SH.closed) == Literal(True):
        found.append((str(SH.ClosedConstraintComponent), None, _wrap(_closed_query(graph, prop)), None, None, None))
    return [
        Check(
            name=_short(graph, prop),
            shape=str(prop),
            constraint=None,
            component=component,
            severity=severity_of(graph, prop),
            message=str(graph.value(prop, SH.message) or "")
            or constraint_in_words(component, parameter, path_node, graph),
            item=_label(graph, graph.value(prop, SH.group)),
            target=target,
            path=path_node,
            path_text=path_text,
            path_iri=None if path_node is None else path_text_of(graph, path_node),
            parameter=parameter,
            query=query,
            shape_term=prop,
            lookup_query=lookup_query,
            value_path=None if violation is None else path,
            violation=violation,
            few_values_query=few_values_query,
        )
        for component, parameter, query, lookup_query, violation, few_values_query in found
    ]


def _checks_of(graph: Graph, shape: Node, target: str) -> list[Check]:
    checks: list[Check] = []
    members = [] if graph.value(shape, SH.path) is not None else sorted(graph.objects(shape, SH.property), key=str)
    for prop in [shape, *members]:
        if not _deactivated(graph, prop):
            checks.extend(_core_checks(graph, prop, target))
    for constraint in sorted(graph.objects(shape, SH.sparql), key=str):
        if _deactivated(graph, constraint):
            continue
        select = str(graph.value(constraint, SH.select) or "")
        hashed = hash_plan(select)
        checks.append(
            Check(
                name=_short(graph, constraint),
                shape=str(shape),
                constraint=str(constraint),
                component=str(SH.SPARQLConstraintComponent),
                severity=severity_of(graph, shape),
                message=str(graph.value(constraint, SH.message) or graph.value(shape, SH.message) or ""),
                item=_label(graph, graph.value(constraint, SH.group)),
                target=target,
                path=None,
                path_text=None,
                path_iri=None,
                parameter=None,
                query=_sparql_query(graph, constraint, hashed or select),
                shape_term=shape,
                constraint_term=constraint,
                lookup_query=None if hashed is None else _sparql_query(graph, constraint, select),
            )
        )
    return checks


def compile_shapes(graph: Graph, shapes: Iterable[Node] | None = None) -> tuple[Check, ...]:
    """Every (shape, constraint) pair of the compiled shapes of a shapes graph as a Check (all of `partition`'s
    compiled shapes unless `shapes` names some); refuses SHACL that cannot be honoured."""
    if shapes is None:
        shapes = partition(graph)[0]
    checks: list[Check] = []
    for shape in shapes:
        for target in target_patterns(graph, shape):
            checks.extend(_checks_of(graph, shape, target))
    return tuple(checks)


def mandatory_items(graph: Graph) -> tuple[str, ...]:
    """The checklist items a data product is measured against: groups of Violation shapes on data products."""
    order: dict[str, int] = {}
    for shape in graph.subjects(SH.targetClass, DPROD.DataProduct):
        members = [(p, severity_of(graph, p)) for p in graph.objects(shape, SH.property)]
        members += [(c, severity_of(graph, shape)) for c in graph.objects(shape, SH.sparql)]
        for member, severity in members:
            group = graph.value(member, SH.group)
            label = _label(graph, group)
            if severity == "Violation" and label is not None:
                order[label] = int(str(graph.value(group, SH.order) or 0))
    return tuple(sorted(order, key=order.__getitem__))


def _merged_values(members: list[Check], apart: str | None = None) -> str:
    """Checks of one target on each value node alone, on any paths, in one query: each path scanned once for all
    the checks on it, each pair (focus node, path, value) tested first by all the checks on its path at once (one
    row and no branching on the check for each: 8.2 -> 6.6 s at 100k), and only the pairs some check fails paired
    with the checks on their path and tested by each.

    Where a check reads the value's text (a length, a pattern, a node kind), the focus nodes are joined with the
    scans by hash first and the test comes after a GROUP BY, which keeps the engine from moving it beside the scan,
    where it would read every value of the predicate in the store (every label, not only the products'): 1.7 -> 1.1 s
    for six checks on 10k products. Where the checks on a path only compare the value term for term (sh:in,
    sh:hasValue), testing reads nothing: each statement is tested as it is scanned and only those that fail are
    joined with the focus nodes (the product types at 100k: 0.25 s of joining and grouping saved).

    The path `apart` (see `_repeated_values_path`) has its distinct values tested, each once, and only those that
    fail joined with the focus nodes' pairs: the plan for a path whose values many focus nodes share."""
    paths: dict[str, list[int]] = {}
    for k, check in enumerate(members):
        paths.setdefault(check.value_path or "", []).append(k)
    failing = [any_fails([members[k] for k in ks]) for ks in paths.values()]
    shared = [i for i, path in enumerate(paths) if path == apart]
    reading = [i for i, test in enumerate(failing) if reads_value(test) and i not in shared]
    comparing = [i for i in range(len(paths)) if i not in reading and i not in shared]
    scans = [f"{scanned('?this', path, '?value')} VALUES ?path_ {{ {i} }}" for i, path in enumerate(paths)]
    parts = [
        f"{{ SELECT ?this ?path_ ?value WHERE {{ {{ SELECT ?value WHERE {{ {{ SELECT ?value WHERE {{ "
        f"{scanned('?any_', path, '?value')} }} GROUP BY ?value }} FILTER ({failing[i]}) }} }} {FOCUS_NODES} "
        f"{{ SELECT ?this ?path_ ?value WHERE {{ {scans[i]} }} }} }} }}"
        for i, path in enumerate(paths)
        if i in shared
    ]
    if reading:
        ahead = "false"  # true when some check on the pair's path fails
        for i in reversed(reading):
            ahead = f"IF(?path_ = {i}, {failing[i]}, {ahead})"
        union = " UNION ".join(f"{{ {scans[i]} }}" for i in reading)
        parts.append(
            f"{{ SELECT ?this ?path_ ?value WHERE {{ {{ SELECT ?this ?path_ ?value WHERE {{ {FOCUS_NODES} "
            f"{{ SELECT ?this ?path_ ?value WHERE {{ {union} }} }} }} GROUP BY ?this ?path_ ?value }} "
            f"FILTER ({ahead}) }} }}"
        )
    if comparing:
        union = " UNION ".join(f"{{ {scans[i]} FILTER ({failing[i]}) }}" for i in comparing)
        parts.append(
            f"{{ SELECT ?this ?path_ ?value WHERE {{ {{ SELECT ?this ?path_ ?value WHERE {{ {union} }} }} {FOCUS_NODES} }} }}"
        )
    checks = " ".join(f"({i} {k})" for i, ks in enumerate(paths.values()) for k in ks)
    test = "false"
    for k, check in reversed(list(enumerate(members))):
        test = f"IF(?k = {k}, {check.violation}, {test})"
    return (
        f"SELECT ?this ?k ?value WHERE {{ {' UNION '.join(parts)} VALUES (?path_ ?k) {{ {checks} }} FILTER ({test}) }}"
    )


# Node kinds that say a value is a node: values that are nodes (an owner, a consumed port) are typically shared by
# many focus nodes, where texts (names, descriptions) are mostly each focus node's own.
_NODES = {SH.IRI, SH.BlankNode, SH.BlankNodeOrIRI}


def _repeated_values_path(members: list[Check]) -> str | None:
    """The first path of `members` on which every check is a node kind saying the value is a node: a path whose
    values are worth testing once each when there are few enough of them (REPEATED_VALUES)."""
    paths: dict[str, list[Check]] = {}
    for check in members:
        paths.setdefault(check.value_path or "", []).append(check)
    for path, checks in paths.items():
        if path and all(c.component == str(SH.NodeKindConstraintComponent) and c.parameter in _NODES for c in checks):
            return path
    return None


def _distinct_values_first(path: str, violation: str, *, looked_up: bool = False) -> str:
    """A nested shape's check (sh:node, sh:or...) on the values of a path: its expression looks facts of the value
    up, so it is evaluated once per distinct value of the path (a few domains for ten thousand products), after
    GROUP BY, which keeps the engine from testing the value on each pair; the values that fail are joined with
    the focus nodes' pairs. The facts are flags set for every node at once by a scan of their predicates, or,
    `looked_up`, looked up value by value (the expression as written: cheaper for a few values). A shape that reads
    no facts of the value (a datatype, sh:or of datatypes) has nothing to look up: unless `looked_up`, each
    statement's value is tested as the path is scanned, where grouping 100,000 titles first only cost (1.3 s ->
    0.7 s at 100k); grouping pays on a path with few distinct values, the plan for few values."""
    test, flags = (violation, []) if looked_up else set_at_a_time(violation, "?value")
    if flags or looked_up:
        failing = (
            f"{{ SELECT ?value WHERE {{ {{ SELECT ?value WHERE {{ {scanned('?any_', path, '?value')} }} "
            f"GROUP BY ?value }} {' '.join(flags)} FILTER ({test}) }} }}"
        )
    else:
        failing = f"{{ SELECT DISTINCT ?value WHERE {{ {scanned('?any_', path, '?value')} FILTER ({test}) }} }}"
    return (
        f"SELECT DISTINCT ?this ?value WHERE {{ {failing} {FOCUS_NODES} "
        f"{{ SELECT ?this ?value WHERE {{ {scanned('?this', path, '?value')} }} }} }}"
    )


def _merged_text(kind: str, members: list[Check]) -> str:
    """One query for checks of the same kind on the same target, each on its own predicate (and parameter).
    Each predicate is scanned on its own and joined by hash with the focus nodes: with the predicate from VALUES,
    Oxigraph looks each focus node up once per predicate, which on disk is ten times slower."""
    if kind == "Values":
        return _merged_values(members)
    if kind == "MinCount":
        # The focus nodes once, paired with every check, less the pairs some value is found for: one anti-join by
        # hash, where a branch per check made the engine find the focus nodes again for each (twice as slow).
        keys = " ".join(str(k) for k in range(len(members)))
        found = " UNION ".join(f"{{ ?this <{iri}> ?v {bound} }}" for iri, bound in _per_predicate(members))
        return (
            f"SELECT ?this ?k (0 AS ?count) WHERE {{ {FOCUS_NODES} VALUES ?k {{ {keys} }} "
            f"MINUS {{ SELECT ?this ?k WHERE {{ {found} }} }} }}"
        )
    if kind == "MaxCount":
        branches = (f"{{ {FOCUS_NODES} {_counted(f'<{iri}>', 1)} {bound} }}" for iri, bound in _per_predicate(members))
        return "SELECT ?this ?k ?count WHERE { " + " UNION ".join(branches) + " }"
    scans = " UNION ".join(f"{{ ?this <{iri}> ?value {bound} }}" for iri, bound in _per_predicate(members))
    values = f"SELECT DISTINCT ?this ?k ?value WHERE {{ {FOCUS_NODES} {{ SELECT ?this ?k ?value WHERE {{ {scans} }} }} "
    if kind == "Class":
        # The subclasses of each class are looked up once per run (SUBCLASSES_SLOT): a property path with the class
        # as a variable is four times slower here.
        return values + f"MINUS {{ VALUES (?k ?class) {{ {SUBCLASSES_SLOT} }} ?value <{RDF.type}> ?class }} }}"
    parameters = " ".join(
        f"({k} {_sparql_term(c.parameter)})" for k, c in enumerate(members) if c.parameter is not None
    )
    if kind in {"MinInclusive", "MaxInclusive"}:
        operator = ">=" if kind == "MinInclusive" else "<="
        return values + f"VALUES (?k ?param) {{ {parameters} }} FILTER (!COALESCE(?value {operator} ?param, false)) }}"
    datatype = str(members[0].parameter)
    formed = f" && {well_formed(datatype, '?value')}" if datatype in CASTABLE else ""
    return values + f"FILTER (!COALESCE(datatype(?value) = <{datatype}>{formed}, false)) }}"


def _merged_lookup_text(kind: str, members: list[Check]) -> str | None:
    """MinCount and MaxCount checks merged as lookup plans."""
    if kind == "MinCount":
        rows = " ".join(f"({k} <{c.path_iri}>)" for k, c in enumerate(members))
        return (
            f"SELECT ?this ?k (0 AS ?count) WHERE {{ {TARGET_SLOT} {FOCUS_SLOT} VALUES (?k ?p) {{ {rows} }} "
            "FILTER NOT EXISTS { ?this ?p ?v } }"
        )
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
    return None


def _per_predicate(members: list[Check]) -> list[tuple[str, str]]:
    """Each predicate of `members` with the pattern binding ?k to the index of each check on it: the same check
    stated by two shapes (an organisation restating a packaged rule) scans its predicate once."""
    keys: dict[str, list[int]] = {}
    for k, check in enumerate(members):
        keys.setdefault(str(check.path_iri), []).append(k)
    return [
        (iri, f"BIND ({ks[0]} AS ?k)" if len(ks) == 1 else f"VALUES ?k {{ {' '.join(map(str, ks))} }}")
        for iri, ks in keys.items()
    ]


_NESTED_KINDS = {"Node", "And", "Or", "Xone", "Not"}


def _merge_key(check: Check, scanned_paths: frozenset[tuple[str, str]] = frozenset()) -> tuple[str, ...] | None:
    """Checks with the same key run as one query; None for those that run alone. `scanned_paths`: the (target,
    path) pairs the query of checks on value nodes scans."""
    if check.constraint is not None:
        return None
    kind = check.component.removeprefix(str(SH)).removesuffix("ConstraintComponent")
    if check.violation is not None and kind not in {"Datatype", "MinInclusive", "MaxInclusive", *_NESTED_KINDS}:
        return (check.target, "Values")
    if (
        kind in _NESTED_KINDS
        and check.violation is not None
        and "EXISTS" not in check.violation
        and (check.target, check.value_path or "") in scanned_paths
    ):
        # A nested shape that reads no facts of the value (sh:or of sh:hasValue, say) tests the value alone: on a
        # path that query scans anyway it is one more test of each pair there, instead of a query of its own
        # (the organisation's sh:or on 100k products' types: 0.9 s of its own, next to nothing there).
        return (check.target, "Values")
    if not isinstance(check.path, URIRef):
        return None
    if kind in {"MinCount", "MaxCount"}:
        return (check.target, kind) if int(str(check.parameter)) == 1 else None
    if kind in {"Class", "MinInclusive", "MaxInclusive"}:
        return (check.target, kind)
    if kind == "Datatype":
        return (check.target, kind, str(check.parameter))
    return None


def _alone(check: Check) -> Query:
    few_values = check.few_values_query
    return Query(
        (check,),
        check.query,
        check.target,
        check.lookup_query,
        few_values_text=few_values,
        value_path=None if few_values is None else check.value_path,
    )


def plan_queries(checks: Iterable[Check]) -> tuple[Query, ...]:
    """The checks as few queries as possible: each full pass over a target class costs about the same."""
    checks = list(checks)
    groups: dict[tuple[str, ...], list[Check]] = {}
    queries: list[Query] = []
    scanned_paths = frozenset((c.target, c.value_path or "") for c in checks if _merge_key(c) == (c.target, "Values"))
    keys = [_merge_key(check, scanned_paths) for check in checks]
    for check, key in zip(checks, keys, strict=True):
        if key is None or (key[1] == "Values" and keys.count(key) == 1):  # a lone check keeps its place
            queries.append(_alone(check))
        else:
            groups.setdefault(key, []).append(check)
    for key, members in groups.items():
        if len(members) == 1:
            queries.append(_alone(members[0]))
            continue
        lookup = _merged_lookup_text(key[1], members)
        text = _wrap(_merged_text(key[1], members))
        query = Query(tuple(members), text, members[0].target, None if lookup is None else _wrap(lookup))
        if key[1] == "Values" and (shared := _repeated_values_path(members)) is not None:
            few = _wrap(_merged_values(members, apart=shared))
            query = replace(query, few_values_text=few, value_path=shared, few_values_limit=REPEATED_VALUES)
        queries.append(query)
    return tuple(queries)


def _refuse_unsupported_queries(graph: Graph) -> None:
    """Every SPARQL query of the shapes graph, compiled or not, obeys SHACL's rules for pre-binding."""
    for constraint in set(graph.objects(None, SH.sparql)):
        refuse_unsupported_sparql(
            str(graph.value(constraint, SH.select) or ""), f"SPARQL constraint {_short(graph, constraint)}"
        )
    kinds = set(graph.transitive_subjects(RDFS.subClassOf, SH.ConstraintComponent))
    for component in {c for kind in kinds for c in graph.subjects(RDF.type, kind)}:
        for kind in (SH.validator, SH.nodeValidator, SH.propertyValidator):
            for validator in graph.objects(component, kind):
                for text in (*graph.objects(validator, SH.select), *graph.objects(validator, SH.ask)):
                    refuse_unsupported_sparql(str(text), f"validator of {_short(graph, component)}")


_SHAPES_GRAPH_VARIABLES = re.compile(r"[?$](shapesGraph|currentShape)\b")


def _querying_shapes(graph: Graph, shapes: Iterable[Node]) -> list[tuple[Node, Node]]:
    """The active SPARQL constraints of targeted `shapes` that mention $shapesGraph or $currentShape."""
    return [
        (shape, constraint)
        for shape in shapes
        for constraint in sorted(graph.objects(shape, SH.sparql), key=str)
        if not _deactivated(graph, constraint)
        and _SHAPES_GRAPH_VARIABLES.search(_bare(str(graph.value(constraint, SH.select) or "")))
    ]


def _evaluation_graph(graph: Graph, compiled: Iterable[Node], querying_shapes: Iterable[tuple[Node, Node]]) -> Graph:
    """The shapes graph a standard validator runs: the compiled targeted shapes deactivated, so that nothing is
    checked twice (the shapes they contain stay active for the evaluated shapes that refer to them), and the
    constraints that query the shapes graph taken out (they run on their own)."""
    copy = Graph()
    copy += graph
    for shape in compiled:
        copy.set((shape, SH.deactivated, Literal(True)))
    for shape, constraint in querying_shapes:
        copy.remove((shape, SH.sparql, constraint))
    return copy


def _bounded_reach(graph: Graph, evaluated: list[Node]) -> Reach | None:
    custom = _custom_parameters(graph)
    involved = set(evaluated) | _referenced(graph, evaluated)
    if any((s, SH.sparql, None) in graph or set(graph.predicates(s)) & custom for s in involved):
        return None
    return reach_of(graph, evaluated)


def shapes_from_graph(graph: Graph) -> Shapes:
    """A shapes graph ready to run: its shapes compiled to SPARQL where that is exact, the rest left to a standard
    validator; UnsupportedShape for what cannot be honoured."""
    _refuse_unsupported_queries(graph)
    compiled, evaluated = partition(graph)
    checks = compile_shapes(graph, compiled)
    querying_shapes = _querying_shapes(graph, evaluated)
    return Shapes(
        graph=graph,
        checks=checks,
        queries=plan_queries(checks),
        items=mandatory_items(graph),
        evaluated=tuple(evaluated),
        evaluated_graph=_evaluation_graph(graph, compiled, querying_shapes) if evaluated else None,
        querying_shapes=tuple(querying_shapes),
        reach=reach_of(graph, [*compiled, *evaluated]),
        evaluated_reach=_bounded_reach(graph, evaluated),
    )


def read_shapes(files: Iterable[Path]) -> Shapes:
    """The shapes of Turtle files; a refusal names the file that holds the shape."""
    graph = Graph()
    parsed: dict[Path, Graph] = {}
    for path in files:
        parsed[path] = read_rdf_file(path).default  # literals as written: "1"^^xsd:boolean is not "true"
        graph += parsed[path]
    try:
        return shapes_from_graph(graph)
    except UnsupportedShape as refused:
        text = str(refused)
        holders = [str(p) for p, g in parsed.items() if any(_short(graph, s) in text for s in set(g.subjects()))]
        raise UnsupportedShape(f"{', '.join(holders) or 'shapes'}: {text}") from None


@lru_cache(maxsize=1)
def catalog_shapes() -> Shapes:
    """The shapes this installation ships (shapes/*.ttl), read and compiled once per process, and once for all
    processes while neither they nor valuemesh change (server/governance/compiled_shapes.py)."""
    files = shape_files()
    return remembered(files, lambda: read_shapes(files), Shapes)
