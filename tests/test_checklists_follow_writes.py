"""The checklist verdicts the home page remembers (server/catalog/checklists.py) follow every write: a write that
changes another product's verdict (the product sharing its name, the port it consumes, its domain's regulated flag)
shows on the next page and in GraphQL's completeness; a write of an unrelated product keeps the others' verdicts;
after a series of writes what is remembered equals a fresh `checklist()` of every product; and the verdicts are
filled ahead after start, equal to `checklist()` on the seed and on a synthetic catalog."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rdflib import Graph, Literal, URIRef

from bench.generate import catalog_stream
from server.catalog.checklist_reads import judge
from server.catalog.records import normalised, split_records
from server.catalog.service import Catalog
from server.namespaces import DCT, DPROD, VM
from server.settings import Settings
from server.store.base import Store
from server.store.memory import MemoryStore
from server.validation import checklist
from server.web.app import create_app
from tests.conftest import admin_token
from tests.test_ui_home import row_of
from tests.ui_helpers import CAT, create, product_input

DATA = Path(__file__).parent / "data"
HCP_360 = CAT + "data-product/hcp-360"
TERRITORY_PLANNING = CAT + "data-product/territory-planning"
COMMERCIAL = CAT + "domain/commercial"
REGISTER = """
mutation ($document: String!) {
  registerDataProduct(document: $document, format: TURTLE) { __typename }
}
"""
COMPLETENESS = "query ($id: ID!) { dataProduct(id: $id) { completeness } }"


def catalog_of(client: TestClient) -> Catalog:
    catalog: Catalog = client.app.state.catalog  # type: ignore[attr-defined]
    return catalog


def products_of(store: Store) -> list[str]:
    rows = store.select("SELECT DISTINCT ?p WHERE { GRAPH ?p { ?p a <https://ekgf.github.io/dprod/DataProduct> } }")
    return sorted(str(row[0]) for row in rows.rows)


def raw_write(client: TestClient, turtle: str) -> None:
    """Store the records of a document through the catalog's store, past the checks of the write path, as a
    product stored before the checklist asked for what it lacks would be."""
    records = normalised(split_records(Graph().parse(data=turtle, format="turtle"), "test"))
    catalog_of(client).store.replace_records({iri: list(graph) for iri, graph in records.items()})


def without_input_ports(turtle: str) -> str:
    """The document with its products' input ports left out: it then points at no other product."""
    graph = Graph().parse(data=turtle, format="turtle")
    for product, port in list(graph.subject_objects(DPROD.inputPort)):
        graph.remove((product, DPROD.inputPort, port))
        graph.remove((port, None, None))
    return graph.serialize(format="turtle")


def register(client: TestClient, turtle: str) -> None:
    response = client.post("/graphql", json={"query": REGISTER, "variables": {"document": turtle}})
    assert response.json()["data"]["registerDataProduct"]["__typename"] == "DataProduct", response.text


def completeness(client: TestClient, iri: str) -> Any:
    response = client.post("/graphql", json={"query": COMPLETENESS, "variables": {"id": iri}})
    return response.json()["data"]["dataProduct"]["completeness"]


def turtle_of(store: Store, iri: str, *extra: tuple[URIRef, URIRef, Any]) -> str:
    graph = Graph()
    for triple in store.record(iri):
        if triple[1] != VM.nameKey:
            graph.add(triple)
    for triple in extra:
        graph.add(triple)
    return graph.serialize(format="turtle")


def remembered_equals_fresh(client: TestClient) -> None:
    """Every verdict the catalog remembers is what `checklist()` says now, and the page showed only those."""
    catalog = catalog_of(client)
    remembered = catalog.checklists.known()
    assert remembered  # the pages shown were remembered
    assert remembered == checklist(catalog.store, remembered)


def show_every_product(client: TestClient) -> None:
    assert client.get("/").status_code == 200


def filled(client: TestClient) -> None:
    """Wait until the verdicts are filled ahead after start (`/healthz` says "filling" meanwhile)."""
    deadline = time.monotonic() + 60
    while client.get("/healthz").json()["checklists"] == "filling" and time.monotonic() < deadline:
        time.sleep(0.05)


