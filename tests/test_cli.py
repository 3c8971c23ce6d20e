"""The `valuemesh` command as a user runs it: load, query, export, and what it says about bad input."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import typer
from typer.core import TyperGroup

from bench.generate import write_catalog
from server import __version__
from server.cli.main import COMMAND_MODULES, app, register_commands
from tests.conftest import DATA, REPO, CliResult, free_port

MALFORMED = ["malformed.ttl", "malformed.nt", "malformed.nq", "malformed.trig", "malformed.jsonld", "malformed.rdf"]
DOMAIN = "https://valuemesh.example/domain/finance"


@pytest.fixture
def store_dir(tmp_path: Path) -> str:
    return str(tmp_path / "catalog")


def export_nquads(cli, store_dir: str) -> list[str]:  # type: ignore[no-untyped-def]
    result: CliResult = cli("export", "--format", "nquads", "--store", store_dir, "--no-seed")
    assert result.exit_code == 0, result.stderr
    return sorted(result.stdout.splitlines())


def test_load_then_query_finds_the_records(cli, store_dir: str) -> None:  # type: ignore[no-untyped-def]
    loaded = cli(
        "load", str(DATA / "extra-domain.ttl"), str(DATA / "extra-agent.jsonld"), "--store", store_dir, "--no-seed"
    )
    assert loaded.exit_code == 0, loaded.stderr
    assert "2 record(s) added" in loaded.stderr

    answer = cli(
        "query",
        "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> SELECT ?label WHERE { ?x rdfs:label ?label } ORDER BY ?label",
        "--format",
        "json",
        "--store",
        store_dir,
    )
    assert answer.exit_code == 0, answer.stderr
    labels = [b["label"]["value"] for b in json.loads(answer.stdout)["results"]["bindings"]]
    assert "Finance" in labels and "Finance controller" in labels


def test_loading_the_same_file_again_replaces_nothing(cli, store_dir: str) -> None:  # type: ignore[no-untyped-def]
    cli("load", str(DATA / "extra-domain.ttl"), "--store", store_dir, "--no-seed")
    again = cli("load", str(DATA / "extra-domain.ttl"), "--store", store_dir, "--no-seed")
    assert again.exit_code == 0
    assert "0 record(s) added, 0 replaced, 1 unchanged" in again.stderr


def test_a_warning_shows_a_name_that_reads_like_markup_as_it_is(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Into the seeded catalog, where its domain, owner and input are registered: stored, with one warning naming it.
    store = str(tmp_path / "store")
    loaded = cli("load", str(DATA / "product-with-markup-in-name-without-consumers.ttl"), "--store", store)
    assert loaded.exit_code == 0, loaded.stderr
    assert "2 record(s) added" in loaded.stderr
    assert "warning: Territory [/] planning [bold]EU: a data product should have consumers" in loaded.stderr


def test_query_prints_a_table_and_reads_rq_files(cli, store_dir: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("load", str(DATA / "extra-domain.ttl"), "--store", store_dir, "--no-seed")
    query_file = tmp_path / "domains.rq"
    query_file.write_text(
        "PREFIX vm: <https://w3id.org/valuemesh/ontology#>\n"
        "SELECT ?domain ?regulated WHERE { ?domain a vm:Domain ; vm:regulated ?regulated }\n"
    )
    table = cli("query", str(query_file), "--store", store_dir)
    assert table.exit_code == 0, table.stderr
    # IRIs as prefixed names, whole (never cut to the terminal's width), with the prefix named under the table
    assert "cat:domain/finance" in table.stdout and "1 row(s); cat: <https://valuemesh.example/>" in table.stdout

    csv = cli("query", str(query_file), "--format", "csv", "--store", store_dir)
    assert csv.stdout.splitlines()[0].strip() == "domain,regulated"


def test_construct_prints_turtle(cli, store_dir: str) -> None:  # type: ignore[no-untyped-def]
    cli("load", str(DATA / "extra-domain.ttl"), "--store", store_dir, "--no-seed")
    result = cli("query", "CONSTRUCT WHERE { ?s a ?type }", "--store", store_dir)
    assert result.exit_code == 0
    assert f"<{DOMAIN}>" in result.stdout


@pytest.mark.parametrize("name", MALFORMED)
def test_each_kind_of_malformed_file_is_refused_with_its_location(cli, store_dir: str, name: str) -> None:  # type: ignore[no-untyped-def]
    cli("load", str(DATA / "extra-domain.ttl"), "--store", store_dir, "--no-seed")
    before = export_nquads(cli, store_dir)

    result = cli("load", str(DATA / name), "--store", store_dir, "--no-seed")

    assert result.exit_code == 2
    assert f"{DATA / name}:" in result.stderr
    # file:line:column (RDF/XML and JSON-LD errors carry a line at least)
    location = result.stderr.split(f"{DATA / name}:", 1)[1].split(":", 1)[0]
    assert location.isdigit(), result.stderr
    assert "Traceback" not in result.stderr
    assert export_nquads(cli, store_dir) == before


def test_a_batch_with_one_bad_file_stores_nothing(cli, store_dir: str) -> None:  # type: ignore[no-untyped-def]
    cli("load", str(DATA / "extra-agent.jsonld"), "--store", store_dir, "--no-seed")
    before = export_nquads(cli, store_dir)

    result = cli("load", str(DATA / "extra-domain.ttl"), str(DATA / "malformed.ttl"), "--store", store_dir, "--no-seed")

    assert result.exit_code == 2
    assert export_nquads(cli, store_dir) == before
    assert DOMAIN not in "\n".join(before)


def test_json_ld_remote_contexts_are_never_fetched(cli, store_dir: str) -> None:  # type: ignore[no-untyped-def]
    result = cli("load", str(DATA / "remote-context.jsonld"), "--store", store_dir, "--no-seed")
    assert result.exit_code == 2
    assert "remote context" in result.stderr


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("record-without-type.ttl", "belong to no record"),
        ("not-rdf.yaml", "unknown RDF file type"),
        ("does-not-exist.ttl", "no such file"),
    ],
)
def test_unusable_files_are_refused_with_a_reason(cli, store_dir: str, name: str, message: str) -> None:  # type: ignore[no-untyped-def]
    result = cli("load", str(DATA / name), "--store", store_dir, "--no-seed")
    assert result.exit_code == 2
    assert message in result.stderr


@pytest.mark.parametrize("location", ["/etc/passwd", "/etc/passwd/catalog"])
def test_an_unusable_store_path_gets_a_clear_message(cli, location: str) -> None:  # type: ignore[no-untyped-def]
    result = cli("query", "ASK {}", "--store", location)
    assert result.exit_code == 2
    assert "store" in result.stderr and location.split("/catalog")[0] in result.stderr
    assert "Traceback" not in result.stderr


def test_an_update_is_not_a_query(cli, store_dir: str) -> None:  # type: ignore[no-untyped-def]
    result = cli("query", "DROP ALL", "--store", store_dir, "--no-seed")
    assert result.exit_code == 2
    assert "valuemesh load" in result.stderr


def test_a_malformed_query_names_the_problem(cli, store_dir: str) -> None:  # type: ignore[no-untyped-def]
    result = cli("query", "SELECT ?x WHERE { ?x ", "--store", store_dir)
    assert result.exit_code == 2
    assert "query:1:22: malformed SPARQL: the query ends too early" in result.stderr


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("SELECT ?x WHERE { ?x ex:p ?y }", "query:1:22: undeclared prefix ex: in ex:p; declare it with PREFIX ex:"),
        (
            "SELECT ?p WHERE {\n  ?p dprod:domain ?d }",
            "query:2:6: undeclared prefix dprod: in dprod:domain; add PREFIX dprod: <https://ekgf.github.io/dprod/>",
        ),
        ("SELEC ?x WHERE { ?x ?p ?y }", "query:1:1: SPARQL syntax error: a query starts with SELECT, ASK, CONSTRUCT"),
    ],
)
def test_a_mistake_in_a_query_is_said_plainly(cli, store_dir: str, text: str, said: str) -> None:  # type: ignore[no-untyped-def]
    result = cli("query", text, "--store", store_dir)
    assert result.exit_code == 2
    assert said in result.stderr


def test_export_to_a_file(cli, store_dir: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("load", str(DATA / "extra-domain.ttl"), "--store", store_dir, "--no-seed")
    target = tmp_path / "out.trig"
    result = cli("export", "-o", str(target), "--store", store_dir)
    assert result.exit_code == 0
    assert DOMAIN in target.read_text()


def test_a_load_refused_by_the_checklist_lists_every_violation(cli, store_dir: str) -> None:  # type: ignore[no-untyped-def]
    result = cli("load", str(DATA / "product-without-owner.ttl"), "--store", store_dir, "--no-seed")
    assert result.exit_code == 1
    assert "nothing was stored" in result.stderr
    assert "Territory planning" in result.stderr
    assert "needs exactly one owner (Owner / Steward); it has none" in result.stderr


def test_version_is_printed(cli: Callable[..., CliResult]) -> None:
    done = cli("--version")
    assert done.exit_code == 0
    assert done.stdout.strip() == f"valuemesh {__version__}"


def _commands(group: TyperGroup, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        found.append((*prefix, name))
        if isinstance(command, TyperGroup):
            found.extend(_commands(command, (*prefix, name)))
    return found


def test_every_commands_help_names_values_plainly(
    cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    register_commands([])
    commands = _commands(typer.main.get_group(app))
    assert ("token", "create") in commands and ("validate",) in commands
    for command in commands:
        shown = cli(*command, "--help")
        assert shown.exit_code == 0, command
        assert not re.search(r"<(bool|str|int|Path|list\[)", shown.stdout), (command, shown.stdout)
        assert "…" not in shown.stdout, command  # no sentence cut short


def test_the_help_lists_every_command_and_each_is_found_by_its_name(cli: Callable[..., CliResult]) -> None:
    shown = cli("--help")
    assert shown.exit_code == 0
    registered = {name for name, *_ in _commands(typer.main.get_group(app))}
    # `valuemesh NAME` imports only COMMAND_MODULES[NAME]: a command missing from it could not be run by name.
    assert registered == set(COMMAND_MODULES)
    for name in registered:
        assert re.search(rf"\b{name}\b", shown.stdout), name


# What a command that works on the local store has no use for: the web stack, the SHACL engine, the HTTP client
# (only --server needs it), the descriptor formats' JSON Schema and YAML. Each takes a tenth of a second or more.
HEAVY = ("fastapi", "strawberry", "uvicorn", "starlette", "pyshacl", "httpx", "jsonschema", "yaml")


def run_counting_imports(*arguments: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """`valuemesh ARGUMENTS` in a fresh Python, and which of the HEAVY modules it imported."""
    script = (
        "import sys\n"
        "from server.cli.main import main\n"
        f"sys.argv = ['valuemesh', *{list(arguments)!r}]\n"
        "try:\n    main()\nexcept SystemExit as done:\n    code = done.code\nelse:\n    code = 0\n"
        f"print(sorted(set({HEAVY!r}) & set(sys.modules)), file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    return done, json.loads(done.stderr.strip().splitlines()[-1].replace("'", '"'))


def test_validate_imports_neither_the_web_stack_nor_pyshacl(tmp_path: Path) -> None:
    done, heavy = run_counting_imports("validate", "--store", str(tmp_path / "store"), "--no-seed", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert heavy == []
    assert json.loads(done.stdout)["conforms"] is True


def test_load_imports_neither_the_web_stack_nor_the_http_client_nor_the_descriptor_formats(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.nq"
    with catalog.open("w") as out:
        write_catalog(20, 7, out)
    done, heavy = run_counting_imports("load", "--no-seed", "--store", str(tmp_path / "store"), str(catalog))
    assert done.returncode == 0, done.stderr
    assert heavy == []
    assert re.search(r"loaded 1 file\(s\): \d+ record\(s\) added", done.stderr), done.stderr


def test_serve_says_it_seeded_an_empty_store_and_where_it_serves_once_the_port_is_bound(tmp_path: Path) -> None:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "server.cli.main",
        "serve",
        "--store",
        str(tmp_path / "store"),
        "--port",
        str(port),
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    server = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    try:
        lines: list[str] = []
        assert server.stderr is not None
        for line in server.stderr:
            lines.append(line)
            if "serving on" in line:
                break
        said = "".join(lines)
        assert "seeded it with the article's landscape" in said, said
        assert f"serving on http://127.0.0.1:{port}/" in said
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200  # bound by the time it says so
    finally:
        server.terminate()
        server.wait(timeout=20)
