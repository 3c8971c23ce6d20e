"""The article's Roche landscape, as a new user finds it on the first start."""

from __future__ import annotations

from pathlib import Path

from rdflib import RDFS, Dataset
from rdflib.compare import isomorphic

from server.catalog.seeding import ONTOLOGY_GRAPH, prepare, shipped_ontology
from server.store import MemoryStore, Store, open_store

CAT = "https://valuemesh.example/"

SCORES = """
PREFIX vm: <https://w3id.org/valuemesh/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?title ?score WHERE {
  ?useCase a vm:UseCase ; rdfs:label ?title ;
      vm:businessValue ?bv ; vm:timeCriticality ?tc ; vm:riskReduction ?rr ; vm:reach ?reach ;
      vm:impact ?impact ; vm:confidence ?confidence ; vm:effort ?effort .
  BIND(?bv + ?tc + ?rr + ?reach + ?impact + ?confidence + ?effort AS ?score)
} ORDER BY DESC(?score)
"""


def test_first_start_seeds_an_empty_catalog_through_the_write_path() -> None:
    store = MemoryStore()
    outcome = prepare(store, with_seed=True)
    assert outcome is not None and outcome.report.conforms
    assert f"{CAT}data-product/hcp-360" in outcome.added
    # a second start finds records and leaves them alone
    assert prepare(store, with_seed=True) is None


def test_no_seed_leaves_the_catalog_empty() -> None:
    store = MemoryStore()
    prepare(store, with_seed=False)
    assert store.record_iris() == [ONTOLOGY_GRAPH]


def test_a_start_puts_back_the_shipped_ontology_whatever_changed_it(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "store"))
    try:
        prepare(store, with_seed=False)
        assert isomorphic(store.record(ONTOLOGY_GRAPH), shipped_ontology())
        # Changed behind the write path (no marker changes): labels edited (as many statements as before), a
        # statement about a blank node added, statements taken away.
        changes = [
            f"""DELETE {{ GRAPH <{ONTOLOGY_GRAPH}> {{ ?s <{RDFS.label}> ?l }} }}
            INSERT {{ GRAPH <{ONTOLOGY_GRAPH}> {{ ?s <{RDFS.label}> ?renamed }} }}
            WHERE {{ GRAPH <{ONTOLOGY_GRAPH}> {{ ?s <{RDFS.label}> ?l }} BIND (CONCAT(?l, "!") AS ?renamed) }}""",
            f'INSERT DATA {{ GRAPH <{ONTOLOGY_GRAPH}> {{ [] <{RDFS.comment}> "extra" }} }}',
            f"DELETE WHERE {{ GRAPH <{ONTOLOGY_GRAPH}> {{ ?s <{RDFS.comment}> ?c }} }}",
        ]
        for change in changes:
            store.update(change)
            assert not isomorphic(store.record(ONTOLOGY_GRAPH), shipped_ontology())
            prepare(store, with_seed=False)
            assert isomorphic(store.record(ONTOLOGY_GRAPH), shipped_ontology()), change
    finally:
        store.close()


def test_the_three_use_cases_score_as_in_the_article(seeded_store: Store) -> None:
    scores = {str(row["title"]): int(row["score"]) for row in seeded_store.select(SCORES)}  # type: ignore[arg-type]
    assert sorted(scores.values(), reverse=True) == [34, 30, 27]
    assert scores["HCP 360 dashboard"] == 30


def test_hcp_360_feeds_digital_engagement(seeded_store: Store) -> None:
    assert seeded_store.ask(
        """PREFIX vm: <https://w3id.org/valuemesh/ontology#> PREFIX dprod: <https://ekgf.github.io/dprod/>
        ASK { ?de dprod:inputPort/vm:consumes/^dprod:outputPort ?hcp }""",
        bindings={"de": _iri("data-product/digital-engagement"), "hcp": _iri("data-product/hcp-360")},
    )


def test_records_are_named_graphs_holding_their_ports(seeded_store: Store) -> None:
    record = seeded_store.record(f"{CAT}data-product/hcp-360")
    subjects = {str(s) for s in record.subjects()}
    assert f"{CAT}data-product/hcp-360" in subjects
    assert any(s.startswith(f"{CAT}data-product/hcp-360/port/") for s in subjects)
    assert f"{CAT}data-product/hcp-360/agreement" in subjects


def test_the_article_slo_is_there(seeded_store: Store) -> None:
    assert seeded_store.ask(
        """PREFIX vm: <https://w3id.org/valuemesh/ontology#> PREFIX dct: <http://purl.org/dc/terms/>
        ASK { ?slo vm:target ?t ; vm:period ?p ; dct:description ?d
              FILTER(?t = 99.5 && STR(?p) = "P1D" && CONTAINS(?d, "before 9am")) }"""
    )


def test_export_then_load_into_an_empty_store_gives_the_same_graph(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first, second = str(tmp_path / "first"), str(tmp_path / "second")
    exported = tmp_path / "catalog.trig"
    assert cli("export", "-o", str(exported), "--store", first).exit_code == 0  # seeds on first start
    loaded = cli("load", str(exported), "--store", second, "--no-seed")
    assert loaded.exit_code == 0, loaded.stderr
    again = cli("export", "--format", "nquads", "--store", second)

    original, reloaded = Dataset(), Dataset()
    original.parse(exported, format="trig")
    reloaded.parse(data=again.stdout, format="nquads")
    names = sorted(str(g.identifier) for g in original.graphs() if len(g))
    assert names == sorted(str(g.identifier) for g in reloaded.graphs() if len(g))
    assert f"{CAT}data-product/hcp-360" in names
    for graph in original.graphs():
        assert isomorphic(graph, reloaded.graph(graph.identifier)), graph.identifier


def _iri(path: str):  # type: ignore[no-untyped-def]
    from rdflib import URIRef

    return URIRef(CAT + path)
