"""What goals at risk remember between questions (the SLO definitions and the goal links,
server/observations/measurements.py `Definitions`) follows every write through the catalog: an owner who relaxes an
overspent SLO, or a use case that stops being served by a product, changes the next `goalsAtRisk`; what the catalog
remembers after each write equals what SPARQL reads afresh; a write of one product re-reads that product alone."""

from __future__ import annotations

import time

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import XSD

from server.namespaces import VM
from server.observations import measurements as measurements_module
from server.observations.objectives import objectives
from server.observations.risk import goal_links, goals_at_risk
from server.store.base import Store
from tests.test_measurements_http import AVAILABILITY, CAT, GOALS_AT_RISK, MASTER_DATA, measured  # noqa: F401

REGISTER = "mutation ($d: String!) { registerDataProduct(document: $d) { __typename } }"


def at_risk(app_: object) -> set[str]:
    answer = app_.post("admin", GOALS_AT_RISK)["data"]["goalsAtRisk"]  # type: ignore[attr-defined]
    return {risk["goal"]["id"] for risk in answer}


def remembered_equals_sparql(app_: object) -> None:
    """What the catalog remembers for goals at risk is what the store says now."""
    service = app_.app.state.catalog  # type: ignore[attr-defined]
    store: Store = service.store
    definitions = service.measurements.definitions
    measured_slos = service.measurements.table.measured()
    assert definitions.of_slos(store, measured_slos) == objectives(store, measured_slos)
    assert definitions.links(store) == goal_links(store)


def settled(service: object) -> None:
    """The index built and what is worked out ahead after it done (goals at risk, checklist verdicts), so that
    counting the store's queries counts this test's alone."""
    service.index.refresh()  # type: ignore[attr-defined]
    deadline = time.monotonic() + 60
    while service.checklists.state == "filling" and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.02)


def with_target(store: Store, slo: str, target: str) -> str:
    """The Turtle of MASTER_DATA's record with `slo`'s target changed, as its owner would register it."""
    record = Graph()
    for triple in store.record(MASTER_DATA):
        record.add(triple)
    record.set((URIRef(slo), VM.target, Literal(target, datatype=XSD.decimal)))
    return record.serialize(format="turtle")


def test_relaxing_the_overspent_slo_takes_its_goals_off_the_list_at_once(measured: object) -> None:  # noqa: F811
    before = at_risk(measured)
    assert before  # the seed's overspent availability SLO puts goals at risk
    remembered_equals_sparql(measured)
    store = measured.store  # type: ignore[attr-defined]
    done = measured.post("admin", REGISTER, d=with_target(store, AVAILABILITY, "1"))  # type: ignore[attr-defined]
    assert done["data"]["registerDataProduct"]["__typename"] == "DataProduct", done
    assert at_risk(measured) == set()
    remembered_equals_sparql(measured)
    done = measured.post("admin", REGISTER, d=with_target(store, AVAILABILITY, "99.9"))  # type: ignore[attr-defined]
    assert done["data"]["registerDataProduct"]["__typename"] == "DataProduct", done
    assert at_risk(measured) == before
    remembered_equals_sparql(measured)


def test_a_use_case_no_longer_served_takes_its_goals_off_the_list(measured: object) -> None:  # noqa: F811
    service = measured.app.state.catalog  # type: ignore[attr-defined]
    store: Store = service.store
    before = at_risk(measured)
    links = goal_links(store)
    reached = {uc for pairs in links.serving.values() for uc, _ in pairs}
    stored = {use_case: list(store.record(use_case)) for use_case in sorted(reached)}
    for use_case, triples in stored.items():
        store.replace_records({use_case: [t for t in triples if t[1] != VM.servedBy]})  # served by nothing
    assert at_risk(measured) == set()
    remembered_equals_sparql(measured)
    assert before
    store.replace_records(stored)  # served again
    assert at_risk(measured) == before
    remembered_equals_sparql(measured)