def test_renaming_a_product_clears_the_name_clash_of_the_other_at_once(client: TestClient) -> None:
    raw_write(client, (DATA / "duplicate-name-in-domain.ttl").read_text())
    page = client.get("/").text
    assert "passes" not in row_of(page, "HCP 360")  # two "HCP 360" in Commercial: both fail the name item
    store = catalog_of(client).store
    renamed = turtle_of(store, TERRITORY_PLANNING).replace('"HCP 360"', '"Territory planning"')
    register(client, without_input_ports(renamed))  # nothing in it points at HCP 360 any more
    page = client.get("/").text
    assert "100 % passes" in row_of(page, "HCP 360")
    assert completeness(client, HCP_360) == checklist(store, [HCP_360])[HCP_360].completeness == 1.0
    remembered_equals_fresh(client)


def test_registering_the_port_a_product_consumes_completes_it(client: TestClient) -> None:
    raw_write(client, (DATA / "consumes-missing-port.ttl").read_text())
    assert "passes" not in row_of(client.get("/").text, "Territory planning")
    assert completeness(client, TERRITORY_PLANNING) < 1
    store = catalog_of(client).store
    port = URIRef(HCP_360 + "/port/no-such-port")
    register(
        client,
        turtle_of(
            store,
            HCP_360,
            (URIRef(HCP_360), DPROD.outputPort, port),
            (port, URIRef("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"), VM.OutputPort),
            (port, DCT.type, VM.Table),
        ),
    )
    assert "100 % passes" in row_of(client.get("/").text, "Territory planning")
    fresh = checklist(store, [TERRITORY_PLANNING])[TERRITORY_PLANNING]
    assert completeness(client, TERRITORY_PLANNING) == fresh.completeness == 1.0
    remembered_equals_fresh(client)


def test_a_domain_no_longer_regulated_drops_the_privacy_item_of_its_products(client: TestClient) -> None:
    store = catalog_of(client).store
    record = store.record(HCP_360)
    record.remove((URIRef(HCP_360), DCT.description, None))
    store.replace_records({HCP_360: list(record)})
    assert "88 %" in row_of(client.get("/").text, "HCP 360")  # 7 of the 8 items of a regulated domain
    domain = store.record(COMMERCIAL)
    domain.set((URIRef(COMMERCIAL), VM.regulated, Literal(False)))
    store.replace_records({COMMERCIAL: list(domain)})
    assert "86 %" in row_of(client.get("/").text, "HCP 360")  # 6 of 7: privacy no longer applies
    assert completeness(client, HCP_360) == checklist(store, [HCP_360])[HCP_360].completeness
    remembered_equals_fresh(client)


def test_a_write_of_one_unrelated_product_keeps_the_other_verdicts(client: TestClient) -> None:
    catalog = catalog_of(client)
    store = catalog.store
    everyone = products_of(store)
    filled(client)
    show_every_product(client)
    assert set(catalog.checklists.known()) == set(everyone)
    iri = create(client, product_input("Loner"))  # consumes nothing, in a domain of its own name space
    show_every_product(client)
    judged = catalog.checklists.judged
    show_every_product(client)
    assert catalog.checklists.judged == judged  # nothing judged again: every verdict on the page was kept
    assert set(catalog.checklists.known()) >= set(everyone)
    medical = CAT + "data-product/medical-inquiries"  # feeds nothing
    changed = turtle_of(store, medical).replace("Every ", "Each ", 1)
    register(client, changed)
    assert set(catalog.checklists.known()) == set(everyone) - {medical} | {iri}
    remembered_equals_fresh(client)


