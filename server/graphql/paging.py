"""Pages of a list field: `first` and `after` over ids in a stable order, for lists that grow with the catalog."""

from __future__ import annotations

from server.errors import BadInput


def page_of_ids(ids: list[str], first: int | None, after: str | None, limit: int, what: str) -> list[str]:
    """The ids after `after` (in sorted order), at most `first` of them.

    Without `first`, more than `limit` ids are refused rather than cut, so that no client silently misses some.
    """
    if first is not None and not 0 <= first <= limit:
        raise BadInput(f"first must be between 0 and {limit} (the maximum page size); got {first}")
    ordered = sorted(ids)
    if after is not None:
        ordered = [i for i in ordered if i > after]
    if first is None and len(ordered) > limit:
        raise BadInput(
            f"{len(ordered)} {what}, more than the maximum page size ({limit}): page with `first` and `after` "
            "(the last id of the previous page)"
        )
    return ordered if first is None else ordered[:first]
