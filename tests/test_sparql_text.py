"""Reading SPARQL text as the engine does: the escape step, the query form, and where the SERVICE keyword can hide."""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from server.errors import BadInput
from server.sparql_text import ServiceRefused, query_form, refuse_service, tokens, unescape_codepoints


def _engine_string(literal: str) -> str | None:
    """The value the engine gives a string literal written as `literal`, or None when it refuses the text."""
    try:
        solutions = ox.Store().query(f"SELECT ?x WHERE {{ BIND({literal} AS ?x) }}")
        return str(next(iter(solutions))["x"].value)  # type: ignore[index]
    except SyntaxError:
        return None


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ('"A\\u0042C"', "ABC"),  # escapes are read inside strings
        ('"\\U0001F600"', "\U0001f600"),
        ('"\\\\u0041"', "\\u0041"),  # an escaped backslash: no escape follows it
        ('"\\uD800"', None),
        ("'''a\\u0027''b'''", "a'''b"),
    ],
)
def test_the_engine_reads_escapes_inside_strings_only(literal: str, value: str | None) -> None:
    assert _engine_string(literal) == value
    if value is not None:
        assert [t.kind for t in tokens(literal)] == ["string"]


def test_the_engine_does_not_read_escapes_outside_strings_and_iris() -> None:
    assert query_form("\\u0053ELECT * {}") is None
    with pytest.raises(SyntaxError):
        ox.Store().query("\\u0053ELECT * {}")


@pytest.mark.parametrize(
    ("text", "unescaped"),
    [
        ("\\u0053ELECT", "SELECT"),
        ("\\U00000053", "S"),
        ("a\\u12", "a\\u12"),  # too short: kept
        ("\\u12\\u0041", "\\u12\\u0041"),  # the short escape takes the next backslash as a digit: both kept
        ("\\\\u0041", "\\A"),  # the held-back backslash is read again, as the reference implementation does
        ("\\u+041", "A"),
        ("\\uD800", "\\uD800"),  # not a character
        ("no escapes", "no escapes"),
    ],
)
def test_the_spec_escape_step_follows_the_reference_implementation(text: str, unescaped: str) -> None:
    assert unescape_codepoints(text) == unescaped


@pytest.mark.parametrize(
    ("text", "form"),
    [
        ("SELECT * {}", "SELECT"),
        ("PREFIX ex: <http://x/> # a comment\nBASE <http://y/> ask {}", "ASK"),
        ("construct where { ?s ?p ?o }", "CONSTRUCT"),
        ("DESCRIBE <http://x/>", "DESCRIBE"),
        ("INSERT DATA { <a:a> <a:b> <a:c> }", None),
        ("PREFIX select: <http://x/> DELETE WHERE { ?s ?p ?o }", None),
    ],
)
def test_query_form(text: str, form: str | None) -> None:
    assert query_form(text) == form


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * WHERE { SERVICE <http://x/> { ?s ?p ?o } }",
        "SELECT * WHERE { ?s ?p ?o .SERVICE<http://x/>{} }",
        "SELECT * WHERE { ?s ?p trueSERVICEsilent<http://x/>{} }",
        "PREFIX : <http://x/> SELECT * WHERE { SERVICE:sparql {} }",
        "SELECT * WHERE { \\u0053ERVICE <http://x/> {} }",  # a server that applies escapes first reads SERVICE
        # `<` after an operand inside parentheses: a comparison to the engine, an IRI to a naive reader
        "SELECT * WHERE { BIND((1<2)AS?z)SERVICE<http://x/>{} }",
        "SELECT * WHERE { FILTER(?a<'x>') SERVICE <http://x/> {} FILTER(?b='y') }",
        'SELECT * WHERE { BIND("X\\u0022 AS ?y) \\u0023" AS ?x) SERVICE <http://x/>#>\n{} }',
    ],
)
def test_service_is_found_however_it_is_hidden(query: str) -> None:
    with pytest.raises(ServiceRefused):
        refuse_service(query)


@pytest.mark.parametrize(
    "query",
    [
        "SELECT ?service WHERE { ?service a <http://www.w3.org/ns/dcat#DataService> }",
        "PREFIX sd: <http://www.w3.org/ns/sparql-service-description#> SELECT * WHERE { ?s a sd:Service }",
        "SELECT * WHERE { ?s <http://example.org/hasService> ?o FILTER(?o IN (<http://a/service>)) }",
        "SELECT ?x WHERE { BIND('SERVICE <http://x/> {}' AS ?x) } # SERVICE in a comment",
        "PREFIX vm: <https://w3id.org/valuemesh#> SELECT * WHERE { ?a vm:serviceLevelObjective ?slo }",
        "SELECT * WHERE { _:service ?p ?o }",
    ],
)
def test_the_word_service_where_it_cannot_be_the_keyword_is_allowed(query: str) -> None:
    refuse_service(query)


def test_a_query_with_too_many_ambiguous_comparisons_is_refused_not_guessed() -> None:
    # `<(b>` is an IRI to one reading and opens a parenthesis in the other: the readings multiply
    comparisons = " || ".join(f"(?a<(b{i}>?c)" for i in range(80))
    with pytest.raises(BadInput, match="too many '<'"):
        refuse_service(f"SELECT * WHERE {{ FILTER({comparisons}) OPTIONAL {{ ?service ?p ?o }} }}")
