"""Reading descriptor files (YAML or JSON) into plain data, remembering the line of every value.

YAML aliases are counted as they are read: a few lines of nested aliases ("billion laughs") stand for billions of
values, so a document standing for more than `MAX_NODES` values once every alias is expanded, or using more than
`MAX_ALIASES` aliases, is refused with the line of the alias that went over, before anything is built from it.

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
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from server.errors import BadInput

JsonPath = tuple[str | int, ...]
DESCRIPTOR_SUFFIXES = (".yaml", ".yml", ".json")

# Far above any real descriptor (the largest shared example holds a few hundred values), far below what hurts.
MAX_NODES = 100_000
MAX_ALIASES = 1_000

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


class _OverBudget(Exception):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class _BudgetedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, counting the nodes the document stands for with every alias expanded.

    A node's expanded size is what composing it added to the running total, kept per node, so an alias costs one
    look-up however much it stands for; an alias to a node still being composed (a recursive document) is refused,
    as nothing built from it could end."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._expanded: dict[int, int] = {}  # id(node) -> values it stands for; the nodes live as long as this loader
        self._total = 0
        self._aliases = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(AliasEvent):
            event = self.peek_event()
            node = self.anchors.get(event.anchor)  # type: ignore[attr-defined]
            if node is not None:  # (an undefined one is PyYAML's error to report)
                self._count_alias(node, event.start_mark.line + 1)
            return super().compose_node(parent, index)
        before = self._total
        self._grow(1, self.peek_event().start_mark.line + 1)
        node = super().compose_node(parent, index)
        self._expanded[id(node)] = self._total - before
        return node

    def _count_alias(self, node: Node, line: int) -> None:
        self._aliases += 1
        if self._aliases > MAX_ALIASES:
            raise _OverBudget(f"more than {MAX_ALIASES:,} aliases; a descriptor needs a few at most", line)
        size = self._expanded.get(id(node))
        if size is None:
            raise _OverBudget("this alias refers to a node that contains it (a recursive document)", line)
        self._grow(size, line)

    def _grow(self, size: int, line: int) -> None:
        self._total += size
        if self._total > MAX_NODES and not self._aliases:
            raise _OverBudget(f"the document holds more than {MAX_NODES:,} values; a descriptor needs far fewer", line)
        if self._total > MAX_NODES:
            raise _OverBudget(
                f"the document stands for more than {MAX_NODES:,} values once its aliases are expanded "
                '(nested aliases, as in a "billion laughs" document); refused before expanding them',
                line,
            )


def load_text(text: str, source: str, path: Path | None = None) -> LoadedDocument:
    """Parse YAML (JSON is YAML too); a syntax error becomes BadInput with its line and column."""
    try:
        node = yaml.compose(text, Loader=_BudgetedLoader)
    except _OverBudget as over:
        raise BadInput(over.message, source=source, line=over.line) from None
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
