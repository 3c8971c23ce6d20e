"""The architects' query library: the documented `.rq` files of `queries/`, their parameters, and binding them.

Each file starts with a comment header: a title line, what it answers, a `Parameters:` list (`name  TYPE  text`,
"(optional)" in the text for optional ones) and an `Example:`. Parameter values become engine substitutions through
the store's `bindings=`; nothing is ever spliced into the query text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
from rdflib import Literal, URIRef
from rdflib.namespace import XSD
from rdflib.term import Node

from server.errors import BadInput, NotFound
from server.resources import queries_dir

_PARAMETER = re.compile(
    r"^#\s+(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s+(?P<type>IRI|string|integer|decimal|boolean)\s+(?P<text>.*)$"
)
_LITERAL_TYPES = {"integer": XSD.integer, "decimal": XSD.decimal, "boolean": XSD.boolean}


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str  # IRI, string, integer, decimal or boolean
    description: str

    @property
    def optional(self) -> bool:
        return "(optional" in self.description


@dataclass(frozen=True)
class LibraryQuery:
    """One `.rq` file of the library."""

    name: str
    title: str
    answers: str
    parameters: list[Parameter]
    example: str
    text: str
    path: Path

    def bindings(self, values: dict[str, str]) -> dict[str, Node]:
        """The engine substitutions for `--param name=value` pairs, checked against the declared parameters."""
        declared = {p.name: p for p in self.parameters}
        unknown = sorted(set(values) - set(declared))
        if unknown:
            known = ", ".join(declared) or "none"
            raise BadInput(f"query '{self.name}' has no parameter {', '.join(unknown)}; its parameters: {known}")
        missing = [p.name for p in self.parameters if not p.optional and p.name not in values]
        if missing:
            raise BadInput(
                f"query '{self.name}' needs --param {missing[0]}=... ({declared[missing[0]].description}); "
                f"example: {self.example}"
            )
        return {name: _term(declared[name], value) for name, value in values.items()}


def _term(parameter: Parameter, value: str) -> Node:
    if parameter.type == "IRI":
        try:
            ox.NamedNode(value)
        except ValueError:
            raise BadInput(f"--param {parameter.name}: {value!r} is not an IRI") from None
        if ":" not in value:
            raise BadInput(f"--param {parameter.name}: {value!r} is not an absolute IRI (e.g. https://...)")
        return URIRef(value)
    if parameter.type == "string":
        return Literal(value)
    literal = Literal(value, datatype=_LITERAL_TYPES[parameter.type])
    if not literal.ill_typed and literal.value is not None:
        return literal
    raise BadInput(f"--param {parameter.name}: {value!r} is not a valid {parameter.type}")


def parse_header(name: str, text: str, path: Path) -> LibraryQuery:
    """Read the documentation header of one library file."""
    comments = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        comments.append(line)
    title = comments[0].lstrip("# ").strip() if comments else name
    answers, parameters, example, section = [], [], [], "answers"
    for line in comments[1:]:
        body = line[1:].strip()
        if body == "Parameters:":
            section = "parameters"
        elif body == "Example:":
            section = "example"
        elif section == "answers" and body:
            answers.append(body.removeprefix("What it answers:").strip())
        elif section == "parameters" and (match := _PARAMETER.match(line)):
            parameters.append(Parameter(match["name"], match["type"], match["text"].strip()))
        elif section == "example" and body:
            example.append(body)
    return LibraryQuery(name, title, " ".join(answers), parameters, " ".join(example), text, path)


def library(directory: Path | None = None) -> dict[str, LibraryQuery]:
    """Every query of the library, by name (the file name without `.rq`)."""
    directory = directory or queries_dir()
    return {
        path.stem: parse_header(path.stem, path.read_text(encoding="utf-8"), path)
        for path in sorted(directory.glob("*.rq"))
    }


def library_query(name: str) -> LibraryQuery:
    """The named query, or NotFound listing the names there are."""
    queries = library()
    if name not in queries:
        raise NotFound(f"no query named '{name}' in the library; there are: {', '.join(queries)}")
    return queries[name]
