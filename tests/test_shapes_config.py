"""An organisation's own shapes, by configuration: put in force for every write, check and page, refused at start
when they cannot all be honoured, and a dry run of new rules over the stored catalog."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rdflib import DCAT, RDF, Graph

from server.errors import BadInput
from server.governance.shapes import catalog_shapes
from server.governance.sources import ShapesRefused, load_shapes
from server.namespaces import DPROD
from server.resources import resource_dir, seed_files
from server.settings import Settings
from server.store import OxigraphStore, Store
from server.web.app import create_app
from tests.conftest import DATA, admin_token
from tests.test_ui_domain import HTML, text_of

SHAPES = DATA / "shapes"
ORGANISATION = SHAPES / "organisation-rules.ttl"
CAT = "https://valuemesh.example/"


def _seed_products() -> int:
    """How many data products the seed holds: none has a keyword, so each fails the organisation's keyword rule."""
    seed = Graph()
    for path in seed_files():
        seed.parse(path)
    assert not any(seed.objects(None, DCAT.keyword))
    return len(set(seed.subjects(RDF.type, DPROD.DataProduct)))


SEED_PRODUCTS = _seed_products()

REGISTER = """
mutation ($document: String!) {
  registerDataProduct(document: $document, format: TURTLE) {
    __typename
    ... on DataProduct { id }
    ... on RegistrationRefused { report { conforms results { focusNode severity message item value component sourceShape } } }
  }
}
"""


def post(client: TestClient, operation: str, **variables: Any) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": operation, "variables": variables})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture
def organisation_client(seeded_store: Store) -> Iterator[TestClient]:
    """The app over the seeded catalog with the packaged checklist and the organisation's rules in force."""
    settings = Settings(store="memory:", seed=False, shapes=("builtin", str(ORGANISATION)))
    app = create_app(settings, store=seeded_store)
    with TestClient(app, base_url="http://localhost", headers=admin_token(app)) as client:
        yield client


# --- configuration --------------------------------------------------------------------------------------------


def test_the_packaged_shapes_are_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VALUEMESH_SHAPES", raising=False)
    assert Settings.from_env().shapes == ("builtin",)
    assert load_shapes(Settings.from_env().shapes) is catalog_shapes()


def test_valuemesh_shapes_lists_files_and_directories_separated_by_commas(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = tmp_path / "governance"
    folder.mkdir()
    shutil.copy(ORGANISATION, folder / "rules.ttl")
    monkeypatch.setenv("VALUEMESH_SHAPES", f"builtin, {folder}")
    assert Settings.from_env().shapes == ("builtin", str(folder))
    shapes = load_shapes(Settings.from_env().shapes)
    # keyword: minCount, datatype, pattern; the name's style
    assert len(shapes.checks) == len(catalog_shapes().checks) + 4
    assert {"Findable by keyword", "Name style"} <= set(shapes.items)
    assert shapes.items[: len(catalog_shapes().items)] == catalog_shapes().items  # the article's items first


def test_the_packaged_shapes_pass_the_checks_an_organisations_shapes_get() -> None:
    """The fast path for `builtin` skips the start checks; they would accept the packaged shapes anyway."""
    shapes = load_shapes([str(resource_dir("shapes"))])
    assert len(shapes.checks) == len(catalog_shapes().checks)


# --- refused at start -------------------------------------------------------------------------------------------

REFUSED = [
    ("syntax-error.ttl", ["syntax-error.ttl:6", "not Turtle", "expected '.'"]),
    ("not-shacl.ttl", ["not-shacl.ttl", "shape org:owner-count", "not valid SHACL", "sh:minCount", "xsd:integer"]),
    (
        "recursive.ttl",
        ["recursive.ttl", "recursive shapes", "org:PortShape -> [ sh:path dprod:isOutputPortOf ] -> org:ProductShape"],
    ),
    ("sparql-not-parsing.ttl", ["sparql-not-parsing.ttl", "shape org:LabelShape", "does not parse"]),
    ("sparql-with-service.ttl", ["sparql-with-service.ttl", "shape org:RegistryShape", "uses SERVICE"]),
    ("unsupported-rule.ttl", ["unsupported-rule.ttl", "cannot honour", "org:InferResource", "sh:rule"]),
]


@pytest.mark.parametrize(("name", "said"), REFUSED, ids=[name for name, _ in REFUSED])
def test_bad_shapes_are_refused_with_file_shape_and_reason(name: str, said: list[str]) -> None:
    with pytest.raises(ShapesRefused) as refused:
        load_shapes(["builtin", str(SHAPES / name)])
    message = str(refused.value)
    for part in said:
        assert part in message, message
    assert isinstance(refused.value, BadInput)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    for name in ("not-shacl.ttl", "recursive.ttl", "sparql-with-service.ttl"):
        shutil.copy(SHAPES / name, tmp_path / name)
    with pytest.raises(ShapesRefused) as refused:
        load_shapes([str(tmp_path)])
    assert len(refused.value.problems) == 3
    assert {Path(p.file).name for p in refused.value.problems} == {
        "not-shacl.ttl",
        "recursive.ttl",
        "sparql-with-service.ttl",
    }


def test_missing_files_empty_folders_and_data_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ShapesRefused, match="no such file or directory"):
        load_shapes([str(tmp_path / "rules.ttl")])
    with pytest.raises(ShapesRefused, match="holds no shapes"):
        load_shapes([str(tmp_path)])
    with pytest.raises(ShapesRefused, match=r"conforming-product\.ttl: it says nothing in SHACL"):
        load_shapes(["builtin", str(DATA / "conforming-product.ttl")])


