"""The store protocol's contract, on memory and on every configured remote SPARQL server (Oxigraph, Virtuoso)."""

from __future__ import annotations

import io
import json

import pytest
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import RDFS, XSD

from server.errors import BadInput, StoreUnavailable
from server.namespaces import DPROD, VM
from server.store import MemoryStore, Store, open_store
from server.store.sparql import RemoteSparqlStore, _iso_duration, bind_values, term_text

pytestmark = pytest.mark.all_backends

A = "https://valuemesh.example/test/record-a"
B = "https://valuemesh.example/test/record-b"
P = URIRef("https://valuemesh.example/test/p")
# Text that would end a string, a pattern or the request if it were spliced into SPARQL unescaped.
HOSTILE = 'x" } ; DROP SILENT GRAPH <https://valuemesh.example/test/record-a> ; INSERT DATA { <s> <p> "o \\u0022 \\'


RDFS_PREFIX = f"PREFIX rdfs: <{RDFS}>\n"


def record_a() -> list[tuple]:
    node = BNode()
    a = URIRef(A)
    return [
        (a, RDFS.label, Literal("Zürich 😀 sales", lang="de")),
        (a, P, Literal(HOSTILE)),
        (a, P, Literal("P1D", datatype=XSD.duration)),
        (a, P, Literal("P1Y2M", datatype=XSD.duration)),
        (a, P, Literal("true", datatype=XSD.boolean)),
        (a, P, Literal("99.5", datatype=XSD.decimal)),
        (a, P, Literal("7", datatype=XSD.integer)),
        (a, P, Literal("line one\nline two\ttabbed")),
        (a, P, node),
        (node, RDFS.label, Literal("a blank node hanging off the record")),
    ]


def record_b() -> list[tuple]:
    return [(URIRef(B), RDFS.label, Literal("record b")), (URIRef(B), P, URIRef(A))]


def graph_of(triples: list[tuple]) -> Graph:
    graph = Graph()
    for triple in triples:
        graph.add(triple)
    return graph


def test_a_record_comes_back_as_it_was_written(empty_store: Store) -> None:
    empty_store.replace_records({A: record_a()})
    assert isomorphic(empty_store.record(A), graph_of(record_a()))


def test_replacing_a_record_replaces_it_whole_and_drop_removes_one(empty_store: Store) -> None:
    empty_store.replace_records({A: record_a(), B: record_b()})
    empty_store.replace_records({A: [(URIRef(A), RDFS.label, Literal("only this now"))]}, drop=[B])
    assert set(empty_store.record(A)) == {(URIRef(A), RDFS.label, Literal("only this now"))}
    assert len(empty_store.record(B)) == 0
    assert A in empty_store.record_iris() and B not in empty_store.record_iris()


def test_listing_counting_and_emptiness_see_records_only(empty_store: Store) -> None:
    before = empty_store.quad_count()
    assert not empty_store.is_empty()  # the ontology's graph
    empty_store.replace_records({A: record_a(), B: record_b()})
    assert empty_store.quad_count() == before + len(record_a()) + len(record_b())
    assert {A, B} <= set(empty_store.record_iris())
    empty_store.replace_records({}, drop=empty_store.record_iris())
    assert empty_store.is_empty()
    assert empty_store.quad_count() == 0
    assert empty_store.record_iris() == []


def test_the_default_graph_is_the_union_of_records(empty_store: Store) -> None:
    empty_store.replace_records({A: record_a(), B: record_b()})
    rows = empty_store.select(
        RDFS_PREFIX + "SELECT ?b ?p ?label WHERE { ?b ?p ?a . ?a rdfs:label ?label }", {"p": P, "b": URIRef(B)}
    )
    assert rows.column("label") == [Literal("Zürich 😀 sales", lang="de")]


# The embedded engine substitutes only projected variables, so the queries here project what they bind.


def test_bindings_are_values_never_text(empty_store: Store) -> None:
    empty_store.replace_records({A: record_a()})
    found = empty_store.select("SELECT ?s ?p ?value WHERE { ?s ?p ?value }", {"value": Literal(HOSTILE), "p": P})
    assert found.column("s") == [URIRef(A)]
    assert empty_store.ask("ASK { ?s ?p ?d }", {"s": URIRef(A), "p": P, "d": Literal("P1D", datatype=XSD.duration)})
    assert not empty_store.ask("ASK { ?s ?p ?v }", {"s": URIRef(A), "p": P, "v": Literal("x")})
    assert isomorphic(empty_store.record(A), graph_of(record_a()))  # nothing was dropped by the hostile text


