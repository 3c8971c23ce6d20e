"""Small facts about SPARQL text that the faces need before running it, without splicing anything into it."""

from __future__ import annotations

import re

_PROLOGUE = re.compile(
    r"""\A(?:\s+|\#[^\n]*\n?|BASE\s*<[^>]*>|PREFIX\s+[A-Za-z0-9_.\-]*:\s*<[^>]*>)*""",
    re.IGNORECASE,
)
_FORM = re.compile(r"(SELECT|ASK|CONSTRUCT|DESCRIBE)\b", re.IGNORECASE)


def query_form(text: str) -> str | None:
    """SELECT, ASK, CONSTRUCT or DESCRIBE, read after the prologue; None if it is none of them (an update?)."""
    rest = text[_PROLOGUE.match(text).end() :]  # type: ignore[union-attr]
    match = _FORM.match(rest)
    return match.group(1).upper() if match else None


def iri_ref(iri: str) -> str:
    """`<iri>` for SPARQL text, refusing characters that would let an IRI escape its brackets."""
    if not iri or any(c in iri for c in '<>"{}|^`\\') or any(ord(c) <= 0x20 for c in iri):
        raise ValueError(f"not a usable IRI: {iri!r}")
    return f"<{iri}>"
