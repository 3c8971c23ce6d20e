"""Checking a descriptor against its JSON Schema before anything is mapped, with the location of each error.

valuemesh ships schemas of its own (in `schemas/`): the full one of its YAML descriptor, and structural ones for
the parts of ODPS, ODCS and DPDS it maps. The standards' official schemas are not part of the project; when a
directory holding them is given (`--standard-schemas DIR` or `VALUEMESH_STANDARD_SCHEMAS`), each document is also
checked against its official schema in full. Official schemas are recognised by their title or `$id`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from server.errors import BadInput
from server.formats.loading import LoadedDocument, json_path

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
BUNDLED = {
    "valuemesh": "valuemesh-data-product.schema.json",
    "odps": "odps-structure.schema.json",
    "odcs": "odcs-structure.schema.json",
    "dpds": "dpds-structure.schema.json",
}
FORMAT_NAMES = {"valuemesh": "valuemesh 1.0", "odps": "ODPS v1.0", "odcs": "ODCS v3.1", "dpds": "DPDS 1.0"}
MAX_REPORTED = 20


@dataclass(frozen=True)
class SchemaProblem:
    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path} (line {self.line})" if self.line else self.path
        return f"{where}: {self.message}"


class DescriptorInvalid(BadInput):
    """A descriptor that fails its schema; every problem carries its JSON path and line."""

    def __init__(self, source: str, schema_name: str, problems: list[SchemaProblem]) -> None:
        self.problems = problems
        listed = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"does not match the {schema_name} schema:\n{listed}", source=source, line=problems[0].line)


def bundled_schema_path(kind: str) -> Path:
    return SCHEMA_DIR / BUNDLED[kind]


@cache
def _read_schema(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def _kind_of_official(schema: dict[str, Any]) -> str | None:
    title = str(schema.get("title", ""))
    if "Open Data Product Standard" in title:
        return "odps"
    if "Open Data Contract Standard" in title:
        return "odcs"
    if str(schema.get("$id", "")).startswith("https://dpds.opendatamesh.org/"):
        return "dpds"
    return None


@cache
def official_schemas(directory: Path) -> dict[str, Path]:
    """The official schemas found under `directory`, by the format they describe."""
    if not directory.is_dir():
        raise BadInput("the standard schemas directory does not exist", source=str(directory))
    found: dict[str, Path] = {}
    for path in sorted(directory.rglob("*.json")):
        try:
            schema = _read_schema(path)
        except (OSError, ValueError):
            continue
        kind = _kind_of_official(schema) if isinstance(schema, dict) else None
        if kind and kind not in found:
            found[kind] = path
    return found


def standard_schema_dir(given: Path | None) -> Path | None:
    if given is not None:
        return given
    configured = os.environ.get("VALUEMESH_STANDARD_SCHEMAS")
    return Path(configured) if configured else None


def problems_against(schema: dict[str, Any], document: LoadedDocument, data: Any = None) -> list[SchemaProblem]:
    validator_class = jsonschema.validators.validator_for(schema)
    validator = validator_class(schema)
    instance = document.data if data is None else data
    errors = sorted(validator.iter_errors(instance), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    return [
        SchemaProblem(json_path(tuple(e.absolute_path)), document.line_of(tuple(e.absolute_path)), e.message)
        for e in errors[:MAX_REPORTED]
    ]


def check_document(document: LoadedDocument, kind: str, official_dir: Path | None = None) -> None:
    """Raise DescriptorInvalid unless the document matches our schema for `kind` (and the official one, if given)."""
    problems = problems_against(_read_schema(bundled_schema_path(kind)), document)
    if problems:
        raise DescriptorInvalid(document.source, f"{FORMAT_NAMES[kind]} (valuemesh)", problems)
    directory = standard_schema_dir(official_dir)
    if directory is not None and kind != "valuemesh":
        official = official_schemas(directory).get(kind)
        if official is not None:
            problems = problems_against(_read_schema(official), document)
            if problems:
                raise DescriptorInvalid(document.source, f"official {FORMAT_NAMES[kind]}", problems)
