"""What the merged query of checks on value nodes (shapes.py `_merged_values`) tests on each value of a path: every
check on the path at once, with as few readings of the value's text as the checks allow.

On disk, the engine reads a value's text from the store's dictionary of strings for each mention of the value in an
expression: about 4 µs a reading once RocksDB has compacted the store, 15 µs on a store just bulk-loaded, against a
fraction of a microsecond for each statement the scan that found the value reads. Comparing the value term for term (sameTerm with a constant) reads nothing: the engine compares
the identifiers it stores."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from server.namespaces import SH

# sameTerm(?value, <iri>) or sameTerm(?value, "literal"...), as conditions.term and shapes._sparql_term write them.
_SAME_TERM = re.compile(
    r"sameTerm\(\?value, (?:<[^<>\"\s]*>|_:[A-Za-z0-9_.-]+|\"(?:[^\"\\]|\\.)*\"(?:@[A-Za-z0-9-]+|\^\^<[^<>\"\s]*>)?)\)"
)
_MIN_LENGTH, _MAX_LENGTH = str(SH.MinLengthConstraintComponent), str(SH.MaxLengthConstraintComponent)


class ValueCheck(Protocol):
    """What any_fails reads of a check (shapes.Check)."""

    @property
    def component(self) -> str: ...
    @property
    def parameter(self) -> object: ...
    @property
    def violation(self) -> str | None: ...


def reads_value(expression: str) -> bool:
    """Whether evaluating `expression` reads ?value's text: anything but term-for-term comparisons with constants."""
    return "?value" in _SAME_TERM.sub("", expression)


def any_fails(checks: Sequence[ValueCheck]) -> str:
    """An expression true when ?value violates some of `checks` (each with a `violation`). A minimum and a maximum
    length on the path are one test of the distance to the middle of the allowed range, so the value's length is
    read once: lo <= n <= hi exactly when |2n - (lo + hi)| <= hi - lo (every value fails when lo > hi)."""
    lows = [int(str(c.parameter)) for c in checks if c.component == _MIN_LENGTH]
    highs = [int(str(c.parameter)) for c in checks if c.component == _MAX_LENGTH]
    tests = [str(c.violation) for c in checks if not (lows and highs and c.component in (_MIN_LENGTH, _MAX_LENGTH))]
    if lows and highs:
        low, high = max(lows), min(highs)
        # STR of a blank node is an error: a violation under COALESCE, as each length check alone says.
        tests.insert(0, f"!COALESCE(ABS(2 * STRLEN(STR(?value)) - {low + high}) <= {high - low}, false)")
    return " || ".join(f"({test})" for test in tests)
