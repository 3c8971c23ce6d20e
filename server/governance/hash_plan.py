"""SPARQL constraints planned for a whole catalog on disk: every pattern scanned once and joined by hash.

Oxigraph joins a triple pattern that follows bound variables by looking each binding up in its indexes, one lookup
per row; on the on-disk store a lookup costs tens of microseconds, so a constraint over every product makes tens of
thousands. A pattern in a subquery of its own is scanned once and joined by hash instead, and a MINUS is an
anti-join by hash. `hash_plan` rewrites a constraint's WHERE clause that way when its top level is simple (triple
patterns, FILTERs, OPTIONAL groups of triple patterns), and leaves anything else as written (None).

The rewrite gives the same solutions, by SPARQL's algebra:
- a basic graph pattern is the join of its triple patterns, and `{ SELECT * WHERE { tp } }` is `tp` (every
  variable projected; no blank node, whose scope is the whole pattern, is allowed);
- `OPTIONAL { bgp }` is a left join with the group evaluated on its own: wrapping it in `SELECT *` changes nothing
  when it holds no FILTER (which could see the outer variables);
- `FILTER NOT EXISTS { bgp }` equals `MINUS { bgp }` when the two share at least one variable and every shared
  variable is bound in every outer solution (it occurs in a top-level triple pattern), and `bgp` has no FILTER.
Small stores (a write's scratch store in memory) keep the query as written, where lookups are the cheaper plan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(
    r'(?P<string>"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\')'
    r"|(?P<iri><[^\s<>\"{}|^`\\]*>)"
    r"|(?P<var>[?$][A-Za-z0-9_\u00B7\u00C0-\uFFFF]+)"
    r"|(?P<comment>#[^\n]*)"
    r"|(?P<space>\s+)"
    r"|(?P<datatype>\^\^)"
    r"|(?P<lang>@[A-Za-z]+(?:-[A-Za-z0-9]+)*)"
    r"|(?P<number>[+-]?(?:\d*\.\d+(?:[eE][+-]?\d+)?|\d+(?:\.\d*)?[eE][+-]?\d+|\d+))"
    r"|(?P<name>(?:[A-Za-z][\w.-]*)?:(?:[\w\-.:%\\]*[\w\-:%\\])?|[A-Za-z_][\w-]*)"
    r"|(?P<punct>[{}()\[\].;,!=<>&|*/+^-])"
)
_WHERE = re.compile(r"WHERE", re.IGNORECASE)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    start: int
    end: int


def _tokens(text: str) -> list[_Token] | None:
    found: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            return None
        kind = match.lastgroup or ""
        if kind not in ("space", "comment"):
            found.append(_Token(kind, match.group(0), match.start(), match.end()))
        position = match.end()
    return found


def _is_term(token: _Token) -> bool:
    """A term a triple pattern may hold here: no blank node (`_:b`, `[]`) and no collection."""
    if token.kind in ("iri", "var", "string", "number"):
        return True
    return token.kind == "name" and not token.text.startswith("_:") and (":" in token.text or token.text in _WORDS)


_WORDS = {"true", "false"}


def _is_predicate(token: _Token) -> bool:
    """An IRI, a prefixed name, `a` or a variable: no property path."""
    return token.kind in ("iri", "var") or (token.kind == "name" and (":" in token.text or token.text == "a"))


def _literal_end(tokens: list[_Token], i: int) -> int:
    """The index after a term starting at `i`, with a literal's language tag or datatype."""
    if tokens[i].kind == "string" and i + 1 < len(tokens):
        if tokens[i + 1].kind == "lang":
            return i + 2
        if tokens[i + 1].kind == "datatype" and i + 2 < len(tokens) and tokens[i + 2].kind in ("iri", "name"):
            return i + 3
    return i + 1


@dataclass(frozen=True)
class _Triple:
    subject: str
    predicate: str
    object: str
    variables: frozenset[str]

    def pattern(self) -> str:
        return f"{self.subject} {self.predicate} {self.object} ."


def _triples(tokens: list[_Token], i: int, text: str) -> tuple[list[_Triple], int] | None:
    """The triple patterns of a block starting at `i` (subject, then predicate-object lists), and where it ends."""
    found: list[_Triple] = []
    while i < len(tokens) and _is_term(tokens[i]) and tokens[i].kind != "string":
        subject, i = tokens[i], i + 1
        while True:
            if i >= len(tokens):
                return None
            predicate = tokens[i]
            if not _is_predicate(predicate):
                return None
            i += 1
            while True:
                if i >= len(tokens) or not _is_term(tokens[i]):
                    return None
                end = _literal_end(tokens, i)
                obj = text[tokens[i].start : tokens[end - 1].end]
                names = {t.text[1:] for t in (subject, predicate, tokens[i]) if t.kind == "var"}
                found.append(_Triple(subject.text, predicate.text, obj, frozenset(names)))
                i = end
                if i < len(tokens) and tokens[i].text == ",":
                    i += 1
                    continue
                break
            if i < len(tokens) and tokens[i].text == ";":
                i += 1
                if i < len(tokens) and tokens[i].text in (".", "}"):
                    break
                continue
            break
        if i < len(tokens) and tokens[i].text == ".":
            i += 1
    return found, i