def test_construct_with_bindings(empty_store: Store) -> None:
    empty_store.replace_records({A: record_a(), B: record_b()})
    graph = empty_store.construct(
        RDFS_PREFIX + "CONSTRUCT { ?s rdfs:label ?l } WHERE { ?s rdfs:label ?l }", {"s": URIRef(B)}
    )
    assert set(graph) == {(URIRef(B), RDFS.label, Literal("record b"))}


def test_a_transitive_path_from_a_bound_start(empty_store: Store) -> None:
    # The lineage question's shape: Virtuoso runs `+` only when one end is bound, which bindings must achieve.
    chain = {f"{A}/{i}": [(URIRef(f"{A}/{i}"), P, URIRef(f"{A}/{i + 1}"))] for i in range(4)}
    empty_store.replace_records(chain)
    found = empty_store.select(
        "SELECT ?start ?up WHERE { ?start <https://valuemesh.example/test/p>+ ?up } ORDER BY ?up",
        {"start": URIRef(f"{A}/1")},
    )
    assert found.column("up") == [URIRef(f"{A}/2"), URIRef(f"{A}/3"), URIRef(f"{A}/4")]


def test_an_aggregate_over_a_bound_variable(empty_store: Store) -> None:
    empty_store.replace_records({A: record_a()})
    found = empty_store.select(
        "SELECT ?s ?p (COUNT(?o) AS ?n) WHERE { ?s ?p ?o } GROUP BY ?s ?p", {"s": URIRef(A), "p": P}
    )
    assert int(found.column("n")[0]) == 8  # type: ignore[arg-type]


def test_query_results_in_every_format_the_endpoint_serves(empty_store: Store) -> None:
    empty_store.replace_records({B: record_b()})
    query = RDFS_PREFIX + "SELECT ?label WHERE { ?s rdfs:label ?label }"
    as_json = json.loads(empty_store.query_serialized(query, "application/sparql-results+json"))
    assert {"type": "literal", "value": "record b"} in [b["label"] for b in as_json["results"]["bindings"]]
    assert b"record b" in empty_store.query_serialized(query, "text/csv")
    turtle = empty_store.query_serialized(
        RDFS_PREFIX + "CONSTRUCT { ?s rdfs:label ?l } WHERE { ?s rdfs:label ?l }",
        "text/turtle",
        bindings={"s": URIRef(B)},
    )
    assert set(Graph().parse(data=turtle, format="turtle")) == {(URIRef(B), RDFS.label, Literal("record b"))}
    ask = json.loads(empty_store.query_serialized("ASK { ?s ?p ?o }", "application/sparql-results+json"))
    assert ask["boolean"] is True
    with pytest.raises(BadInput):
        empty_store.query_serialized(query, "image/png")


def test_a_dataset_restricted_to_one_graph(empty_store: Store) -> None:
    empty_store.replace_records({A: record_a(), B: record_b()})
    only_b = json.loads(
        empty_store.query_serialized(
            RDFS_PREFIX + "SELECT ?s WHERE { ?s rdfs:label ?l }", "application/sparql-results+json", default_graphs=[B]
        )
    )
    assert [row["s"]["value"] for row in only_b["results"]["bindings"]] == [B]


def test_dump_round_trips_every_record(empty_store: Store) -> None:
    empty_store.replace_records({A: record_a(), B: record_b()})
    out = io.BytesIO()
    empty_store.dump(out, "application/n-quads")
    copy = MemoryStore()
    copy.bulk_load(out.getvalue(), "application/n-quads")
    assert copy.record_iris() == empty_store.record_iris()
    assert isomorphic(copy.record(A), graph_of(record_a()))
    with pytest.raises(BadInput):
        empty_store.dump(io.BytesIO(), "text/html")


def test_malformed_sparql_is_bad_input_and_changes_nothing(empty_store: Store) -> None:
    empty_store.replace_records({B: record_b()})
    with pytest.raises(BadInput):
        empty_store.select("SELECT ?s WHERE { ?s ?p ")
    with pytest.raises(BadInput):
        empty_store.update("INSERT DATA { GRAPH <https://valuemesh.example/test/record-b> { <a> <b> ")
    assert set(empty_store.record(B)) == set(record_b())


def test_queries_are_counted(empty_store: Store) -> None:
    before = empty_store.queries_run
    empty_store.ask("ASK { ?s ?p ?o }")
    empty_store.select("SELECT * WHERE { ?s ?p ?o } LIMIT 1")
    assert empty_store.queries_run == before + 2


