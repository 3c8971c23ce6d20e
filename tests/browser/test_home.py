"""Home in a real browser: typing in the search box narrows the list without a page load (htmx), a product opens
its page, the domain filter narrows the list, and the search is reachable from the keyboard."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import Catalog

ROWS = "#results table.products tbody tr"


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as expecting  # imported here: without Playwright the suite is skipped

    return expecting(locator)


def product_names(page: Any) -> list[str]:
    return [name.strip() for name in page.locator(f"{ROWS} td:first-child > a").all_inner_texts()]


def test_search_narrows_the_list_and_a_product_opens_its_page(page: Any, live_catalog: Catalog) -> None:
    page.goto(live_catalog.url + "/")
    everything = product_names(page)
    assert len(everything) == 9
    page.evaluate("window.loadedOnce = true")  # gone if the browser loads a new page instead of swapping results
    page.get_by_label("Search names and descriptions").fill("engagement")
    # wait_for_function evaluates a string, which the pages' Content-Security-Policy refuses: wait on the rows
    expect(page.locator(ROWS, has_text="HCP master data")).to_have_count(0)
    narrowed = product_names(page)
    assert "Digital Engagement" in narrowed and "HCP master data" not in narrowed
    assert page.evaluate("window.loadedOnce") is True  # the results were swapped in by htmx, not a page load
    assert page.url.endswith("/?q=engagement")  # the address keeps the search (back, reload and sharing show it)
    page.get_by_role("link", name="Digital Engagement", exact=True).click()
    page.wait_for_url("**/data-product/digital-engagement")
    assert "Digital Engagement" in page.title()
    page.go_back()
    page.wait_for_url(lambda url: url.endswith("/?q=engagement"))
    assert "HCP master data" not in product_names(page)


def test_the_domain_filter_narrows_the_list(page: Any, live_catalog: Catalog) -> None:
    page.goto(live_catalog.url + "/")
    page.get_by_label("Domain").select_option(label="Medical Affairs")
    expect(page.locator(ROWS)).to_have_count(1)
    assert product_names(page) == ["Medical inquiries"]
    page.get_by_role("link", name="Medical Affairs").first.click()  # the row's domain opens the domain page
    page.wait_for_url("**/domain/medical-affairs")
    assert page.get_by_role("heading", level=1).inner_text() == "Medical Affairs"
    assert page.locator("#health").inner_text().strip().startswith("1 of 1 pass")


def test_the_search_is_reachable_and_usable_from_the_keyboard(page: Any, live_catalog: Catalog) -> None:
    page.goto(live_catalog.url + "/")
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "q":
            break
    assert page.evaluate("document.activeElement.id") == "q"
    page.keyboard.type("golden")
    expect(page.locator(ROWS)).to_have_count(1)
    assert product_names(page) == ["HCP master data"]
    page.keyboard.press("Tab")  # on to the domain filter
    assert page.evaluate("document.activeElement.id") == "domain"
