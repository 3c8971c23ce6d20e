"""The SLO definitions measurements are checked and computed against, read one triple pattern at a time and joined
in Python (server/observations/objectives.py), give what the joined SPARQL pattern gives, on the seed and after
writes that add, change and take away SLOs."""

from __future__ import annotations

from rdflib import RDF, Literal, URIRef

from server.errors import BadInput
from server.namespaces import VM
from server.observations.objectives import JOINED, Objective, objectives, objectives_of
from server.observations.periods import parse_period
from server.store import Store

CAT = "https://valuemesh.example/"
HCP_360 = CAT + "data-product/hcp-360"
NBA = CAT + "data-product/next-best-action"


def _number(value: object) -> float | None:
    return None if value is None else float(str(value))


def joined(store: Store) -> dict[str, Objective]:
    """Every SLO as the one joined question answers (the seed states each fact once, so rows do not compete)."""
    found: dict[str, Objective] = {}
    for row in store.select(JOINED):
        target = float(str(row["target"]))
        try:
            period = parse_period(str(row["period"]))
        except BadInput:
            continue
        budget = _number(row["budget"])
        found[str(row["slo"])] = Objective(
            iri=str(row["slo"]),
            product=str(row["product"]),
            metric=None if row["metric"] is None else str(row["metric"]),
            target=target,
            budget=budget if budget is not None and budget > 0 else max(100.0 - target, 0.0),
            period=period,
            good_at_most=_number(row["atMost"]),
            good_at_least=_number(row["atLeast"]),
        )
    return found


def agree(store: Store) -> dict[str, Objective]:
    expected = joined(store)
    assert expected  # the seed promises SLOs
    assert objectives(store, [*expected, CAT + "no/such/slo"]) == expected
    products = sorted({o.product for o in expected.values()})
    assert objectives_of(store, [*products, CAT + "no/such/product"]) == expected
    return expected


def test_the_pieces_give_what_the_joined_question_gives_on_the_seed(seeded_store: Store) -> None:
    found = agree(seeded_store)
    assert any(o.metric is not None for o in found.values()) and any(o.budget == 1.0 for o in found.values())


def test_and_after_slos_are_added_changed_and_taken_away(seeded_store: Store) -> None:
    before = agree(seeded_store)
    record = seeded_store.record(NBA)
    slos = {o.iri for o in before.values() if o.product == NBA}
    agreement = next(iter(record.subjects(VM.serviceLevelObjective, URIRef(next(iter(slos))))))
    latency = URIRef(NBA + "/slo/p99-latency")
    record.add((agreement, VM.serviceLevelObjective, latency))
    record.add((latency, RDF.type, VM.ServiceLevelObjective))
    record.add((latency, VM.target, Literal(95.0)))
    record.add((latency, VM.period, Literal("P7D")))
    record.add((latency, VM.goodAtMost, Literal(200)))
    broken = URIRef(NBA + "/slo/broken")
    record.add((agreement, VM.serviceLevelObjective, broken))
    record.add((broken, VM.target, Literal(99.0)))
    record.add((broken, VM.period, Literal("soon")))  # no duration: cannot be computed, left out by both
    seeded_store.replace_records({NBA: list(record)})
    after = agree(seeded_store)
    assert after[str(latency)].good_at_most == 200.0 and str(broken) not in after
    hcp = seeded_store.record(HCP_360)
    for slo in [o.iri for o in after.values() if o.product == HCP_360]:
        hcp.remove((None, VM.serviceLevelObjective, URIRef(slo)))
    seeded_store.replace_records({HCP_360: list(hcp)})
    assert not [o for o in agree(seeded_store).values() if o.product == HCP_360]


def test_rows_read_as_text_keep_commas_quotes_and_line_breaks(seeded_store: Store) -> None:
    from rdflib import RDFS

    from server.catalog.nodes import select_texts

    record = seeded_store.record(NBA)
    label = 'Next, "best"\naction'
    record.set((URIRef(NBA), RDFS.label, Literal(label)))
    seeded_store.replace_records({NBA: list(record)})
    query = "SELECT ?node ?label WHERE { VALUES ?node { $nodes } ?node <http://www.w3.org/2000/01/rdf-schema#label> ?label }"
    hcp_label = str(seeded_store.record(HCP_360).value(URIRef(HCP_360), RDFS.label))
    assert sorted(select_texts(seeded_store, query, [NBA, HCP_360])) == sorted([[NBA, label], [HCP_360, hcp_label]])
