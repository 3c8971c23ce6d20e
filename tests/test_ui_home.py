"""Home `/` through real HTTP: the product list with domain, owner, completeness and checklist badge; search (as a
whole page and as the htmx fragment); filters; keyset pages that keep the filters; restricted products absent for
outsiders; bad filter values said on the page."""

from __future__ import annotations

import re
from html import unescape

import pytest
from fastapi.testclient import TestClient
from rdflib import URIRef

from server.namespaces import DCT
from server.web.ui import home
from tests.ui_helpers import CAT, anonymous, create, product_input, product_names, text_of

COMMERCIAL = CAT + "domain/commercial"
WEB_ANALYTICS = CAT + "data-product/web-analytics"
SEED_PRODUCTS = 9


def row_of(page: str, name: str) -> str:
    """The text of the table row of product `name`."""
    for row in re.findall(r"<tr>.*?</tr>", page, re.S):
        if f">{name}</a>" in row:
            return text_of(row)
    raise AssertionError(f"no row for {name}")


def without_description(client: TestClient, iri: str) -> None:
    """Store a product without its description, as a product stored before the checklist asked for one would be
    (a raw write: the write path refuses such a product)."""
    store = client.app.state.catalog.store  # type: ignore[attr-defined]
    record = store.record(iri)
    record.remove((URIRef(iri), DCT.description, None))
    store.replace_records({iri: list(record)})


def test_every_product_is_listed_with_its_domain_owner_completeness_and_badge(client: TestClient) -> None:
    page = client.get("/").text
    names = product_names(page)
    assert len(names) == SEED_PRODUCTS and "HCP 360" in names and names == sorted(names, key=str)  # IRI order
    assert '<a href="/data-product/hcp-360">HCP 360</a>' in page
    assert row_of(page, "HCP 360").startswith("HCP 360")
    assert "Commercial Head of Customer Insights 100 % passes" in row_of(page, "HCP 360")
    assert '<a href="/domain/commercial">Commercial</a>' in page
    counts = text_of(page.split('class="counts"', 1)[1].split("</ul>", 1)[0])
    assert f"{SEED_PRODUCTS} data products" in counts and "3 domains" in counts and "3 use cases" in counts


def test_the_page_links_to_every_other_page(client: TestClient) -> None:
    page = client.get("/").text
    for path in ("/value-tree", "/use-cases", "/interaction-map", "/overlaps", "/register", "/graphql"):
        assert f'href="{path}"' in page


def test_a_product_missing_checklist_items_says_how_many_and_which(client: TestClient) -> None:
    without_description(client, WEB_ANALYTICS)
    page = client.get("/").text
    row = row_of(page, "Web analytics")
    assert "1 missing" in row and "86 %" in row  # 6 of the 7 items of an unregulated domain
    assert 'title="Missing: Description"' in page
    failing = client.get("/", params={"checklist": "failing"}).text
    assert product_names(failing) == ["Web analytics"]
    passing = product_names(client.get("/", params={"checklist": "conforming"}).text)
    assert len(passing) == SEED_PRODUCTS - 1 and "Web analytics" not in passing