def test_the_server_does_not_start_with_half_its_rules(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store_dir = tmp_path / "catalog"
    result = cli("serve", "--store", str(store_dir), "--shapes", "builtin", "--shapes", str(SHAPES / "recursive.ttl"))
    assert result.exit_code == 2
    assert "recursive.ttl" in result.stderr and "org:PortShape" in result.stderr
    assert "serving on" not in result.stderr
    assert not store_dir.exists()  # refused before the store was opened
    with pytest.raises(ShapesRefused, match=r"unsupported-rule\.ttl"):
        create_app(Settings(store="memory:", seed=False, shapes=(str(SHAPES / "unsupported-rule.ttl"),)))


def test_every_command_refuses_bad_shapes_in_the_environment(  # type: ignore[no-untyped-def]
    cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VALUEMESH_SHAPES", str(SHAPES / "syntax-error.ttl"))
    result = cli("validate", str(DATA / "conforming-product.ttl"))
    assert result.exit_code == 2
    assert "syntax-error.ttl:6" in result.stderr


# --- the shapes in force, everywhere -----------------------------------------------------------------------------


def test_a_write_is_judged_by_the_organisations_rules_too(organisation_client: TestClient, seeded_store: Store) -> None:
    body = post(organisation_client, REGISTER, document=(DATA / "territory-plan.ttl").read_text())
    refused = body["data"]["registerDataProduct"]
    assert refused["__typename"] == "RegistrationRefused"
    results = refused["report"]["results"]
    keyword = [r for r in results if r["item"] == "Findable by keyword"]
    assert len(keyword) == 1 and "needs at least one keyword" in keyword[0]["message"]
    assert keyword[0]["component"] == "http://www.w3.org/ns/shacl#MinCountConstraintComponent"
    assert keyword[0]["sourceShape"] == "https://governance.example/shapes#product-keyword"
    assert keyword[0]["value"] is None  # sh:minCount has no value to show
    assert not len(seeded_store.record(CAT + "data-product/territory-plan"))


def test_a_results_value_is_written_in_turtle(organisation_client: TestClient) -> None:
    document = (DATA / "territory-plan.ttl").read_text().replace('rdfs:label "Territory plan"', 'rdfs:label "plan"')
    results = post(organisation_client, REGISTER, document=document)["data"]["registerDataProduct"]["report"]["results"]
    [style] = [r for r in results if r["item"] == "Name style"]
    assert style["value"] == '"plan"'
    assert style["component"] == "http://www.w3.org/ns/shacl#SPARQLConstraintComponent"
    assert style["sourceShape"] == "https://governance.example/shapes#ProductRulesShape"
    assert 'the product\'s name "plan" must start with a capital letter' in style["message"]


def test_the_same_write_passes_under_the_packaged_checklist(client: TestClient) -> None:
    body = post(client, REGISTER, document=(DATA / "territory-plan.ttl").read_text())
    assert body["data"]["registerDataProduct"]["__typename"] == "DataProduct"


def test_graphql_validation_and_the_pages_use_the_shapes_in_force(organisation_client: TestClient) -> None:
    body = post(
        organisation_client,
        "query ($ids: [ID!]) { validation(ids: $ids) { conforms results { item sourceShape component } } }",
        ids=[CAT + "data-product/hcp-360"],
    )
    report = body["data"]["validation"]
    assert report["conforms"] is False
    assert [r["item"] for r in report["results"]] == ["Findable by keyword"]
    page = organisation_client.get("/data-product/hcp-360", headers=HTML).text
    assert "Findable by keyword" in text_of(page)
    domain = text_of(organisation_client.get("/domain/commercial", headers=HTML).text)
    assert "0 of 7 pass" in domain


def test_stored_products_failing_new_rules_are_reported_at_start_and_kept(
    organisation_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    deadline = time.monotonic() + 60
    while (health := organisation_client.get("/healthz").json())["stored_conformance"]["state"] == "checking":
        assert time.monotonic() < deadline, health
        time.sleep(0.05)
    conformance = health["stored_conformance"]
    assert conformance["state"] == "done"
    assert conformance["nonconforming_products"] == SEED_PRODUCTS
    assert conformance["violations"] >= SEED_PRODUCTS
    assert "HCP 360" in conformance["examples"] or len(conformance["examples"]) == 5
    logged = [r.getMessage() for r in caplog.records if "do not conform to the shapes in force" in r.getMessage()]
    assert len(logged) == 1 and logged[0].startswith(f"{SEED_PRODUCTS} stored product(s)"), logged
    products = post(organisation_client, "{ dataProducts(first: 100) { edges { node { id } } } }")
    assert len(products["data"]["dataProducts"]["edges"]) == SEED_PRODUCTS  # reported, never removed


def test_the_packaged_shapes_need_no_check_at_start(client: TestClient) -> None:
    assert client.get("/healthz").json()["stored_conformance"]["state"] == "not checked"


# --- the CLI: writes and the dry run -------------------------------------------------------------------------------


@pytest.fixture
def seeded_dir(tmp_path: Path) -> str:
    """A catalog on disk holding the seed, as `valuemesh serve` leaves it."""
    location = str(tmp_path / "catalog")
    store = OxigraphStore(location)
    from server.catalog.seeding import prepare

    prepare(store, with_seed=True)
    store.close()
    del store
    return location


def test_a_dry_run_of_new_rules_names_the_stored_products_they_would_fail(  # type: ignore[no-untyped-def]
    cli, seeded_dir: str
) -> None:
    today = cli("validate", "--store", seeded_dir)
    assert today.exit_code == 0, today.stdout
    assert f"0 of {SEED_PRODUCTS} stored product(s) fail these shapes" in today.stdout
    new = cli("validate", "--store", seeded_dir, "--shapes", "builtin", "--shapes", str(ORGANISATION))
    assert new.exit_code == 1
    assert f"{SEED_PRODUCTS} of {SEED_PRODUCTS} stored product(s) fail these shapes: " in new.stdout
    assert "HCP 360" in new.stdout.splitlines()[-1]
    assert "needs at least one keyword" in new.stdout
    again = cli("validate", "--store", seeded_dir)  # the dry run changed nothing
    assert again.exit_code == 0


def test_cli_writes_use_the_shapes_given(cli, seeded_dir: str) -> None:  # type: ignore[no-untyped-def]
    product = str(DATA / "territory-plan.ttl")
    refused = cli("load", product, "--store", seeded_dir, "--shapes", "builtin", "--shapes", str(ORGANISATION))
    assert refused.exit_code == 1
    assert "needs at least one keyword" in refused.stderr
    loaded = cli("load", product, "--store", seeded_dir)
    assert loaded.exit_code == 0, loaded.stderr


def test_the_seed_is_not_forced_past_the_organisations_rules(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VALUEMESH_SHAPES", f"builtin,{ORGANISATION}")
    result = cli("validate", "--store", str(tmp_path / "fresh"))
    assert result.exit_code == 2
    assert "does not meet the shapes in force" in result.stderr and "--no-seed" in result.stderr
    empty = cli("validate", "--store", str(tmp_path / "fresh"), "--no-seed")
    assert empty.exit_code == 0
    assert "0 of 0 stored product(s)" in empty.stdout
