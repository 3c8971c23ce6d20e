"""Checking OpenLineage events against the 2-0-2 schema and the standard facets' schemas (vendored in `schema/`).

A request holds one event or an array of them. Every event is checked whole: the event schema (RunEvent, or
DatasetEvent / JobEvent, which carry no run), then each facet whose name is a standard facet against that facet's
schema, then what the schema leaves to formats (a zone on `eventTime`, a UUID `runId`). The first failure refuses
the whole request, naming the event's index and the failing field as a JSON pointer (RFC 6901).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any
from uuid import UUID

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource

from server.errors import BadInput
from server.openlineage.compiled_schema import Check, SchemaCompiler
from server.sparql_text import iri_ref

SPEC = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
VALUEMESH_FACET = "valuemesh"  # the run facet that names a product explicitly: {"dataProduct": IRI}


class EventRefused(BadInput):
    """An event the schema refuses; `index` is its place in the request, `pointer` the failing field within it."""

    def __init__(self, index: int, pointer: str, reason: str) -> None:
        self.index = index
        self.pointer = pointer
        self.reason = reason
        where = f"event {index}, at {pointer or '/'}"
        super().__init__(f"{where}: {reason}; nothing of this request was stored")


@dataclass(frozen=True)
class Checked:
    """One schema, twice: compiled for the verdict, jsonschema's validator for the error to report."""

    fast: Check
    validator: Draft202012Validator

    def first_error(self, instance: Any) -> ValidationError | None:
        if self.fast(instance):
            return None
        return best_match(self.validator.iter_errors(instance))


@dataclass(frozen=True)
class Schemas:
    """The event schemas and, by facet name, the schema of each standard facet."""

    events: dict[str, Checked]
    facets: dict[str, Checked]


def _schema_files() -> Iterator[dict[str, Any]]:
    root = resources.files("server.openlineage") / "schema"
    yield json.loads((root / "OpenLineage.json").read_text(encoding="utf-8"))
    for entry in sorted((root / "facets").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            yield json.loads(entry.read_text(encoding="utf-8"))


@cache
def schemas() -> Schemas:
    """Built once per process from the vendored files (they never change while it runs)."""
    documents = list(_schema_files())
    registry: Registry[Any] = Registry().with_resources(
        (document["$id"], Resource.from_contents(document)) for document in documents
    )

    compiler = SchemaCompiler({document["$id"]: document for document in documents})

    def validator(ref: str) -> Checked:
        return Checked(compiler.reference(ref, SPEC), Draft202012Validator({"$ref": ref}, registry=registry))

    events = {kind: validator(f"{SPEC}#/$defs/{kind}") for kind in ("RunEvent", "DatasetEvent", "JobEvent")}
    facets = {}
    for document in documents[1:]:
        for name, definition in (document.get("properties") or {}).items():
            target = definition.get("$ref", "")
            if target.startswith("#/"):
                facets[name] = validator(document["$id"] + target)
    return Schemas(events, facets)


def pointer_of(path: Iterator[Any] | Any) -> str:
    """A JSON pointer for a path of keys and indexes (`~` and `/` escaped as RFC 6901 says)."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def _refusal(index: int, prefix: str, error: ValidationError) -> EventRefused:
    return EventRefused(index, prefix + pointer_of(error.absolute_path), error.message)


def _kind(event: dict[str, Any]) -> str:
    if "run" in event or "eventType" in event:
        return "RunEvent"
    if "dataset" in event:
        return "DatasetEvent"
    return "JobEvent" if "job" in event else "RunEvent"


def _facet_places(event: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every facets object of an event with its pointer."""
    for key in ("run", "job", "dataset"):
        holder = event.get(key)
        if isinstance(holder, dict) and isinstance(holder.get("facets"), dict):
            yield f"/{key}/facets", holder["facets"]
    for side, extra in (("inputs", "inputFacets"), ("outputs", "outputFacets")):
        for position, dataset in enumerate(event.get(side) or []):
            for field in ("facets", extra):
                if isinstance(dataset, dict) and isinstance(dataset.get(field), dict):
                    yield f"/{side}/{position}/{field}", dataset[field]


def _check_formats(index: int, event: dict[str, Any]) -> None:
    """What the schema states as formats, which jsonschema does not check by default."""
    try:
        when = datetime.fromisoformat(event["eventTime"])
    except ValueError:
        raise EventRefused(index, "/eventTime", f"{event['eventTime']!r} is not an RFC 3339 date-time") from None
    if when.tzinfo is None:
        raise EventRefused(index, "/eventTime", f"{event['eventTime']!r} has no time zone (add Z or an offset)")
    run = event.get("run")
    if isinstance(run, dict):
        try:
            UUID(run["runId"])
        except ValueError:
            raise EventRefused(index, "/run/runId", f"{run['runId']!r} is not a UUID") from None
        facet = (run.get("facets") or {}).get(VALUEMESH_FACET)
        if facet is not None and not _usable_iri(facet.get("dataProduct")):
            raise EventRefused(
                index,
                f"/run/facets/{VALUEMESH_FACET}/dataProduct",
                "the valuemesh run facet needs dataProduct, the IRI of the data product the run belongs to",
            )


def _usable_iri(value: Any) -> bool:
    if not isinstance(value, str) or "://" not in value:
        return False
    try:
        iri_ref(value)
    except ValueError:
        return False
    return True


def check_event(index: int, event: Any) -> str:
    """Raise EventRefused unless `event` is a valid OpenLineage event; its kind (RunEvent, DatasetEvent, JobEvent)."""
    if not isinstance(event, dict):
        raise EventRefused(index, "", f"an event is a JSON object, not {type(event).__name__}")
    checks = schemas()
    kind = _kind(event)
    error = checks.events[kind].first_error(event)
    if error is not None:
        raise _refusal(index, "", error)
    for prefix, facets in _facet_places(event):
        for name, facet in facets.items():
            facet_check = checks.facets.get(name)
            if facet_check is None:
                continue  # a custom facet: the event schema checked its _producer and _schemaURL
            error = facet_check.first_error(facet)
            if error is not None:
                raise _refusal(index, prefix + pointer_of([name]), error)
    _check_formats(index, event)
    return kind


def parse_events(body: bytes) -> list[Any]:
    """The events of a request body: one JSON object, or an array of them (BadInput naming where JSON breaks)."""
    try:
        document = json.loads(body)
    except UnicodeDecodeError:
        raise BadInput("the body is not UTF-8 text; send OpenLineage events as JSON") from None
    except json.JSONDecodeError as error:
        raise BadInput(
            f"malformed JSON: {error.msg}; nothing was stored", source="body", line=error.lineno, column=error.colno
        ) from None
    if isinstance(document, list):
        if not document:
            raise BadInput("the array holds no event; send one event or an array of them")
        return document
    return [document]


__all__ = ["VALUEMESH_FACET", "EventRefused", "check_event", "parse_events", "pointer_of", "schemas"]
