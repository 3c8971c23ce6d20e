"""HTTP content negotiation: pick the media type a client's `Accept` header prefers among what the server offers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def _ranges(accept: str) -> list[tuple[str, float]]:
    """(media range, q) pairs of an Accept header; parameters other than q are ignored."""
    ranges = []
    for part in accept.split(","):
        pieces = [piece.strip() for piece in part.split(";")]
        media_range = pieces[0].lower()
        if not media_range:
            continue
        if "/" not in media_range:
            media_range = "*/*" if media_range == "*" else media_range + "/*"
        q = 1.0
        for param in pieces[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = 0.0
        ranges.append((media_range, q))
    return ranges


def _quality(offer: str, ranges: list[tuple[str, float]]) -> tuple[float, int]:
    """The q of the most specific range matching `offer` (and how specific it was: 2 exact, 1 type/*, 0 */*)."""
    main_type = offer.split("/")[0]
    best: tuple[float, int] = (0.0, -1)
    for media_range, q in ranges:
        if media_range == offer:
            specificity = 2
        elif media_range == f"{main_type}/*":
            specificity = 1
        elif media_range == "*/*":
            specificity = 0
        else:
            continue
        if specificity > best[1] or (specificity == best[1] and q > best[0]):
            best = (q, specificity)
    return best


def negotiate(accept: str | None, offers: Sequence[str], aliases: Mapping[str, str] | None = None) -> str | None:
    """The offer the client accepts with the highest q (ties go to the earlier offer); None when none is acceptable.

    `aliases` maps other names clients use (e.g. application/json) to an offer. No Accept header accepts anything."""
    if accept is None or not accept.strip():
        return offers[0] if offers else None
    ranges = _ranges(accept)
    aliases = aliases or {}
    # A range naming an alias counts as naming the offer it stands for.
    ranges = [(aliases.get(media_range, media_range), q) for media_range, q in ranges]
    best_offer, best_q = None, 0.0
    for offer in offers:
        q, specificity = _quality(offer, ranges)
        if specificity >= 0 and q > best_q:
            best_offer, best_q = offer, q
    return best_offer