def test_a_write_of_one_use_case_reads_that_use_case_again_not_every_link(measured: object) -> None:  # noqa: F811
    service = measured.app.state.catalog  # type: ignore[attr-defined]
    store: Store = service.store
    settled(service)
    at_risk(measured)
    use_case = sorted({uc for pairs in goal_links(store).serving.values() for uc, _ in pairs})[0]
    definitions = service.measurements.definitions

    def queries_for_links() -> int:
        asked = service.backend.queries_run
        definitions.links(store)
        return int(service.backend.queries_run - asked)

    store.replace_records({use_case: list(store.record(use_case))})
    after_one_write = queries_for_links()
    definitions.everything_changed()
    after_forgetting = queries_for_links()
    assert (after_one_write, after_forgetting) == (1, 3)  # the use case's facts; the three scans
    remembered_equals_sparql(measured)


def test_a_dropped_goal_record_is_followed(measured: object) -> None:  # noqa: F811
    service = measured.app.state.catalog  # type: ignore[attr-defined]
    store: Store = service.store
    vision = CAT + "goal/vision"
    assert vision in at_risk(measured)
    parents = goal_links(store).parent_of
    children = sorted(goal for goal, parent in parents.items() if parent == vision)
    for goal in children:
        store.replace_records({goal: [t for t in store.record(goal) if t[1] != VM.subGoalOf]})
    assert vision not in at_risk(measured)
    remembered_equals_sparql(measured)


def test_a_write_of_one_product_reads_that_product_again_not_everything(measured: object) -> None:  # noqa: F811
    service = measured.app.state.catalog  # type: ignore[attr-defined]
    store: Store = service.store
    settled(service)
    at_risk(measured)
    other = CAT + "data-product/f2f-meetings"
    store.replace_records({other: list(store.record(other))})
    asked = service.backend.queries_run
    at_risk(measured)
    after_one_write = service.backend.queries_run - asked
    service.measurements.definitions.everything_changed()
    asked = service.backend.queries_run
    at_risk(measured)
    after_forgetting = service.backend.queries_run - asked
    assert after_one_write < after_forgetting
    remembered_equals_sparql(measured)


def test_a_read_that_overlapped_a_write_is_not_kept(measured: object) -> None:  # noqa: F811
    """A write told while the definitions were being read makes that read a one-off: the next question reads again
    rather than keep what may predate the write."""
    service = measured.app.state.catalog  # type: ignore[attr-defined]
    definitions = service.measurements.definitions
    store: Store = service.store
    settled(service)
    definitions.everything_changed()

    class Interrupted:
        """The catalog's store, with a write of MASTER_DATA told in the middle of the first read."""

        def __init__(self) -> None:
            self.told = False

        def select(self, *args: object, **kwargs: object) -> object:
            if not self.told:
                self.told = True
                definitions.records_changed({MASTER_DATA: list(store.record(MASTER_DATA))}, [])
            return store.select(*args, **kwargs)  # type: ignore[arg-type]

        def __getattr__(self, name: str) -> object:
            return getattr(store, name)

    assert AVAILABILITY in definitions.of_slos(Interrupted(), [AVAILABILITY])  # type: ignore[arg-type]
    asked = service.backend.queries_run
    definitions.of_slos(store, [AVAILABILITY])
    assert service.backend.queries_run > asked  # read again
    asked = service.backend.queries_run
    definitions.of_slos(store, [AVAILABILITY])
    assert service.backend.queries_run == asked  # now remembered


def risks_now(service: object) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """The catalog's answer, as (goal, product, slo, via) rows."""
    return sorted(
        (risk.goal, cause.product, cause.slo, cause.via)
        for risk in service.goals_at_risk()  # type: ignore[attr-defined]
        for cause in risk.causes
    )