def test_remembered_verdicts_equal_fresh_ones_after_a_series_of_writes(client: TestClient) -> None:
    store = catalog_of(client).store

    def unregulated(domain: str) -> None:
        record = store.record(domain)
        record.set((URIRef(domain), VM.regulated, Literal(False)))
        store.replace_records({domain: list(record)})

    writes = [
        lambda: raw_write(client, without_input_ports((DATA / "duplicate-name-in-domain.ttl").read_text())),
        lambda: raw_write(client, (DATA / "consumes-missing-port.ttl").read_text()),  # renamed, consuming
        lambda: unregulated(COMMERCIAL),
        lambda: store.replace_records({}, drop=[TERRITORY_PLANNING]),
        lambda: create(client, product_input("Another one", domain=COMMERCIAL)),
        lambda: store.replace_records({}, drop=[HCP_360 + "/no-such-record", CAT + "agent/pjp"]),
    ]
    show_every_product(client)
    for write in writes:
        write()
        remembered_equals_fresh(client)  # before the page judges what was forgotten
        show_every_product(client)
    remembered = catalog_of(client).checklists.known()
    assert set(remembered) == set(products_of(store))
    assert remembered == checklist(store, products_of(store))


def test_the_verdicts_are_filled_ahead_after_start(client: TestClient) -> None:
    catalog = catalog_of(client)
    filled(client)
    everyone = products_of(catalog.store)
    assert catalog.checklists.known() == checklist(catalog.store, everyone)
    judged = catalog.checklists.judged
    assert client.get("/").status_code == 200
    assert catalog.checklists.judged == judged  # the first visitor judged nothing


@pytest.mark.parametrize("size", [200])
def test_judged_verdicts_equal_checklist_on_a_synthetic_catalog(size: int) -> None:
    store = MemoryStore()
    store.bulk_load(catalog_stream(size, 7).read(), "application/n-quads")
    everyone = products_of(store)
    assert len(everyone) == size
    found = judge(store, everyone)
    assert {iri: judged.verdict for iri, judged in found.judged.items()} == checklist(store, everyone)


def test_judged_verdicts_equal_checklist_on_the_seed(seeded_store: Store) -> None:
    everyone = products_of(seeded_store)
    found = judge(seeded_store, everyone)
    assert {iri: judged.verdict for iri, judged in found.judged.items()} == checklist(seeded_store, everyone)


def test_a_judgement_that_overlapped_a_write_keeps_only_what_the_write_cannot_change(client: TestClient) -> None:
    catalog = catalog_of(client)
    filled(client)
    store, checklists = catalog.store, catalog.checklists
    everyone = products_of(store)
    begun = checklists.generation
    judgement = judge(store, everyone)  # as a page or the filler judges, outside the lock
    record = store.record(HCP_360)
    record.remove((URIRef(HCP_360), DCT.description, None))
    store.replace_records({HCP_360: list(record)})  # lands before the judgement is kept
    checklists.keep(judgement, begun)
    kept = checklists.known()
    assert HCP_360 not in kept  # judged with its description: the write made that verdict stale
    assert CAT + "data-product/medical-inquiries" in kept  # no write touched it
    assert kept == checklist(store, kept)


def test_shapes_that_look_further_than_one_step_make_any_write_forget_every_verdict(seeded_store: Store) -> None:
    further = DATA / "shapes-domain-described-briefly.ttl"  # reads the description of each product's domain
    settings = Settings(store="memory:", seed=False, shapes=("builtin", str(further)))
    app = create_app(settings, store=seeded_store)
    with TestClient(app, base_url="http://localhost", headers=admin_token(app)) as client:
        filled(client)
        show_every_product(client)
        checklists = catalog_of(client).checklists
        assert set(checklists.known()) == set(products_of(seeded_store))
        medical = CAT + "data-product/medical-inquiries"  # feeds nothing, in another domain than most
        store = catalog_of(client).store
        store.replace_records({medical: list(store.record(medical))})
        assert checklists.known() == {}
        show_every_product(client)
        remembered_equals_fresh(client)


def test_a_catalog_closing_while_a_fill_starts_stops_it_cleanly() -> None:
    """Closing races the fill the index's build starts: stopping must never join a thread not yet started, and
    no fill starts once the catalog is closed."""
    import threading

    from server.catalog.checklists import Checklists

    for _ in range(50):
        checklists = Checklists()

        def products() -> list[str]:
            return []

        opener = threading.Thread(target=checklists.fill, args=(products, lambda iris, stop: None))
        opener.start()
        checklists.stop_filling(for_good=True)
        opener.join()
        checklists.fill(products, lambda iris, stop: None)  # after closing: nothing starts
        assert checklists.state == "ready"