def test_the_seed_reads_the_same_on_every_backend(seeded_store: Store, seed_nquads: bytes) -> None:
    reference = MemoryStore()
    reference.bulk_load(seed_nquads, "application/n-quads")
    query = """SELECT ?product ?label ?domain WHERE {
        ?product a dprod:DataProduct ; rdfs:label ?label ; dprod:domain ?domain } ORDER BY ?product"""
    prefixes = f"PREFIX dprod: <{DPROD}>\nPREFIX rdfs: <{RDFS}>\n"
    assert seeded_store.select(prefixes + query).rows == reference.select(prefixes + query).rows
    assert seeded_store.record_iris() == reference.record_iris()
    assert seeded_store.quad_count() == reference.quad_count()
    slo_periods = f"PREFIX vm: <{VM}>\nSELECT DISTINCT ?period WHERE {{ ?slo vm:period ?period }} ORDER BY ?period"
    # Virtuoso orders durations by value, the others by text: compare what is there, not the order.
    assert set(seeded_store.select(slo_periods).rows) == set(reference.select(slo_periods).rows)


# --- the remote backend's own pieces, no server needed -------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("SELECT ?x WHERE { ?x ?p ?o }", "SELECT ?x WHERE { BIND(<urn:v> AS ?s) ?x ?p ?o }"),
        ("ASK { ?x ?p ?o }", "ASK { BIND(<urn:v> AS ?s) ?x ?p ?o }"),
        (
            "CONSTRUCT { ?s <urn:where> '{' } WHERE { ?s ?p ?o }",
            "CONSTRUCT { ?s <urn:where> '{' } WHERE { BIND(<urn:v> AS ?s) ?s ?p ?o }",
        ),
        (
            "PREFIX ex: <urn:x#where>\n# WHERE { in a comment\nSELECT ?where { ?where ?p ?o }",
            "PREFIX ex: <urn:x#where>\n# WHERE { in a comment\nSELECT ?where { BIND(<urn:v> AS ?s) ?where ?p ?o }",
        ),
    ],
)
def test_bindings_open_the_where_pattern(query: str, expected: str) -> None:
    assert " ".join(bind_values(query, {"s": URIRef("urn:v")}).split()) == " ".join(expected.split())


def test_values_that_cannot_be_sent_are_refused() -> None:
    with pytest.raises(BadInput):
        bind_values("SELECT * WHERE { ?s ?p ?o }", {"s": BNode()})
    with pytest.raises(BadInput):
        bind_values("SELECT * WHERE { ?s ?p ?o }", {"s) } #": URIRef("urn:v")})
    with pytest.raises(BadInput):
        term_text(URIRef("urn:a> } DROP ALL #"))
    assert term_text(Literal('a"b\\c\nd')) == '"a\\"b\\\\c\\nd"'


@pytest.mark.parametrize(
    ("stored", "iso"), [("86400.0", "P1D"), ("14", "P1Y2M"), ("5400.5", "PT1H30M0.5S"), ("0", "P0M"), ("P1D", "P1D")]
)
def test_virtuoso_durations_are_read_back_in_iso_form(stored: str, iso: str) -> None:
    assert _iso_duration(stored) == iso


def test_locations_name_endpoints_authentication_and_options(monkeypatch: pytest.MonkeyPatch) -> None:
    store = RemoteSparqlStore.from_location(
        "sparql+https://ann:s%40cret@db.example:8443/ds/query?update=/ds/update&gsp=/ds/data&auth=digest&timeout=5"
    )
    assert (store.query_url, store.update_url, store.gsp_url) == (
        "https://db.example:8443/ds/query",
        "https://db.example:8443/ds/update",
        "https://db.example:8443/ds/data",
    )
    assert "s%40cret" not in store.location and "***" in store.location
    store.close()
    monkeypatch.setenv("VALUEMESH_SPARQL_TOKEN", "t0ken")
    bearer = open_store("sparql+http://db.example/sparql")
    assert bearer.update_url == bearer.query_url  # type: ignore[attr-defined]
    bearer.close()
    with pytest.raises(StoreUnavailable, match="unknown option"):
        RemoteSparqlStore.from_location("sparql+http://db.example/sparql?updat=/u")
    with pytest.raises(StoreUnavailable, match="dialect"):
        RemoteSparqlStore.from_location("sparql+http://db.example/sparql?dialect=stardog")


def test_digest_authentication_reads_and_writes(authenticated_location: str) -> None:
    store = open_store(authenticated_location)
    graph = "https://valuemesh.example/domain/digest-check"
    try:
        assert "***" in store.location and ":dba@" not in store.location  # the password never shows
        store.replace_records({graph: [(URIRef(graph), RDFS.label, Literal("Digest check"))]})
        assert (URIRef(graph), RDFS.label, Literal("Digest check")) in store.record(graph)
        store.replace_records({}, drop=[graph])
        assert len(store.record(graph)) == 0
    finally:
        store.close()

    wrong = open_store(authenticated_location.replace(":dba@", ":not-the-password@"))
    with pytest.raises(StoreUnavailable, match="refused our credentials"):
        wrong.ask("ASK {}")
    wrong.close()