def risks_fresh(service: object) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """The same question asked from nothing remembered: lineage by SPARQL, links read by one question."""
    store: Store = service.store  # type: ignore[attr-defined]
    statuses = service.measurements.measured_statuses(store)  # type: ignore[attr-defined]
    return sorted(
        (risk.goal, cause.product, cause.slo, cause.via)
        for risk in goals_at_risk(store, statuses, links=goal_links(store))
        for cause in risk.causes
    )


def test_what_products_reach_follows_lineage_written_away_and_back(measured: object) -> None:  # noqa: F811
    """Each product's reach is remembered between questions; a write that cuts the lineage below the overspent
    product takes the goals it reached off the list, and writing it back (an input port consuming it again: a new
    edge its remembered walk never passed) brings them back."""
    service = measured.app.state.catalog  # type: ignore[attr-defined]
    store: Store = service.store
    assert risks_now(service) == risks_fresh(service)
    serving = [uc for uc, _ in goal_links(store).serving[MASTER_DATA]]
    for use_case in serving:  # the goals are reached only through the products downstream of the overspent one
        triples = store.record(use_case)
        store.replace_records({use_case: [t for t in triples if t[1:] != (VM.servedBy, URIRef(MASTER_DATA))]})
    before = risks_now(service)
    assert before == risks_fresh(service)
    hcp_360 = CAT + "data-product/hcp-360"
    assert before and all(via[0] == hcp_360 for _, _, _, via in before)  # the one product downstream of it
    stored = list(store.record(hcp_360))
    feed = URIRef(MASTER_DATA + "/port/api")
    assert any(t[1] == VM.consumes and t[2] == feed for t in stored)
    store.replace_records({hcp_360: [t for t in stored if not (t[1] == VM.consumes and t[2] == feed)]})
    cut = risks_now(service)
    assert cut == risks_fresh(service)
    assert not any(hcp_360 in via for _, _, _, via in cut)
    assert cut == []  # everything downstream of the overspent product was reached through HCP 360
    store.replace_records({hcp_360: stored})
    assert risks_now(service) == before == risks_fresh(service)


def test_points_that_spend_a_budget_put_its_goals_at_risk_at_once(measured: object) -> None:  # noqa: F811
    """The answer is reused between questions, but never past a point: a batch that spends F2F meetings' weekly
    budget makes it a cause on the very next question."""
    from datetime import UTC, datetime, timedelta

    from tests.test_measurements_http import post

    f2f = CAT + "data-product/f2f-meetings"
    slo = f2f + "/slo/timeliness"

    def causes() -> set[str]:
        answer = measured.post("admin", GOALS_AT_RISK)["data"]["goalsAtRisk"]  # type: ignore[attr-defined]
        return {cause["dataProduct"]["id"] for risk in answer for cause in risk["causes"]}

    assert f2f not in causes()
    assert f2f not in causes()  # asked again: the same answer, reused
    now = datetime.now(UTC).replace(microsecond=0)
    late = [
        {"slo": slo, "time": (now - timedelta(minutes=k + 1)).isoformat(), "good": 0, "total": 500} for k in range(20)
    ]
    assert post(measured, "admin", {"measurements": late}).status_code == 200  # type: ignore[arg-type]
    assert f2f in causes()


def test_the_summaries_writes_keep_what_products_reach(
    measured: object,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The summariser writes every measured product's summary graph again and again; none of that is lineage, so
    what each product reaches is kept, however many records a write names (at 100k products, thousands: here the
    number beyond which a bulk write is walked again from nothing is lowered to one)."""
    monkeypatch.setattr(measurements_module, "FORGET_ALL_AFTER", 1)
    service = measured.app.state.catalog  # type: ignore[attr-defined]
    settled(service)
    before = risks_now(service)
    version = service.measurements.reaches.version
    products = sorted(
        {
            o.product
            for o in service.measurements.definitions.of_slos(
                service.store, service.measurements.table.measured()
            ).values()
        }
    )
    service.measurements.write_summaries(service.store, products)
    assert risks_now(service) == before == risks_fresh(service)
    assert service.measurements.reaches.version == version