def test_search_narrows_the_list_and_htmx_gets_only_the_results(client: TestClient) -> None:
    page = client.get("/", params={"q": "engagement"}).text
    names = product_names(page)
    assert "Digital Engagement" in names and "HCP master data" not in names
    assert f"{len(names)} data products match" in text_of(page)
    assert 'value="engagement"' in page  # the box keeps what was typed
    fragment = client.get("/", params={"q": "engagement"}, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert product_names(fragment.text) == names
    assert "<html" not in fragment.text and '<nav aria-label="Catalog pages"' not in fragment.text
    assert fragment.headers["vary"] == "HX-Request"
    assert fragment.headers["hx-push-url"] == "/?q=engagement"  # the address bar without the blank filters
    # A history entry htmx restores (after going back) is the whole page again.
    restored = client.get(
        "/", params={"q": "engagement"}, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in restored.text


def test_the_search_form_works_without_javascript_and_is_wired_for_htmx(client: TestClient) -> None:
    page = client.get("/").text
    form = page.split('<form class="filters"', 1)[1].split("</form>", 1)[0]
    assert 'method="get"' in form and 'action="/"' in form and 'type="submit"' in form
    assert 'hx-get="/"' in form and 'hx-target="#results"' in form
    for control in ("q", "domain", "type", "checklist"):
        assert f'<label for="{control}">' in form and f'id="{control}"' in form


def test_filters_by_domain_type_and_owner(client: TestClient) -> None:
    commercial = product_names(client.get("/", params={"domain": COMMERCIAL}).text)
    assert len(commercial) == 7 and "Web analytics" not in commercial
    medical = product_names(client.get("/", params={"domain": CAT + "domain/medical-affairs"}).text)
    assert medical == ["Medical inquiries"]
    page = client.get("/", params={"domain": COMMERCIAL}).text
    assert f'<option value="{COMMERCIAL}" selected>Commercial</option>' in page
    sources = product_names(client.get("/", params={"type": "source-oriented"}).text)
    consumers = product_names(client.get("/", params={"type": "consumer-oriented"}).text)
    assert sources and consumers and sorted(sources + consumers) == sorted(product_names(client.get("/").text))
    owner = CAT + "agent/head-of-digital-engagement"
    owned = client.get("/", params={"owner": owner}).text
    assert sorted(product_names(owned)) == ["Digital Engagement", "Email campaign events"]
    assert "Products owned by Head of Digital Engagement" in text_of(owned)
    both = product_names(client.get("/", params={"owner": owner, "q": "bounces"}).text)
    assert both == ["Email campaign events"]


def test_pages_follow_one_another_and_keep_the_filters(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(home, "PAGE_SIZE", 3)
    seen: list[str] = []
    link: str | None = "/?domain=" + COMMERCIAL
    while link is not None:
        page = client.get(unescape(link)).text
        seen += product_names(page)
        found = re.search(r'<a href="([^"]*)" rel="next">', page)
        link = found.group(1) if found else None
        if link is not None:
            assert "domain=https%3A%2F%2Fvaluemesh.example%2Fdomain%2Fcommercial" in link and "after=" in link
    assert len(seen) == 7 == len(set(seen))


def test_pages_of_a_checklist_status_follow_one_another(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(home, "PAGE_SIZE", 4)
    seen: list[str] = []
    link: str | None = "/?checklist=conforming"
    while link is not None:
        page = client.get(unescape(link)).text
        seen += product_names(page)
        found = re.search(r'<a href="([^"]*)" rel="next">', page)
        link = found.group(1) if found else None
        assert link is None or "checklist=conforming" in link
    assert len(seen) == SEED_PRODUCTS == len(set(seen))


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ({"domain": CAT + "domain/no-such-domain"}, "There is no domain"),
        ({"domain": "not an iri"}, "There is no domain"),
        ({"domain": "https://valuemesh.example/domain/x>"}, "There is no domain"),
        ({"owner": CAT + "agent/nobody"}, "There is no owner"),
        ({"type": "big"}, "is no data product type"),
        ({"checklist": "maybe"}, "is no checklist status"),
        ({"after": "not-a-cursor"}, "That page link is not one this catalog made"),
    ],
)
def test_a_bad_filter_value_is_said_on_the_page(client: TestClient, query: dict[str, str], said: str) -> None:
    response = client.get("/", params=query)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert said in text_of(response.text) and 'role="alert"' in response.text
    fragment = client.get("/", params=query, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and said in text_of(fragment.text)  # htmx swaps in only 2xx answers


def test_restricted_products_are_absent_for_outsiders(client: TestClient) -> None:
    create(client, product_input("Field notes", restricted=True))
    assert "Field notes" in product_names(client.get("/").text)  # the ADMIN reads it
    outsider = anonymous(client)
    page = outsider.get("/").text
    assert "Field notes" not in page
    assert f"{SEED_PRODUCTS} data products" in text_of(page.split('class="counts"', 1)[1].split("</ul>", 1)[0])
    assert "Field notes" not in outsider.get("/", params={"q": "field"}, headers={"HX-Request": "true"}).text
    assert "Field notes" not in outsider.get("/", params={"checklist": "conforming"}).text


def test_a_registered_product_is_listed_at_once(client: TestClient) -> None:
    before = client.get("/", params={"checklist": "conforming"}).text  # verdicts remembered...
    assert "Campaign reach" not in before
    create(client, product_input("Campaign reach"))
    after = client.get("/", params={"checklist": "conforming"}).text  # ...until the next write
    assert "Campaign reach" in product_names(after)
    assert "100 % passes" in row_of(client.get("/").text, "Campaign reach")
