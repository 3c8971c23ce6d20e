"""Running the compiled checks: one SPARQL SELECT per constraint, over a whole store or over a write's records.

Each result's message is the shape's sh:message with `{?var}` substituted (as SHACL does for SPARQL-based
constraints), a short statement of what was found ("it has none", "it has 120"), and, in front, the name of the
record the focus node belongs to ("HCP 360: ...", or "HCP 360 (Daily freshness): ..." for an SLO). SHACL Core cannot
put a product's name into a message, so valuemesh adds it from the record's rdfs:label.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Protocol

from rdflib import Literal, URIRef
from rdflib.term import Node

from server.governance.messages import display
from server.governance.results import ValidationResult
from server.governance.shapes import NAMING, Check, Query
from server.namespaces import SH
from server.store.base import SelectResult, backend_of


class Selecting(Protocol):
    def select(self, query: str) -> SelectResult: ...


_SLOT = re.compile(r"\{[?$]([A-Za-z_][A-Za-z0-9_]*)\}")


def _count(row: dict[str, Node | None]) -> int | None:
    pairs = row.get("pairs")
    if pairs is not None:
        # n distinct values make n(n-1) ordered pairs.
        return round((1 + math.sqrt(1 + 4 * int(pairs))) / 2)  # type: ignore[call-overload]
    count = row.get("count")
    return None if count is None else int(count)  # type: ignore[call-overload]


def _finding(check: Check, row: dict[str, Node | None]) -> str:
    """What was found, in a few words, for core constraints (SPARQL constraints say it in their message)."""
    component = check.component.removeprefix(str(SH)).removesuffix("ConstraintComponent")
    count, value = _count(row), row.get("value")
    if component == "MinCount":
        return "it has none" if not count else f"it has {count}"
    if component == "MaxCount":
        return f"it has {count}"
    if component == "Class":
        return f"{display(value)} is not a {display(check.parameter)}"
    if component == "Datatype" and isinstance(value, Literal):
        return f'it has "{value}"'
    if component in {"In", "Datatype", "MinInclusive", "MaxInclusive"}:
        return f"it has {display(value)}"
    return ""


def message_with_slots(template: str, row: dict[str, Node | None]) -> str:
    """A message with each `{?var}` / `{$var}` replaced by the variable's value in the result's row."""
    return _SLOT.sub(lambda m: display(row.get(m.group(1))), template)


def _detail(check: Check, row: dict[str, Node | None]) -> str:
    text = message_with_slots(check.message, row)
    finding = _finding(check, row)
    return f"{text}; {finding}" if finding else text


def _who(row: dict[str, Node | None]) -> str:
    """The record's name, and the node's own name when it is a part of the record (an SLO, a port)."""
    record, focus = row.get("record"), row.get("this")
    record_name, focus_name = row.get("recordName"), row.get("focusName")
    who = str(record_name) if record_name is not None else (str(focus_name) if focus_name else display(focus))
    if record is not None and record != focus and focus_name is not None and record_name is not None:
        who = f"{record_name} ({focus_name})"
    return who


def _result(check: Check, row: dict[str, Node | None]) -> ValidationResult:
    focus, value, path = row["this"], row.get("value"), row.get("path")
    if check.constraint is not None and value is None:
        value = focus  # SHACL: a SPARQL-based result without ?value has the focus node as its value
    record, detail = row.get("record"), _detail(check, row)
    return ValidationResult(
        focus_node=str(focus),
        severity=check.severity,
        message=f"{_who(row)}: {detail}",
        detail=detail,
        path=check.path_iri if path is None else str(path),
        source_shape=check.shape,
        component=check.component,
        constraint=check.constraint,
        value=None if value is None else str(value),
        record=None if record is None else str(record),
        record_name=None if row.get("recordName") is None else str(row["recordName"]),
        item=check.item,
        focus_term=focus,
        value_term=value,
        shape_term=check.shape_term,
    )


FOCUS_NAMES = "SELECT * WHERE { VALUES ?this { #NODES } " + NAMING + " }"


def with_record_names(store: Selecting, results: list[ValidationResult]) -> list[ValidationResult]:
    """Results found without the store (by a standard validator), named after their focus nodes' records."""
    focus_nodes = sorted({r.focus_term for r in results if isinstance(r.focus_term, URIRef)})
    rows: dict[Node, dict[str, Node | None]] = {}
    if focus_nodes:
        listed = " ".join(f"<{iri}>" for iri in focus_nodes if ">" not in iri and " " not in iri)
        for row in store.select(FOCUS_NAMES.replace("#NODES", listed)):
            known = rows.get(row["this"])  # type: ignore[arg-type]
            if known is None or (known.get("recordName") is None and row.get("recordName") is not None):
                rows[row["this"]] = row  # type: ignore[index]
    named = []
    for result in results:
        row = rows.get(result.focus_term, {"this": result.focus_term})  # type: ignore[arg-type]
        record, record_name = row.get("record"), row.get("recordName")
        named.append(
            replace(
                result,
                record=None if record is None else str(record),
                record_name=None if record_name is None else str(record_name),
                message=f"{_who(row)}: {result.detail}",
            )
        )
    return named


