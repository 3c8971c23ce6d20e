"""What the product page shows, gathered in one worker-thread call from the same catalog functions GraphQL resolves
`dataProduct`, `validation`, `goalTrace` and `overlaps` with (server/graphql/schema.py, types.py): no second data path.

Everything here is store work: call `product_facts` through `catalog.run`. `hidden` is the caller's visibility
(restricted products they may not read), applied as GraphQL's loaders apply it: such nodes are left out.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from server.catalog import goal_trace, nodes, overlaps
from server.catalog.domains import DomainRow, domains_by_iri
from server.catalog.goals import GoalRow, goals_by_iri
from server.catalog.lineage import require_product
from server.catalog.lineage_index import LineageIndex
from server.catalog.products import AgreementRow, DataProductRow, PortRow, agreements_by_iri, port_sources, ports_of
from server.catalog.products import products_by_iri as product_rows
from server.catalog.use_cases import UseCaseRow, use_cases_by_iri
from server.graphql.validation import validation_report
from server.namespaces import VM
from server.store.base import Store
from server.validation import PRIVACY_ITEM, completeness, shapes_in_force

Hidden = Callable[[str], bool]
OVERLAPS_SHOWN = 20  # merge candidates listed on the page; the overlaps page lists them all


@dataclass(frozen=True)
class Named:
    iri: str
    name: str
    is_product: bool = True


@dataclass(frozen=True)
class InputPortFacts:
    port: PortRow
    consumes: list[Named]
    # What it consumes from restricted products the caller may not read: the IRIs its own record states, never
    # their names (as the record's RDF and the generic record page show them).
    withheld: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ChecklistItem:
    item: str  # in the article's words, e.g. "Owner / Steward"
    state: str  # "met", "missing" or "not required"
    messages: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class OverlapFacts:
    other: Named
    shared: list[Named]
    jaccard: float


@dataclass(frozen=True)
class GoalTraceFacts:
    use_cases: list[UseCaseRow]
    goals: list[GoalRow]
    achieves: dict[str, list[str]]  # use case -> the goals it states it helps achieve

    def chains(self, use_case: str) -> list[list[GoalRow]]:
        """For each goal the use case helps achieve: that goal, its parent, ... up to the vision."""
        by_iri = {g.iri: g for g in self.goals}
        answer = []
        for start in self.achieves.get(use_case, []):
            chain: list[GoalRow] = []
            goal = by_iri.get(start)
            while goal is not None and goal not in chain:  # a cycle of sub-goals ends the chain
                chain.append(goal)
                goal = by_iri.get(goal.parent) if goal.parent else None
            if chain:
                answer.append(chain)
        return answer


@dataclass
class ProductFacts:
    row: DataProductRow
    type_name: str | None
    domain: DomainRow | None
    owner: Named | None
    producers: list[Named]
    consumers: list[Named]
    privacy: str | None
    inputs: list[InputPortFacts]
    outputs: list[PortRow]
    agreement: AgreementRow | None
    access_name: str | None
    completeness: float | None
    checklist: list[ChecklistItem]
    warnings: list[ChecklistItem]
    trace: GoalTraceFacts
    overlaps: list[OverlapFacts]
    more_overlaps: int = 0
    slo_names: dict[str, str] = field(default_factory=dict)


_PERIOD = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$")
_UNITS = ("year", "month", "week", "day")


def period_words(period: str) -> str:
    """An ISO 8601 period in words: P3M -> "3 months"; anything else as it is written."""
    found = _PERIOD.match(period)
    if not found or not any(found.groups()):
        return period
    parts = [f"{n} {unit}{'s' if n != '1' else ''}" for n, unit in zip(found.groups(), _UNITS, strict=True) if n]
    return " ".join(parts)


def _local(iri: str) -> str:
    return iri.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


def named(store: Store, iris: list[str], known: dict[str, str] | None = None) -> dict[str, str]:
    """Display names as GraphQL's `lineage_nodes` gives them: the index's names, else labels, else the IRI's end."""
    known = dict(known or {})
    unknown = [iri for iri in iris if iri not in known]
    for iri, label in nodes.labels(store, unknown).items():
        known[iri] = label or _local(iri)
    return known


def product_row(store: Store, iri: str, hidden: Hidden) -> DataProductRow | None:
    """The product's own fields; None when `iri` is no product the caller may read (a port, an SLO, a restricted
    product: the generic record page, or its 404, then answers exactly as before)."""
    if hidden(iri):
        return None
    return product_rows(store, [iri]).get(iri)