def _closing(tokens: list[_Token], i: int, opening: str, closing: str) -> int | None:
    """The index after the bracket that closes the one at `i`."""
    depth = 0
    for j in range(i, len(tokens)):
        if tokens[j].text == opening:
            depth += 1
        elif tokens[j].text == closing:
            depth -= 1
            if depth == 0:
                return j + 1
    return None


def _group_triples(tokens: list[_Token], i: int, text: str) -> tuple[list[_Triple], int] | None:
    """A group `{ ... }` at `i` holding only triple patterns, and the index after it."""
    if i >= len(tokens) or tokens[i].text != "{":
        return None
    parsed = _triples(tokens, i + 1, text)
    if parsed is None or parsed[1] >= len(tokens) or tokens[parsed[1]].text != "}" or not parsed[0]:
        return None
    return parsed[0], parsed[1] + 1


def hash_plan(select: str) -> str | None:
    """`select` with its top-level patterns joined by hash (see the module's docstring), or None when its WHERE
    clause holds anything but triple patterns, FILTERs and OPTIONAL groups of triple patterns."""
    tokens = _tokens(select)
    if tokens is None:
        return None
    opening = next((i for i, t in enumerate(tokens) if t.kind == "name" and _WHERE.fullmatch(t.text)), None)
    if opening is None or opening + 1 >= len(tokens) or tokens[opening + 1].text != "{":
        return None
    opening += 1
    end = _closing(tokens, opening, "{", "}")
    if end is None:
        return None
    triples: list[_Triple] = []  # every top-level triple pattern: their variables are bound in every solution
    parts: list[str | list[_Triple]] = []  # in the order written: OPTIONAL does not commute with what follows it
    filters: list[str] = []  # a FILTER applies to its whole group, wherever it is written
    absent: list[list[_Triple]] = []
    maybe: set[str] = set()  # the variables of OPTIONAL groups, unbound in some solutions
    i = opening + 1
    while i < end - 1:
        token = tokens[i]
        keyword = token.text.upper() if token.kind == "name" else ""
        if keyword == "OPTIONAL":
            group = _group_triples(tokens, i + 1, select)
            if group is None:
                return None
            optional = group[0]
            maybe.update(*(t.variables for t in optional))
            parts.append(
                optional if any("this" in t.variables for t in optional) else _written(select, tokens, i, group[1])
            )
            i = group[1]
        elif keyword == "FILTER":
            after = i + 1
            words = [t.text.upper() for t in tokens[after : after + 2]]
            if words == ["NOT", "EXISTS"]:
                group = _group_triples(tokens, after + 2, select)
                if group is not None:
                    absent.append(group[0])
                    i = group[1]
                    continue
                close = _closing(tokens, after + 2, "{", "}")
            elif words[:1] == ["EXISTS"]:
                close = _closing(tokens, after + 1, "{", "}")
            elif after < len(tokens) and tokens[after].text == "(":
                close = _closing(tokens, after, "(", ")")
            elif after + 1 < len(tokens) and tokens[after].kind == "name" and tokens[after + 1].text == "(":
                close = _closing(tokens, after + 1, "(", ")")
            else:
                return None
            if close is None or close > end - 1:
                return None
            filters.append(_written(select, tokens, i, close))
            i = close
        else:
            block = _triples(tokens, i, select)
            if block is None or block[1] == i:
                return None
            triples.extend(block[0])
            parts.extend(f"{{ SELECT * WHERE {{ {t.pattern()} }} }}" for t in block[0])
            i = block[1]
    if not triples and not absent and all(isinstance(part, str) for part in parts):
        return None  # nothing to plan differently
    bound = {"this"}.union(*(t.variables for t in triples))
    written = [part if isinstance(part, str) else f"OPTIONAL {{ SELECT * WHERE {{ {_bgp(part)} }} }}" for part in parts]
    for pattern in absent:
        inner: set[str] = set().union(*(t.variables for t in pattern))
        if inner & bound and not inner & (maybe - bound):
            written.append(f"MINUS {{ {_bgp(pattern)} }}")
        else:
            filters.append(f"FILTER NOT EXISTS {{ {_bgp(pattern)} }}")
    rewritten = " ".join([*written, *filters])
    return select[: tokens[opening].end] + " " + rewritten + " " + select[tokens[end - 1].start :]


def _bgp(triples: list[_Triple]) -> str:
    """A group's triple patterns, each scanned once and joined by hash (as at the top level) when there are several."""
    if len(triples) == 1:
        return triples[0].pattern()
    return " ".join(f"{{ SELECT * WHERE {{ {t.pattern()} }} }}" for t in triples)


def _written(text: str, tokens: list[_Token], first: int, after: int) -> str:
    """The text of tokens[first:after] as written."""
    return text[tokens[first].start : tokens[after - 1].end]
