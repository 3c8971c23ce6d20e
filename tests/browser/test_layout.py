"""The layout every page shares, in a real browser: it loads nothing from elsewhere and reports no error."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import Catalog


def test_the_home_page_loads_in_the_browser_with_its_navigation(page: Any, live_catalog: Catalog) -> None:
    page.goto(live_catalog.url + "/")
    assert page.title() == "Catalog · valuemesh"
    navigation = page.get_by_role("navigation", name="Catalog pages")
    assert navigation.get_by_role("link", name="Value tree").is_visible()
    page.keyboard.press("Tab")  # the first stop is the way past the navigation
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
