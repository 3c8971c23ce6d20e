"""IRIs minted from names (server/catalog/iris.py) as users meet them: the same name gives the same IRI through
GraphQL, descriptors and the CLI; names in any script stay readable; a name that would take another product's IRI
is refused, naming that product."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from fastapi.testclient import TestClient

from server.namespaces import sparql_prefixes
from tests.conftest import CliResult
from tests.test_graphql_mutations import CAT, CREATE, REGISTER, post, territory_plan_input

PRODUCT = """query ($id: ID!) { dataProduct(id: $id) { id name description outputPorts { id } } }"""
PRODUCTS_NAMED = "SELECT ?product WHERE { ?product a dprod:DataProduct ; rdfs:label ?name } ORDER BY ?product"


def created(client: TestClient, name: str, **changes: Any) -> dict[str, Any]:
    """createDataProduct for a product called `name` (the territory plan's fields otherwise)."""
    body = post(client, CREATE, input=territory_plan_input(name=name, useCases=[], **changes))
    assert "errors" not in body, body["errors"]
    return body["data"]["createDataProduct"]  # type: ignore[no-any-return]


def descriptor(name: str, description: str = "Each customer, one row.", domain: str = "Commercial") -> str:
    """A conforming valuemesh YAML descriptor for a product called `name`."""
    return yaml.safe_dump(
        {
            "valuemesh": "1.0",
            "name": name,
            "description": description,
            "type": "consumer-oriented",
            "domain": domain,
            "owner": "Head of Customer Insights",
            "ports": {"output": [{"name": "Customer table", "mechanism": "table"}]},
            "sharing": {
                "access": "approval-required",
                "policy": "Commercial analysts; others on request.",
                "distribution": "Not outside the company.",
                "slos": [{"name": "Daily freshness", "indicator": "timeliness", "target": 99, "period": "P1D"}],
            },
            "privacy": {"classification": "confidential"},
        },
        allow_unicode=True,
    )


def registered(client: TestClient, document: str) -> dict[str, Any]:
    body = post(client, REGISTER, document=document, format="YAML")
    assert "errors" not in body, body["errors"]
    return body["data"]["registerDataProduct"]  # type: ignore[no-any-return]


def test_the_yaml_of_a_product_created_through_graphql_updates_it(client: TestClient) -> None:
    product = created(client, "CustomerView")
    assert product["id"] == CAT + "data-product/customerview"
    again = registered(client, descriptor("CustomerView", description="Now from the team's git repository."))
    assert again["__typename"] == "DataProduct"
    assert again["id"] == product["id"]
    shown = post(client, PRODUCT, id=product["id"])["data"]["dataProduct"]
    assert shown["description"] == "Now from the team's git repository."


def test_a_product_minted_the_old_way_keeps_its_iri_when_its_yaml_is_registered_again(client: TestClient) -> None:
    # Before one function minted every IRI, the YAML import split camelCase: "CustomerView" got customer-view.
    old = CAT + "data-product/customer-view"
    document = (
        Path(__file__).parent.joinpath("data", "territory-plan.ttl").read_text()
        .replace("data-product/territory-plan", "data-product/customer-view")
        .replace('"Territory plan"', '"CustomerView"')
    )  # fmt: skip
    stored = post(client, REGISTER, document=document, format="TURTLE")["data"]["registerDataProduct"]
    assert (stored["id"], stored["name"]) == (old, "CustomerView")
    again = registered(client, descriptor("CustomerView", description="Re-registered."))
    assert again["id"] == old
    assert post(client, PRODUCT, id=old)["data"]["dataProduct"]["description"] == "Re-registered."
    assert post(client, PRODUCT, id=CAT + "data-product/customerview")["data"]["dataProduct"] is None


def test_a_chinese_name_gets_a_readable_iri_that_every_face_answers(client: TestClient) -> None:
    product = created(client, "客户视图", outputPorts=[{"name": "订单表", "mechanism": "TABLE"}])
    iri = CAT + "data-product/客户视图"
    assert product["id"] == iri
    shown = post(client, PRODUCT, id=iri)["data"]["dataProduct"]
    assert (shown["name"], shown["outputPorts"]) == ("客户视图", [{"id": iri + "/port/订单表"}])

    query = sparql_prefixes() + PRODUCTS_NAMED.replace("?name }", '"客户视图" }')
    answer = client.get("/sparql", params={"query": query}, headers={"Accept": "application/sparql-results+json"})
    assert answer.status_code == 200, answer.text
    assert [row["product"]["value"] for row in answer.json()["results"]["bindings"]] == [iri]

    path = "/data-product/" + quote("客户视图")
    assert path == "/data-product/%E5%AE%A2%E6%88%B7%E8%A7%86%E5%9B%BE"
    page = client.get(path, headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "客户视图" in page.text
    turtle = client.get(path, headers={"Accept": "text/turtle"})
    assert turtle.status_code == 200 and "客户视图" in turtle.text


def test_two_chinese_names_get_distinct_iris_through_graphql_and_yaml(client: TestClient) -> None:
    first = created(client, "客户视图")
    second = registered(client, descriptor("订单视图"))
    assert (first["id"], second["id"]) == (CAT + "data-product/客户视图", CAT + "data-product/订单视图")


@pytest.mark.parametrize("face", ["graphql", "yaml"])
def test_a_name_that_would_take_another_products_iri_is_a_conflict_naming_it(client: TestClient, face: str) -> None:
    taken = created(client, "Customer View")["id"]
    assert taken == CAT + "data-product/customer-view"
    if face == "graphql":
        body = post(
            client, CREATE, input=territory_plan_input(name="customer-view", domain=CAT + "domain/medical-affairs")
        )
    else:
        body = post(client, REGISTER, document=descriptor("customer-view", domain="Medical affairs"), format="YAML")
    error = body["errors"][0]
    assert error["extensions"]["code"] == "CONFLICT"
    assert f"already names {taken} (‘Customer View’); choose another name" in error["message"]
    assert post(client, PRODUCT, id=taken)["data"]["dataProduct"]["name"] == "Customer View"


@pytest.mark.parametrize("face", ["graphql", "yaml"])
def test_a_name_of_only_punctuation_is_refused(client: TestClient, face: str) -> None:
    if face == "graphql":
        body = post(client, CREATE, input=territory_plan_input(name="!!! — ???"))
    else:
        body = post(client, REGISTER, document=descriptor("!!! — ???"), format="YAML")
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_INPUT"
    assert "give a name with letters or digits" in error["message"]


def test_register_on_the_command_line_mints_the_same_iris(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = str(tmp_path / "catalog")
    files = {"chinese": "客户视图", "camel": "CustomerView", "spaced": "Customer View"}
    for file, name in files.items():
        (tmp_path / f"{file}.valuemesh.yaml").write_text(descriptor(name), encoding="utf-8")
    paths = [str(tmp_path / f"{file}.valuemesh.yaml") for file in files]
    first: CliResult = cli("register", *paths, "--store", store)
    assert first.exit_code == 0, first.stderr
    for segment in ("客户视图", "customerview", "customer-view"):
        assert f"added     {CAT}data-product/{segment}\n" in first.stdout

    (tmp_path / "camel.valuemesh.yaml").write_text(descriptor("CustomerView", "Changed."), encoding="utf-8")
    again = cli("register", str(tmp_path / "camel.valuemesh.yaml"), "--store", store)
    assert again.exit_code == 0, again.stderr
    assert f"replaced  {CAT}data-product/customerview\n" in again.stdout

    taken = tmp_path / "taken.valuemesh.yaml"
    taken.write_text(descriptor("customer-view", domain="Medical affairs"), encoding="utf-8")
    clash = cli("register", str(taken), "--store", store)
    assert clash.exit_code == 2
    assert f"already names {CAT}data-product/customer-view (‘Customer View’)" in clash.stderr

    symbols = tmp_path / "symbols.valuemesh.yaml"
    symbols.write_text(descriptor("★ ★ ★"), encoding="utf-8")
    refused = cli("register", str(symbols), "--store", store)
    assert refused.exit_code == 2
    assert "give a name with letters or digits" in refused.stderr