def _checklist(
    store: Store, row: DataProductRow, domain: DomainRow | None, hidden: Hidden
) -> tuple[float | None, list[ChecklistItem], list[ChecklistItem]]:
    """The MVP checklist as `validation(ids: [product])` reports it, with `completeness` as GraphQL gives it."""
    report = validation_report(store, [row.iri])
    results = [r for r in report.results if not hidden(r.focus_node) and not hidden(r.record or "")]
    missing: dict[str, list[str]] = {}
    advice: dict[str, list[str]] = {}
    for result in results:
        into = missing if result.severity == "Violation" else advice
        into.setdefault(result.item or "Other", []).append(result.detail or result.message)
    regulated = domain is not None and domain.regulated
    items = []
    for item in shapes_in_force(store).items:
        if item in missing:
            items.append(ChecklistItem(item, "missing", missing.pop(item)))
        elif item == PRIVACY_ITEM and not regulated:
            items.append(ChecklistItem(item, "not required"))
        else:
            items.append(ChecklistItem(item, "met"))
    items += [ChecklistItem(item, "missing", messages) for item, messages in missing.items()]  # outside the items
    warnings = [ChecklistItem(item, "advice", messages) for item, messages in advice.items()]
    return completeness(store, [row.iri]).get(row.iri), items, warnings


def _trace(store: Store, iri: str, hidden: Hidden) -> GoalTraceFacts:
    trace = goal_trace.goal_trace(store, iri)
    cases = [u for u in use_cases_by_iri(store, [u for u in trace.use_cases if not hidden(u)]).values() if u]
    goals = [g for g in goals_by_iri(store, trace.goals).values() if g]
    achieves = nodes.related(store, [u.iri for u in cases], VM.helpsAchieve) if cases else {}
    return GoalTraceFacts(cases, goals, achieves)


def _overlaps(store: Store, iri: str, index: LineageIndex | None, hidden: Hidden) -> tuple[list[OverlapFacts], int]:
    answer = overlaps.overlaps_with(store, iri, 1, index)
    pairs = [p for p in answer.pairs if not hidden(p.left) and not hidden(p.right)]
    chosen = pairs[:OVERLAPS_SHOWN]
    iris = sorted({n for p in chosen for n in (p.left, p.right, *p.shared)})
    known = index.names(iris) if index is not None else {}
    names = named(store, iris, known)
    found = []
    for pair in chosen:
        other = pair.right if pair.left == iri else pair.left
        shared = [Named(s, names[s], answer.source_is_product.get(s, True)) for s in pair.shared if not hidden(s)]
        found.append(OverlapFacts(Named(other, names[other]), shared, pair.jaccard))
    return found, len(pairs) - len(chosen)


def product_facts(store: Store, row: DataProductRow, index: LineageIndex | None, hidden: Hidden) -> ProductFacts:
    """Everything the product page shows but its lineage (product_lineage.py)."""
    iri = row.iri
    require_product(store, iri)
    domain = domains_by_iri(store, [row.domain]).get(row.domain) if row.domain else None
    producers = nodes.related(store, [iri], VM.producer)[iri]
    consumers = nodes.related(store, [iri], VM.consumer)[iri]
    ports = ports_of(store, [iri])[iri]
    inputs = [p for p in ports if p.is_input]
    feeds = port_sources(store, [p.iri for p in inputs])
    agreement = agreements_by_iri(store, [row.agreement]).get(row.agreement) if row.agreement else None
    fed = [ref.iri for refs in feeds.values() for ref in refs]
    terms = [t for t in (row.type, row.privacy_classification, agreement.access if agreement else None) if t]
    slos = [slo.iri for slo in agreement.slos] if agreement else []
    names = named(store, [*producers, *consumers, *([row.owner] if row.owner else []), *fed, *terms, *slos])
    score, items, warnings = _checklist(store, row, domain, hidden)
    found, more = _overlaps(store, iri, index, hidden)
    return ProductFacts(
        row=row,
        type_name=names[row.type] if row.type else None,
        domain=domain,
        owner=Named(row.owner, names[row.owner]) if row.owner else None,
        producers=[Named(a, names[a]) for a in producers],
        consumers=[Named(a, names[a]) for a in consumers],
        privacy=names[row.privacy_classification] if row.privacy_classification else None,
        inputs=[
            InputPortFacts(
                p,
                [Named(r.iri, names[r.iri], r.is_product) for r in feeds[p.iri] if not hidden(r.iri)],
                [r.iri for r in feeds[p.iri] if hidden(r.iri)],
            )
            for p in inputs
        ],
        outputs=[p for p in ports if not p.is_input],
        agreement=agreement,
        access_name=names[agreement.access] if agreement and agreement.access else None,
        completeness=score,
        checklist=items,
        warnings=warnings,
        trace=_trace(store, iri, hidden),
        overlaps=found,
        more_overlaps=more,
        slo_names={slo: names[slo] for slo in slos},
    )
