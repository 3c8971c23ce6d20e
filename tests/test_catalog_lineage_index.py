"""The derived lineage index answers exactly what the SPARQL walk answers, before and after every kind of write."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from rdflib import Literal

from bench.generate import build_store
from server.catalog import lineage, nodes, removal
from server.catalog.lineage import Direction
from server.catalog.lineage_index import LineageIndex
from server.catalog.overlaps import overlaps, overlaps_with
from server.catalog.products import Page, count_products, page_of_products
from server.catalog.service import Catalog
from server.catalog.sources import direct_sources
from server.catalog.writes import write_documents
from server.identity.principal import SYSTEM
from server.namespaces import VM
from server.rdf_io import read_rdf_file
from server.settings import Settings
from server.store import MemoryStore, Store

DATA = Path(__file__).parent / "data"
CAT = "https://valuemesh.example/"
DOMAIN_OF_SOME_PRODUCT = (
    "PREFIX dprod: <https://ekgf.github.io/dprod/> SELECT ?domain WHERE { ?p dprod:domain ?domain }"
)
PRODUCTS = "PREFIX dprod: <https://ekgf.github.io/dprod/> SELECT ?p WHERE { ?p a dprod:DataProduct } ORDER BY ?p"


def catalog_over(store: Store) -> Catalog:
    """The Catalog service over `store`: its `store` is the one every face writes through."""
    return Catalog(Settings(store="memory:", seed=False), store).open()


def products(store: Store) -> list[str]:
    return [str(p) for p in store.select(PRODUCTS).column("p")]


def assert_same_walks(store: Store, index: LineageIndex, roots: list[str]) -> None:
    index.refresh()
    assert index.step(Direction.UPSTREAM) is not None  # the walks below do use the index
    for root in roots:
        for direction in Direction:
            for max_depth in (None, 1, 3):
                by_sparql = lineage.lineage(store, root, direction, max_depth)
                by_index = lineage.lineage(store, root, direction, max_depth, index=index)
                assert by_index == by_sparql, (root, direction, max_depth)
        walked = [n.iri for n in lineage.lineage(store, root, index=index).nodes]
        assert index.names(walked) == {k: v for k, v in nodes.labels(store, walked).items() if v is not None}
    assert_same_listing(store, index)
    assert_same_overlaps(store, index, roots)


def assert_same_overlaps(store: Store, index: LineageIndex, some: list[str]) -> None:
    """What feeds each product, and so every overlap, is the same read from the index or from SPARQL."""
    assert index.direct_sources() is not None  # the index does answer
    assert overlaps(store, None, 1, index).pairs  # and there is something to compare
    for ids in (None, some, some[:2]):
        assert sorted(set(direct_sources(store, ids, index))) == sorted(direct_sources(store, ids)), ids
        assert overlaps(store, ids, 1, index) == overlaps(store, ids, 1), ids
    for product in some[:5]:
        assert overlaps_with(store, product, 1, index) == overlaps_with(store, product, 1)


def all_pages(
    store: Store, index: LineageIndex | None, first: int, search: str | None = None, **filters: str
) -> list[Page]:
    pages = [page_of_products(store, first=first, listing=index, search=search, **filters)]
    while pages[-1].has_next:
        after = pages[-1].iris[-1]
        pages.append(page_of_products(store, first=first, after=after, listing=index, search=search, **filters))
    return pages


# Words of the seed and of generated catalogs, in other cases, and what matches nothing.
SEARCHES = ("prices", "HCP", "Data", "engagement", "e", "ÜBER", "no such words anywhere")


def assert_same_listing(store: Store, index: LineageIndex) -> None:
    """Paged from the index or from SPARQL, the product listing is the same, page by page, count included."""
    assert index.products() is not None  # the index does answer
    for first in (1, 7, 500):
        assert all_pages(store, index, first) == all_pages(store, None, first)
    assert count_products(store, listing=index) == count_products(store) == len(products(store))
    assert [iri for page in all_pages(store, index, 7) for iri in page.iris] == sorted(products(store))
    for search in SEARCHES:
        assert all_pages(store, index, 5, search) == all_pages(store, None, 5, search), search
        assert count_products(store, listing=index, search=search) == count_products(store, search=search), search
    # with a domain or a type the store answers, listing given or not, and pages the same way
    a_domain = str(store.select(DOMAIN_OF_SOME_PRODUCT).column("domain")[0])
    for filters in ({"domain": a_domain}, {"type_": str(VM.ConsumerOriented)}, {"domain": a_domain, "search": "e"}):
        by_index = [iri for page in all_pages(store, index, 3, **filters) for iri in page.iris]
        assert by_index and by_index == [iri for page in all_pages(store, None, 3, **filters) for iri in page.iris]
        assert count_products(store, listing=index, **filters) == count_products(store, **filters) == len(by_index)


def test_walks_over_the_index_equal_the_sparql_walks_on_a_generated_catalog() -> None:
    store = build_store(300, 5)
    index = LineageIndex(store)
    assert_same_walks(store, index, products(store)[::3])
    store.close()


def test_the_index_follows_registration_removal_and_other_writes(seeded_store: Store) -> None:
    catalog = catalog_over(seeded_store)
    store, index = catalog.store, catalog.index
    assert index is not None
    assert_same_walks(store, index, products(store))
    built = index.rebuilds

    write_documents(store, [read_rdf_file(DATA / "territory-plan.ttl")], actor=SYSTEM)
    downstream = lineage.lineage(store, CAT + "data-product/hcp-360", Direction.DOWNSTREAM, index=index)
    assert CAT + "data-product/territory-plan" in {n.iri for n in downstream.nodes}
    assert_same_walks(store, index, products(store))

    removal.remove_data_product(store, CAT + "data-product/territory-plan", actor=SYSTEM)
    assert_same_walks(store, index, products(store))
    assert index.rebuilds == built  # records written and dropped were applied, not rebuilt

    # A write the index cannot read record by record: it is set aside (SPARQL answers) until rebuilt.
    store.update(
        "PREFIX vm: <https://w3id.org/valuemesh/ontology#> "
        "DELETE WHERE { GRAPH ?g { <https://valuemesh.example/data-product/hcp-360/port/crm-in> vm:consumes ?x } }"
    )
    assert index.step(Direction.UPSTREAM) is None
    upstream = lineage.lineage(store, CAT + "data-product/hcp-360", index=index)
    assert CAT + "data-product/crm-interactions" not in {n.iri for n in upstream.nodes}
    assert_same_walks(store, index, products(store))
    assert index.rebuilds > built


def test_records_written_during_a_build_are_replayed_onto_it_not_thrown_away(seeded_store: Store) -> None:
    catalog = catalog_over(seeded_store)
    store, index = catalog.store, catalog.index
    assert index is not None
    index.refresh()
    store.update("PREFIX ex: <http://example.org/> INSERT DATA { GRAPH ex:g { ex:a ex:b ex:c } }")  # stale again
    read = index._read
    written: list[str] = []

    def read_with_writes_in_between() -> object:
        # The build reads the store while registrations keep coming: each lands between two of its questions.
        edges = read()
        write_documents(store, [read_rdf_file(DATA / "territory-plan.ttl")], actor=SYSTEM)
        written.append("territory-plan")
        return edges

    index._read = read_with_writes_in_between  # type: ignore[method-assign]
    rebuilds = index.rebuilds
    index.refresh()
    assert written and index.rebuilds == rebuilds + 1  # one build, kept: the write did not make it start over
    index._read = read  # type: ignore[method-assign]
    downstream = lineage.lineage(store, CAT + "data-product/hcp-360", Direction.DOWNSTREAM, index=index)
    assert CAT + "data-product/territory-plan" in {n.iri for n in downstream.nodes}
    assert_same_walks(store, index, products(store))


def _downstream_of_hcp_360(store: Store, index: LineageIndex) -> set[str]:
    return {
        n.iri for n in lineage.lineage(store, CAT + "data-product/hcp-360", Direction.DOWNSTREAM, index=index).nodes
    }


def _within(seconds: float, holds: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + seconds
    while not holds():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_replicas_on_a_shared_store_follow_each_others_writes(seed_nquads: bytes) -> None:
    """Two API processes on one SPARQL server, played by two catalogs over one store that says it is remote: what
    one writes reaches the other's index by the changes it notes on the server (its follower polls every 0.5 s)."""
    shared = MemoryStore()
    shared.bulk_load(seed_nquads, "application/n-quads")
    shared.location = "sparql+http://127.0.0.1:7878/query"
    first, second = catalog_over(shared), catalog_over(shared)
    try:
        index = second.index
        assert index is not None
        index.refresh()
        plan = CAT + "data-product/territory-plan"

        write_documents(first.store, [read_rdf_file(DATA / "territory-plan.ttl")], actor=SYSTEM)
        assert _within(5, lambda: plan in _downstream_of_hcp_360(shared, index))
        assert index.rebuilds == 1  # the record was read into it, not the whole store again
        assert_same_walks(shared, index, products(shared))

        removal.remove_data_product(first.store, plan, actor=SYSTEM)
        assert _within(5, lambda: plan not in _downstream_of_hcp_360(shared, index))
        assert_same_walks(shared, index, products(shared))
        assert "urn:valuemesh:changes" not in shared.record_iris()
    finally:
        first.close()
        second.close()


