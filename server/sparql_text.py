"""Small facts about SPARQL text that the faces need before running it, without splicing anything into it.

The SERVICE check reads the text the way the engine does, with one tokenizer that knows strings, long strings, IRIs,
comments, variables, blank node labels and prefixed names, where `\\u`/`\\U` escapes are read inside strings and
IRIs only (Oxigraph 0.5 as built for pyoxigraph). A server that follows SPARQL 1.1 section 19.2 instead applies
those escapes to the whole text before the grammar: the check reads that text too, so a keyword hidden from one
reading is found by the other. The one place where the grammar, not the characters, decides what a token is: `<`
inside parentheses right after an operand may be the less-than operator or the start of an IRI. There both
readings are followed as well.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from server.errors import BadInput

SERVICE_REFUSED = (
    "SERVICE is refused: this endpoint answers from the catalog only and never sends requests to other servers"
)

# --- the escape step -----------------------------------------------------------------------------------------


def unescape_codepoints(text: str) -> str:
    r"""`\uXXXX` and `\UXXXXXXXX` replaced by their characters, as SPARQL 1.1 section 19.2 asks before the grammar.

    This follows the reference implementation of that step in Oxigraph's parser (an optional feature there).

    Its quirks are kept on purpose, since the check must read what the engine reads: a backslash that does not start
    an escape is written and the character after it read again (`\\u0041` gives `\A`); an escape's digits may
    start with `+`; an invalid escape stays as written."""
    if "\\u" not in text and "\\U" not in text:
        return text
    out: list[str] = []
    held: list[str] = []  # characters taken from the text that are to be read again
    chars = iter(text)
    while True:
        if held:
            c = held.pop(0)
        else:
            next_char = next(chars, None)
            if next_char is None:
                break
            c = next_char
        if c != "\\":
            out.append(c)
            continue
        after = next(chars, None)
        if after is None:
            out.append("\\")
        elif after not in "uU":
            held.append(after)
            out.append("\\")
        else:
            held.append(after)
            out.append(_take_escape(chars, held, 4 if after == "u" else 8))
    return "".join(out)


def _take_escape(chars: Iterator[str], held: list[str], width: int) -> str:
    """The escaped character, or a backslash with the digits left held to be written as they are."""
    for _ in range(width):
        digit = next(chars, None)
        if digit is None:
            return "\\"
        held.append(digit)
    decoded = _codepoint("".join(held[1:]))
    if decoded is None:
        return "\\"
    held.clear()
    return decoded


def _codepoint(digits: str) -> str | None:
    # Rust's u32::from_str_radix: hex digits, optionally after one '+'.
    body = digits[1:] if digits.startswith("+") else digits
    if not body or not all(d in "0123456789abcdefABCDEF" for d in body):
        return None
    value = int(body, 16)
    if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:  # not a Rust char
        return None
    return chr(value)


# --- the tokenizer -------------------------------------------------------------------------------------------

_BASE = (
    "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d\u2070-\u218f"
    "\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff"
)
_U = _BASE + "_"
_CHARS = _U + "\\-0-9\u00b7\u0300-\u036f\u203f-\u2040"
_PLX = r"(?:%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%])"
_PREFIX = f"[{_BASE}](?:[{_CHARS}.]*[{_CHARS}])?"
_LOCAL = f"(?:[{_U}:0-9]|{_PLX})(?:(?:[{_CHARS}.:]|{_PLX})*(?:[{_CHARS}:]|{_PLX}))?"
_ECHAR = r"\\[tbnrf\\\"']|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8}"


# Possessive loops, as the engine's PEG grammar never gives back what a repetition took. Compiled on first use (the
# character classes take a tenth of a second to compile): most commands only quote IRIs and never tokenize.
@functools.cache
def _token_patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    return (
        ("space", re.compile(r"[ \t\r\n]+")),
        ("comment", re.compile(r"#[^\r\n]*")),
        ("string", re.compile(f"'''(?:(?:'|'')?(?:[^'\\\\]|{_ECHAR}))*+'''")),
        ("string", re.compile(f'"""(?:(?:"|"")?(?:[^"\\\\]|{_ECHAR}))*+"""')),
        ("string", re.compile(f"'(?:[^'\\\\\\n\\r]|{_ECHAR})*+'")),
        ("string", re.compile(f'"(?:[^"\\\\\\n\\r]|{_ECHAR})*+"')),
        ("var", re.compile(f"[?$][{_U}0-9][{_U}0-9\u00b7\u0300-\u036f\u203f-\u2040]*+")),
        ("bnode", re.compile(f"_:[{_U}0-9](?:[{_CHARS}.]*[{_CHARS}])?")),
        ("pname", re.compile(f"(?P<prefix>{_PREFIX})?:(?:{_LOCAL})?")),
        ("number", re.compile(r"[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?")),
        ("word", re.compile(r"\w+")),
        ("langtag", re.compile(r"@[a-zA-Z]+(?:-[a-zA-Z0-9]+)*(?:--[a-zA-Z]+)?")),
        ("punct", re.compile(r"\^\^|<=|>=|!=|&&|\|\||\{\||\|\}|.", re.DOTALL)),
    )


_IRI = re.compile(r"<(?:[^<>\"{}|^`\\\x00-\x20]|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8})*+>")
_OPERAND_ENDS = frozenset({"var", "iri", "pname", "number", "string", "langtag", "word", "bnode"})
_OPENERS = {"{": "{", "{|": "{", "(": "(", "[": "["}
_CLOSERS = {"}": "{", "|}": "{", ")": "(", "]": "["}
# Each ambiguous `<` doubles the readings; a real query has a handful. Past this the query is refused, not guessed.
MAX_READINGS = 2048


@dataclass(frozen=True)
class Token:
    kind: str  # space, comment, string, var, bnode, pname, number, word, langtag, iri, punct
    text: str
    start: int
    prefix: str | None = None  # a prefixed name's prefix


@dataclass(frozen=True)
class _Reading:
    """Where a reading of the text stands: position, open brackets, and whether an operand just ended."""

    position: int
    frames: tuple[str, ...]
    after_operand: bool


def _advance(text: str, reading: _Reading, ambiguous_lt: str) -> tuple[list[Token], list[_Reading]]:
    """Tokens from `reading` up to the next point where the grammar decides, and the readings that go on from it.

    `ambiguous_lt` says what to do at `<` inside parentheses after an operand: "both" (branch), "iri"."""
    tokens: list[Token] = []
    position, frames, after_operand = reading.position, list(reading.frames), reading.after_operand
    while position < len(text):
        if text[position] == "<":
            iri = _IRI.match(text, position)
            if iri is not None:
                in_expression = bool(frames) and frames[-1] == "(" and after_operand
                if in_expression and ambiguous_lt == "both":
                    return tokens, [
                        _Reading(iri.end(), tuple(frames), True),
                        _Reading(position + 1, tuple(frames), False),
                    ]
                tokens.append(Token("iri", iri.group(), position))
                position, after_operand = iri.end(), True
                continue
        for kind, pattern in _token_patterns():
            match = pattern.match(text, position)
            if match is None:
                continue
            token = Token(kind, match.group(), position, match.groupdict().get("prefix"))
            break
        tokens.append(token)
        position += len(token.text)
        if token.kind in ("space", "comment"):
            continue
        if token.text in _OPENERS:
            frames.append(_OPENERS[token.text])
        elif token.text in _CLOSERS and frames and frames[-1] == _CLOSERS[token.text]:
            frames.pop()
        after_operand = token.kind in _OPERAND_ENDS or token.text in (")", "]")
    return tokens, []


def tokens(text: str) -> Iterator[Token]:
    """The tokens of one reading of `text`: escapes read inside strings and IRIs, every ambiguous `<` as an IRI."""
    found, _ = _advance(text, _Reading(0, (), False), ambiguous_lt="iri")
    yield from found


def _is_service_keyword(token: Token) -> bool:
    # The engine matches keywords ASCII-case-insensitively and needs no space around them (`trueSERVICEsilent`,
    # `SERVICE:x` read as SERVICE and `:x`), so any word or prefix holding the letters counts.
    if token.kind == "word":
        return "service" in token.text.lower()
    if token.kind == "pname":
        return token.prefix is not None and "service" in token.prefix.lower()
    return False


def refuse_service(text: str) -> None:
    """Raise ServiceRefused when any reading of the text holds the SERVICE keyword (see the module's docstring)."""
    _refuse_service_in(text)
    unescaped = unescape_codepoints(text)
    if unescaped != text:
        _refuse_service_in(unescaped)


def _refuse_service_in(text: str) -> None:
    if "service" not in text.lower():
        return
    pending = [_Reading(0, (), False)]
    seen: set[_Reading] = set()
    while pending:
        reading = pending.pop()
        if reading in seen:
            continue
        seen.add(reading)
        if len(seen) > MAX_READINGS:
            raise BadInput(
                "the query has too many '<' that could be comparisons or IRIs to check it for SERVICE; "
                "put a space after '<' where it compares"
            )
        found, following = _advance(text, reading, ambiguous_lt="both")
        if any(_is_service_keyword(token) for token in found):
            raise ServiceRefused(SERVICE_REFUSED)
        pending.extend(following)


class ServiceRefused(BadInput):
    """A query that could make the engine call another server."""

    code = "SERVICE_REFUSED"


_FORMS = frozenset({"SELECT", "ASK", "CONSTRUCT", "DESCRIBE"})


def query_form(text: str) -> str | None:
    """SELECT, ASK, CONSTRUCT or DESCRIBE, read after the prologue; None if it is none of them (an update?)."""
    words = (t for t in tokens(text) if t.kind not in ("space", "comment"))
    for token in words:
        keyword = token.text.upper()
        if keyword in ("BASE", "PREFIX", "VERSION"):
            continue
        if token.kind in ("iri", "pname", "string"):  # the prologue's arguments
            continue
        return keyword if token.kind == "word" and keyword in _FORMS else None
    return None


def iri_ref(iri: str) -> str:
    """`<iri>` for SPARQL text, refusing characters that would let an IRI escape its brackets."""
    if not iri or any(c in iri for c in '<>"{}|^`\\') or any(ord(c) <= 0x20 for c in iri):
        raise ValueError(f"not a usable IRI: {iri!r}")
    return f"<{iri}>"


def iri_chunks(iris: Iterable[str], size: int = 2000) -> list[str]:
    """The distinct IRIs as `<iri>` texts, `size` to a space-separated chunk (a VALUES block, a run of DROPs), so
    that every query stays a size any engine parses quickly; an IRI that cannot be stored is left out (it names
    nothing stored)."""
    texts = []
    for iri in sorted(set(iris)):
        try:
            texts.append(iri_ref(iri))
        except ValueError:
            continue
    return [" ".join(texts[i : i + size]) for i in range(0, len(texts), size)]


def string_literal(text: str) -> str:
    """`"text"` for SPARQL text (STRING_LITERAL2): backslash, quote and line breaks escaped; a lone surrogate,
    which no SPARQL text can carry, is refused."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"not a usable string: {text!r}") from None
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'
