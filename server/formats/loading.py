"""Reading descriptor files (YAML or JSON) into plain data, remembering the line of every value.

Versions stay text: YAML reads an unquoted `version: 1.0` as the float 1.0, which would turn "1.10" into 1.1 and
fail every schema that wants a string, so scalars under version-like keys keep the text as written. Dates and
times also stay text, since the JSON Schemas describe them as strings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from server.errors import BadInput

JsonPath = tuple[str | int, ...]
DESCRIPTOR_SUFFIXES = (".yaml", ".yml", ".json")

_TEXT_TAGS = {"tag:yaml.org,2002:timestamp"}
_NUMBER_TAGS = {"tag:yaml.org,2002:float", "tag:yaml.org,2002:int"}
_VERSION_KEYS = {"dataproductdescriptor", "valuemesh"}


def is_version_key(key: object) -> bool:
    """Keys whose values are versions: `version`, `apiVersion`, `specificationVersion`, the format markers."""
    return isinstance(key, str) and (key.lower().endswith("version") or key.lower() in _VERSION_KEYS)


@dataclass
class LoadedDocument:
    """A descriptor's data and the 1-based line where each value starts (by JSON path)."""

    data: Any
    source: str
    lines: dict[JsonPath, int] = field(default_factory=dict)
    path: Path | None = None

    def line_of(self, path: JsonPath) -> int | None:
        """The line of the value at `path`, or of its nearest enclosing value."""
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]


def json_path(path: JsonPath) -> str:
    """`$.interfaceComponents.outputPorts[0].name` for a path of keys and indexes."""
    text = "$"
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else f".{step}"
    return text


class _Builder:
    def __init__(self) -> None:
        self.lines: dict[JsonPath, int] = {}
        self._constructor = SafeConstructor()

    def build(self, node: Node, path: JsonPath, key: object = None) -> Any:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, MappingNode):
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                name = self._constructor.construct_object(key_node, deep=True)
                name = str(name) if not isinstance(name, str) else name
                result[name] = self.build(value_node, (*path, name), name)
            return result
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        # YAML 1.1 also reads `9:30` as the sexagesimal number 570; a time of day is meant, so keep its text.
        sexagesimal = node.tag in _NUMBER_TAGS and ":" in node.value
        if node.tag in _TEXT_TAGS or sexagesimal or (node.tag in _NUMBER_TAGS and is_version_key(key)):
            return node.value
        return self._constructor.construct_object(node, deep=True)


def load_text(text: str, source: str, path: Path | None = None) -> LoadedDocument:
    """Parse YAML (JSON is YAML too); a syntax error becomes BadInput with its line and column."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = error.problem or str(error)
        if path is not None and path.suffix.lower() == ".json":
            return _load_json(text, source, path)
        raise BadInput(
            f"not valid YAML: {problem}",
            source=source,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from None
    except yaml.YAMLError as error:
        raise BadInput(f"not valid YAML: {error}", source=source) from None
    if node is None:
        raise BadInput("the document is empty", source=source)
    builder = _Builder()
    data = builder.build(node, ())
    return LoadedDocument(data, source, builder.lines, path)


def _load_json(text: str, source: str, path: Path) -> LoadedDocument:
    # Some JSON (tabs in indentation) is not YAML; read it as JSON then, without line numbers below the top.
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise BadInput(f"not valid JSON: {error.msg}", source=source, line=error.lineno, column=error.colno) from None
    return LoadedDocument(data, source, {(): 1}, path)


def load_file(path: Path) -> LoadedDocument:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise BadInput(f"cannot read file: {getattr(error, 'strerror', None) or error}", source=str(path)) from None
    return load_text(text, str(path), path)