def test_an_index_of_its_own_is_built_by_the_first_walk(seeded_store: Store) -> None:
    index = LineageIndex(seeded_store)
    assert index.step(Direction.UPSTREAM) is not None
    assert index.rebuilds == 1


def test_the_api_builds_its_index_at_start_and_health_says_when_it_is_ready(client) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 30
    state = client.get("/healthz").json()["lineage_index"]
    while state == "building" and time.monotonic() < deadline:
        time.sleep(0.05)
        state = client.get("/healthz").json()["lineage_index"]
    assert state == "ready"  # built without any lineage question having been asked


def test_search_lower_cases_as_sparql_does() -> None:
    """The index finds by Python's lower(); the SPARQL filter by LCASE: both must lower-case alike."""
    store = MemoryStore()
    for text in ("ÜBER", "İstanbul", "ΣΊΣΥΦΟΣ ΟΔΟΣ", "STRASSE Straße", "ǅemal", "KELVIN \u212a"):
        answer = store.select("SELECT (LCASE(?text) AS ?lower) ?text WHERE {}", {"text": Literal(text)})
        assert str(answer.column("lower")[0]) == text.lower(), text


def test_searches_of_the_seed_find_products(seeded_store: Store) -> None:
    index = LineageIndex(seeded_store)
    found = {search: len(index.products(search) or []) for search in SEARCHES}
    assert 0 < found["Data"] < found["e"] == len(products(seeded_store))
    assert found["no such words anywhere"] == 0
