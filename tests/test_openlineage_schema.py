"""The compiled OpenLineage schema (server/openlineage/compiled_schema.py) gives jsonschema's verdict on every event:
the fixtures, and every variant of them with one field removed or given a value of another JSON type."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from server.openlineage.compiled_schema import SchemaCompiler, UnsupportedSchema
from server.openlineage.validation import schemas
from tests.lineage_events import EVENTS

OTHER_VALUES: list[Any] = [5, 2.5, "text", None, True, [], {}, [1], {"a": 1}]


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key)
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for position, item in enumerate(value):
            yield (*path, position)
            yield from _paths(item, (*path, position))


def _variants(event: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for path in _paths(event):
        for replacement in [..., *OTHER_VALUES]:
            variant = copy.deepcopy(event)
            holder = variant
            for part in path[:-1]:
                holder = holder[part]
            if replacement is ...:
                del holder[path[-1]]
            else:
                holder[path[-1]] = replacement
            yield variant


def _events() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in sorted(EVENTS.glob("*.json")):
        try:
            document = json.loads(path.read_text())
        except ValueError:
            continue  # malformed.json: not JSON at all
        found += document if isinstance(document, list) else [document]
    return found


def test_the_compiled_checks_agree_with_jsonschema_on_every_variant_of_the_fixtures() -> None:
    checks = schemas()
    compared = 0
    for event in _events():
        for variant in [event, *_variants(event)]:
            for kind, checked in checks.events.items():
                assert checked.fast(variant) == checked.validator.is_valid(variant), (kind, variant)
                compared += 1
    assert compared > 5000


def test_the_compiled_facet_checks_agree_with_jsonschema() -> None:
    checks = schemas()
    facet = json.loads((EVENTS / "hcp-360-run.json").read_text())[1]["outputs"][0]["facets"]["dataQualityAssertions"]
    for variant in [facet, *_variants(facet)]:
        for name, checked in checks.facets.items():
            assert checked.fast(variant) == checked.validator.is_valid(variant), (name, variant)


def test_a_schema_with_a_keyword_the_compiler_does_not_know_is_refused() -> None:
    compiler = SchemaCompiler({"urn:s": {"$defs": {"x": {"type": "string", "pattern": "^a"}}}})
    with pytest.raises(UnsupportedSchema, match="pattern"):
        compiler.reference("urn:s#/$defs/x", "urn:s")