# Every subclass statement: a few dozen, from the ontology. The closure is walked here, not by a `+` path: Virtuoso 7
# cannot run a transitive path whose start comes from VALUES.
SUBCLASS_EDGES = """
SELECT DISTINCT ?subclass ?class WHERE { ?subclass <http://www.w3.org/2000/01/rdf-schema#subClassOf> ?class }"""


def subclasses(store: Selecting, classes: set[str]) -> dict[str, set[str]]:
    """Each class with its subclasses in the data (sh:class counts instances of subclasses too)."""
    closure: dict[str, set[str]] = {c: {c} for c in classes}
    if not classes:
        return closure
    direct: dict[str, set[str]] = {}
    for row in store.select(SUBCLASS_EDGES):
        if row["class"] is not None and row["subclass"] is not None:
            direct.setdefault(str(row["class"]), set()).add(str(row["subclass"]))
    for cls, found in closure.items():
        frontier = [cls]
        while frontier:
            for sub in direct.get(frontier.pop(), ()):
                if sub not in found:
                    found.add(sub)
                    frontier.append(sub)
    return closure


def run_checks(
    store: Selecting,
    queries: Iterable[Query],
    *,
    focus_in_records: bool = False,
    advance: Callable[[], None] | None = None,
    threads: int = 1,
) -> list[ValidationResult]:
    """Every violation of every check, each once (a node typed in two records is still one result). With `threads`
    above one, that many queries run at once (the engine runs them without Python's lock); the results are the
    same, in the same order."""
    queries = list(queries)
    closure = subclasses(store, {c for q in queries for c in q.classes()})
    # The lookup plans of shapes.py (see FOCUS_NODES) for a store in memory.
    lookups = getattr(backend_of(store), "location", None) == "memory:"  # type: ignore[arg-type]

    def answer(query: Query) -> SelectResult:
        # A check with a plan for few values (shapes.py FEW_VALUES) first counts its path's distinct values.
        probe = None if lookups else query.few_values_probe()
        few = probe is not None and _at_most_few(store.select(probe), query.few_values_limit)
        return store.select(
            query.sparql(focus_in_records=focus_in_records, subclasses=closure, lookups=lookups, few_values=few)
        )

    if threads <= 1:
        return _merged(queries, map(answer, queries), advance)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return _merged(queries, pool.map(answer, queries), advance)


def _at_most_few(counted: SelectResult, limit: int) -> bool:
    n = counted.rows[0][0] if counted.rows else None
    return n is not None and int(n) <= limit  # type: ignore[call-overload]


def _merged(
    queries: list[Query], answers: Iterable[SelectResult], advance: Callable[[], None] | None
) -> list[ValidationResult]:
    results: dict[tuple[object, ...], ValidationResult] = {}
    for query, answer in zip(queries, answers, strict=True):
        for row in answer:
            focus = row["this"]
            if focus is None:
                continue
            k = row.get("k")
            check = query.checks[int(k) if k is not None else 0]  # type: ignore[call-overload]
            key = (check.shape, check.constraint, check.component, check.parameter, focus, row.get("value"))
            # Prefer the row that names the focus node's record (a node may be mentioned in several graphs).
            known = results.get(key)
            if known is None or (known.record_name is None and row.get("recordName") is not None):
                results[key] = _result(check, row)
        if advance is not None:
            advance()
    return list(results.values())
