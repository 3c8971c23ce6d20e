"""The register page in a real browser: paste a descriptor, preview it (htmx swaps the answer in), store it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.settings import Settings
from server.web.app import create_app
from tests.browser.conftest import Catalog, serve_catalog
from tests.conftest import admin_token, free_port, serving
from tests.oidc_issuer import AUDIENCE, CLIENT_ID, Issuer

DATA = Path(__file__).parents[1] / "data"
CAT = "https://valuemesh.example/"
PRODUCT = "query ($id: ID!) { dataProduct(id: $id) { id name } }"


def product_named(catalog: Catalog, iri: str) -> str | None:
    """The product's name as GraphQL answers it (None: the catalog has no such product)."""
    answer = httpx.post(
        catalog.url + "/graphql",
        json={"query": PRODUCT, "variables": {"id": iri}},
        headers=catalog.admin_headers,
        timeout=30,
    ).json()
    found = answer["data"]["dataProduct"]
    return found["name"] if found else None


def paste_and_preview(page: Any, url: str, document: str) -> Any:
    page.goto(url + "/register")
    page.get_by_label("Descriptor", exact=True).fill(document)
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#preview")
    preview.get_by_role("heading", name="Preview:").wait_for()
    return preview


def test_a_descriptor_without_an_owner_previews_its_violation_and_nothing_is_stored(
    page: Any, live_catalog: Catalog
) -> None:
    preview = paste_and_preview(page, live_catalog.url, (DATA / "product-without-owner.ttl").read_text())
    assert "a data product needs exactly one owner" in preview.inner_text()
    assert "Owner / Steward" in preview.locator("ol.violations").inner_text()
    assert page.url == live_catalog.url + "/register"  # swapped in by htmx: the page stayed
    assert page.get_by_label("Descriptor", exact=True).input_value().startswith("# Bad: no Owner")  # the text is kept
    assert preview.get_by_role("button", name="Store").count() == 0
    assert product_named(live_catalog, CAT + "data-product/territory-planning") is None


def test_a_good_descriptor_previews_as_passing(page: Any, live_catalog: Catalog) -> None:
    preview = paste_and_preview(page, live_catalog.url, (DATA / "territory-plan.ttl").read_text())
    assert "passes the checklist" in preview.inner_text()
    assert "Storing needs an identity" in preview.inner_text()  # anonymous, no sign-in configured
    assert product_named(live_catalog, CAT + "data-product/territory-plan") is None


def test_storing_with_anonymous_writes_on_loopback_goes_to_the_product(page: Any, tmp_path: Path) -> None:
    with serve_catalog(tmp_path, anonymous_writes=True) as catalog:
        preview = paste_and_preview(page, catalog.url, (DATA / "territory-plan.ttl").read_text())
        assert "passes the checklist" in preview.inner_text()
        preview.get_by_role("button", name="Store").click()
        page.wait_for_url(catalog.url + "/data-product/territory-plan")
        assert "Territory plan" in page.title()
        assert product_named(catalog, CAT + "data-product/territory-plan") == "Territory plan"


def test_without_javascript_the_form_posts_and_the_whole_page_comes_back(browser: Any, live_catalog: Catalog) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(live_catalog.url + "/register")
        page.get_by_label("Descriptor", exact=True).fill((DATA / "product-without-owner.ttl").read_text())
        page.get_by_role("button", name="Preview").click()
        page.wait_for_url(live_catalog.url + "/register/preview")  # a plain form post: a new page
        assert "a data product needs exactly one owner" in page.locator("#preview").inner_text()
        assert page.get_by_label("Descriptor", exact=True).input_value().startswith("# Bad: no Owner")
    finally:
        context.close()
    assert product_named(live_catalog, CAT + "data-product/territory-planning") is None


# --- signed in with the catalog's OIDC provider (the loopback issuer of tests/oidc_issuer.py) ------------------------


@pytest.fixture
def signed_in_catalog(tmp_path: Path) -> Iterator[Catalog]:
    """A catalog whose browsers sign in with the loopback issuer, as Alice of the Commercial domain."""
    groups = tmp_path / "groups.yaml"
    groups.write_text(f"commercial-team: {CAT}domain/commercial\n")
    with Issuer() as issuer:
        issuer.login_claims = {"sub": "alice", "name": "Alice", "groups": ["commercial-team"]}
        port = free_port()
        settings = Settings(
            store=str(tmp_path / "store"),
            seed=True,
            base=f"http://127.0.0.1:{port}/",
            oidc_issuer=issuer.url,
            oidc_audience=AUDIENCE,
            oidc_groups_file=str(groups),
            oidc_client_id=CLIENT_ID,
            session_secret="a-test-session-secret-of-forty-characters",
        )
        app = create_app(settings)
        with serving(app, port) as url:
            yield Catalog(url=url, app=app, admin_headers=admin_token(app))


def test_a_signed_in_person_stores_from_the_page(page: Any, signed_in_catalog: Catalog) -> None:
    catalog = signed_in_catalog
    page.goto(catalog.url + "/register")
    page.get_by_role("link", name="Sign in").click()  # to the provider, which signs Alice in and sends her back
    page.wait_for_url(catalog.url + "/register")
    assert page.locator("header .who").inner_text().startswith("Alice")
    # The seed's IRIs are not under this catalog's base (its loopback URL), so the product has no page here: the
    # browser stays on this server and is told what was stored.
    preview = paste_and_preview(page, catalog.url, (DATA / "territory-plan.ttl").read_text())
    assert "passes the checklist" in preview.inner_text()
    assert "as Alice" in preview.inner_text()
    preview.get_by_role("button", name="Store").click()
    page.wait_for_url("**/register?stored=*")
    assert "Stored Territory plan" in page.get_by_role("status").inner_text()
    assert product_named(catalog, CAT + "data-product/territory-plan") == "Territory plan"
