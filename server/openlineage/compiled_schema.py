"""A JSON Schema compiled to nested Python checks: the yes/no answer for an event, some thirty times faster than
jsonschema's validator (which re-resolves and re-wraps the schema at every step; bench/bench_lineage_ingest.py).

Only a valid/invalid verdict: when it says invalid, validation.py asks jsonschema for the error to report, so
messages and pointers are jsonschema's own, and a test checks both agree on good and bad events. It understands
the keywords the vendored OpenLineage schemas use and refuses, when compiling, a schema with any other, so a future
schema with a keyword it does not know can never be waved through.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any], bool]

# Keywords that only annotate: they never change whether an instance is valid.
ANNOTATIONS = frozenset(
    {"$schema", "$id", "$defs", "$comment", "description", "example", "examples", "title", "default", "deprecated",
     "format",  # jsonschema asserts no format by default either; validation.py checks the ones that matter
     "documentation"}  # not a JSON Schema keyword: LifecycleStateChangeDatasetFacet.json writes it for description
)  # fmt: skip

_TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer()),
}


class UnsupportedSchema(ValueError):
    """The schema uses a keyword this compiler does not know."""


class SchemaCompiler:
    """Compiles schemas whose `$ref`s resolve among `documents` (by `$id`); each reference is compiled once."""

    def __init__(self, documents: Mapping[str, Any]) -> None:
        self.documents = documents
        self._compiled: dict[str, Check] = {}

    def reference(self, ref: str, base: str) -> Check:
        url, _, fragment = ref.partition("#")
        url = url or base
        key = f"{url}#{fragment}"
        if key not in self._compiled:
            slot: list[Check] = []
            self._compiled[key] = lambda v: slot[0](v)  # a cycle reaches the slot, filled below
            node = self.documents[url]
            for part in (p for p in fragment.split("/") if p):
                node = node[part.replace("~1", "/").replace("~0", "~")]
            slot.append(self.compile(node, url))
            self._compiled[key] = slot[0]
        return self._compiled[key]

    def compile(self, schema: Any, base: str) -> Check:
        if schema is True:
            return lambda v: True
        if schema is False:
            return lambda v: False
        checks = [self._keyword(name, value, schema, base) for name, value in schema.items() if name not in ANNOTATIONS]
        return _all_of(checks)

    def _keyword(self, name: str, value: Any, schema: Mapping[str, Any], base: str) -> Check:
        if name == "$ref":
            return self.reference(value, base)
        if name == "type":
            if isinstance(value, str):
                return _TYPES[value]
            kinds = [_TYPES[t] for t in value]
            return lambda v: any(kind(v) for kind in kinds)
        if name == "enum":
            return lambda v: any(_equal(v, option) for option in value)
        if name == "const":
            return lambda v: _equal(v, value)
        if name == "minimum":
            return lambda v: not _TYPES["number"](v) or v >= value
        if name == "required":
            return lambda v: not isinstance(v, dict) or all(key in v for key in value)
        if name == "dependentRequired":
            return lambda v: (
                not isinstance(v, dict) or all(all(d in v for d in deps) for key, deps in value.items() if key in v)
            )
        if name == "properties":
            props = {key: self.compile(sub, base) for key, sub in value.items()}
            return lambda v: not isinstance(v, dict) or all(check(v[k]) for k, check in props.items() if k in v)
        if name == "additionalProperties":
            known = set(schema.get("properties") or {})
            extra = self.compile(value, base)
            if schema.get("patternProperties"):
                raise UnsupportedSchema("additionalProperties beside patternProperties")
            return lambda v: not isinstance(v, dict) or all(extra(item) for k, item in v.items() if k not in known)
        if name == "items":
            each = self.compile(value, base)
            return lambda v: not isinstance(v, list) or all(each(item) for item in v)
        if name in ("allOf", "anyOf", "oneOf"):
            parts = [self.compile(sub, base) for sub in value]
            if name == "allOf":
                return _all_of(parts)
            if name == "anyOf":
                return lambda v: any(part(v) for part in parts)
            return lambda v: sum(1 for part in parts if part(v)) == 1
        if name == "not":
            negated = self.compile(value, base)
            return lambda v: not negated(v)
        raise UnsupportedSchema(f"the keyword {name!r} (at {base}) is not one this compiler knows")


def _all_of(checks: list[Check]) -> Check:
    """All of `checks`; the common short lists without a generator per call (this runs for every event)."""
    if not checks:
        return lambda v: True
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda v: first(v) and second(v)
    return lambda v: all(check(v) for check in checks)


def _equal(value: Any, expected: Any) -> bool:
    """JSON equality: `true` is not `1`."""
    return isinstance(value, bool) == isinstance(expected, bool) and value == expected


__all__ = ["Check", "SchemaCompiler", "UnsupportedSchema"]
