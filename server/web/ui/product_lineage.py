"""The product page's lineage: upstream and downstream to a depth the reader chooses, as GraphQL's `lineage` answers
it (server/catalog/lineage.py over the lineage index), cut where the picture would grow past what a browser draws
at once.

Each direction is walked one level further than shown: the extra level says where the lineage goes on (the page
offers to go deeper there) and how many nodes a deeper picture would hold. When the asked depth holds more than
NODE_CAP nodes, the picture is drawn at the deepest depth that fits, and the page says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from server.catalog.lineage import Direction, Lineage, lineage
from server.catalog.lineage_index import LineageIndex
from server.errors import BadInput
from server.store.base import Store
from server.web.ui.product_facts import named

DEFAULT_DEPTH = 2
MAX_DEPTH = 20  # the synthetic catalogs are 12 layers deep; beyond 20 the cap decides anyway
NODE_CAP = 500  # drawn in well under a second in Chromium (bench/bench_lineage_picture.py)


def parse_depth(text: str | None) -> int:
    """The `depth` query parameter: a whole number from 1 to MAX_DEPTH; absent means DEFAULT_DEPTH."""
    if text is None or text == "":
        return DEFAULT_DEPTH
    message = f"depth must be a whole number from 1 to {MAX_DEPTH}; got {text[:40]!r}"
    try:
        depth = int(text.strip())
    except ValueError:
        raise BadInput(message) from None
    if not 1 <= depth <= MAX_DEPTH:
        raise BadInput(message)
    return depth


@dataclass(frozen=True)
class LineageEntry:
    iri: str
    name: str
    is_product: bool
    depth: int
    way: str  # "upstream" or "downstream"


@dataclass
class LineageView:
    root: str
    asked: int  # the depth asked for
    depth: int  # the depth drawn (less than asked when the cap cut it)
    entries: list[LineageEntry]
    edges: list[tuple[str, str]]  # data flows from source to target
    withheld: int = 0  # restricted products the caller may not read, left out (lineage.Lineage.withheld)
    within_asked: int = 0  # nodes within the asked depth, drawn or not
    capped: int = 0  # nodes within the drawn depth left out by the cap (only when even depth 1 is too big)
    goes_on: dict[str, list[str]] = field(default_factory=dict)  # way -> drawn nodes the lineage goes on beyond

    @property
    def cut(self) -> bool:
        """The lineage goes on past what is drawn."""
        return any(self.goes_on.values()) or self.capped > 0

    @property
    def cut_by_cap(self) -> bool:
        return self.depth < self.asked or self.capped > 0


def _depths(answer: Lineage) -> dict[str, int]:
    found = {answer.root: 0}
    found.update({n.iri: n.depth for n in answer.nodes})
    return found


def _within(answer: Lineage, depth: int) -> int:
    return sum(1 for n in answer.nodes if n.depth <= depth)


def _goes_on(probe: Lineage, depth: int, upstream: bool) -> list[str]:
    """The nodes at `depth` with a neighbour one level further in the probe's deeper walk."""
    at = _depths(probe)
    ends = set()
    for source, target in probe.edges:
        near, far = (target, source) if upstream else (source, target)
        if at.get(near) == depth and at.get(far) == depth + 1:
            ends.add(near)
    return sorted(ends)


def lineage_view(
    store: Store, root: str, depth: int, index: LineageIndex | None, hidden: Callable[[str], bool] | None
) -> LineageView:
    """Upstream and downstream of `root` to `depth` (store work: run it through `catalog.run`)."""
    ways = (("upstream", Direction.UPSTREAM), ("downstream", Direction.DOWNSTREAM))
    probes = {way: lineage(store, root, d, depth + 1, index=index, hidden=hidden) for way, d in ways}
    shown = depth
    while shown > 1 and sum(_within(p, shown) for p in probes.values()) > NODE_CAP:
        shown -= 1
    answers = {way: lineage(store, root, d, shown, index=index, hidden=hidden) for way, d in ways}
    seen = {root}
    chosen: list[tuple[str, bool, int, str]] = []
    for way, answer in answers.items():
        for node in answer.nodes:
            if node.iri not in seen:  # a node both upstream and downstream (a cycle) is drawn once
                seen.add(node.iri)
                chosen.append((node.iri, node.is_product, node.depth, way))
    capped = max(0, len(chosen) - NODE_CAP)
    chosen = chosen[:NODE_CAP]
    kept = {root} | {c[0] for c in chosen}
    known = index.names([c[0] for c in chosen]) if index is not None else {}
    names = named(store, [c[0] for c in chosen], known)
    edges = sorted({e for a in answers.values() for e in a.edges if e[0] in kept and e[1] in kept})
    return LineageView(
        root=root,
        asked=depth,
        depth=shown,
        entries=[LineageEntry(iri, names[iri], is_product, d, way) for iri, is_product, d, way in chosen],
        edges=edges,
        withheld=sum(a.withheld for a in answers.values()),
        within_asked=sum(_within(p, depth) for p in probes.values()),
        capped=capped,
        goes_on={way: [n for n in _goes_on(probes[way], shown, way == "upstream") if n in kept] for way, _ in ways},
    )
