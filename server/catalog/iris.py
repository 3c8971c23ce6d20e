"""The one place IRIs are minted from names: `mint` for records, `mint_part` for a port or SLO inside one.

A name keeps its letters and digits in any script (an IRI may hold Unicode, RFC 3987): NFKC-normalised and
case-folded, every run of anything else becomes one `-`, and `-` is trimmed from the ends. "HCP 360 (v2)" gives
`hcp-360-v2`, "CustomerView" `customerview`, "客户视图" `客户视图`. A name with no letter or digit is refused.
docs/migration.md says what became of IRIs minted the older ways.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

import pyoxigraph as ox

from server.errors import BadInput
from server.sparql_text import iri_ref

__all__ = ["mint", "mint_part", "segment"]

# RFC 3987 `ucschar`: the characters beyond ASCII an IRI path segment may hold as they are.
_UCSCHAR = (
    (0xA0, 0xD7FF),
    (0xF900, 0xFDCF),
    (0xFDF0, 0xFFEF),
    *((plane << 16, (plane << 16) + 0xFFFD) for plane in range(1, 14)),
    (0xE1000, 0xEFFFD),
)


def _is_word(character: str, previous: str | None) -> bool:
    """Letters and digits; a combining mark too when it follows one (Devanagari vowel signs, Thai tone marks)."""
    category = unicodedata.category(character)
    return category[0] in "LN" or (category[0] == "M" and previous is not None and previous != "-")


def _as_is_in_segment(character: str) -> bool:
    code = ord(character)
    if code < 0x80:
        return character.isalnum() or character == "-"
    return any(low <= code <= high for low, high in _UCSCHAR)


def segment(name: str) -> str:
    """The readable path segment a name gives: `HCP 360 (v2)` -> `hcp-360-v2`; BadInput when it has no letter or
    digit."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    out: list[str] = []
    for character in folded:
        previous = out[-1] if out else None
        if _is_word(character, previous):
            out.append(character)
        elif previous is not None and previous != "-":
            out.append("-")
    text = "".join(out).strip("-")
    if not text:
        raise BadInput(f"cannot make an IRI from the name {name!r}; give a name with letters or digits")
    return "".join(c if _as_is_in_segment(c) else quote(c, safe="") for c in text)


def _checked(iri: str, name: str) -> str:
    """The IRI, once pyoxigraph and the SPARQL/Turtle writer both accept it."""
    try:
        ox.NamedNode(iri)
        iri_ref(iri)
    except ValueError:
        raise BadInput(f"the name {name!r} does not make a usable IRI ({iri!r}); choose another name") from None
    return iri


def mint(base: str, kind: str, name: str) -> str:
    """`{base}{kind}/{segment}`: the IRI of a record (`data-product`, `domain`, `agent`, `use-case`, ...) named `name`."""
    return _checked(f"{base}{kind}/{segment(name)}", name)


def mint_part(record: str, part: str, name: str) -> str:
    """`{record}/{part}/{segment}`: a node inside a record (`port`, `slo`)."""
    return _checked(f"{record}/{part}/{segment(name)}", name)
