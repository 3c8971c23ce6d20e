"""SPARQL mistakes said in words a person can act on: an undeclared prefix by name, a misspelt keyword as a syntax
error (not as "not a query"), an update as what it is. Read with the tokenizer of `sparql_text`."""

from __future__ import annotations

import re

from server.errors import BadInput
from server.namespaces import PREFIXES
from server.sparql_text import query_form, tokens

UPDATE_KEYWORDS = frozenset({"INSERT", "DELETE", "DROP", "CLEAR", "LOAD", "CREATE", "ADD", "MOVE", "COPY", "WITH"})


def _line_column(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def undeclared_prefix(text: str) -> BadInput | None:
    """The first prefixed name whose prefix no PREFIX declares, as BadInput with its place and the fix."""
    declared: set[str] = set()
    expecting_prefix = False
    for token in tokens(text):
        if token.kind in ("space", "comment"):
            continue
        if token.kind == "word" and token.text.upper() == "PREFIX":
            expecting_prefix = True
            continue
        if token.kind == "pname" and token.prefix is not None:
            if expecting_prefix:
                declared.add(token.prefix)
            elif token.prefix not in declared:
                line, column = _line_column(text, token.start)
                known = PREFIXES.get(token.prefix)
                fix = (
                    f"add PREFIX {token.prefix}: <{known}>"
                    if known
                    else f"declare it with PREFIX {token.prefix}: <...>"
                )
                return BadInput(
                    f"undeclared prefix {token.prefix}: in {token.text}; {fix}",
                    source="query",
                    line=line,
                    column=column,
                )
        expecting_prefix = False
    return None


def not_a_query(text: str) -> BadInput:
    """Why a text whose form is none of SELECT, ASK, CONSTRUCT, DESCRIBE is refused."""
    for token in tokens(text):
        if token.kind in ("space", "comment", "iri", "pname", "string"):
            continue
        keyword = token.text.upper()
        if keyword in ("BASE", "PREFIX", "VERSION"):
            continue
        line, column = _line_column(text, token.start)
        if keyword in UPDATE_KEYWORDS:
            return BadInput(
                f"{keyword} is a SPARQL update; queries here only read (SELECT, ASK, CONSTRUCT, DESCRIBE), and the "
                "catalog is changed only through its validated write path (`valuemesh load`, the GraphQL mutations)",
                source="query",
                line=line,
                column=column,
            )
        return BadInput(
            f"SPARQL syntax error: a query starts with SELECT, ASK, CONSTRUCT or DESCRIBE, not {token.text!r}",
            source="query",
            line=line,
            column=column,
        )
    return BadInput("SPARQL syntax error: the query is empty")


def explain_syntax_error(text: str, engine_message: str) -> BadInput:
    """The engine's syntax error, unless the text shows a plainer cause (an undeclared prefix, no query form); an
    engine message listing every character it would have taken is said in fewer words."""
    if query_form(text) is None:
        return not_a_query(text)
    plainer = undeclared_prefix(text)
    if plainer is not None:
        return plainer
    place = re.match(r"error at (\d+):(\d+): (.*)", engine_message, re.DOTALL)
    if place is None:
        return BadInput(f"malformed SPARQL: {engine_message}", source="query")
    line, column, said = int(place.group(1)), int(place.group(2)), place.group(3)
    if len(said) > 120:
        rest = text.splitlines()[line - 1][column - 1 :] if line <= len(text.splitlines()) else ""
        said = f"unexpected {rest[:20]!r}" if rest.strip() else "the query ends too early (an unclosed bracket?)"
    return BadInput(f"malformed SPARQL: {said}", source="query", line=line, column=column)
