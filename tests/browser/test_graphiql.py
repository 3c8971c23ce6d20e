"""GraphiQL and the API docs in a real browser with the network cut to loopback: everything they load comes from
the catalog (the `page` fixture refuses and reports any other host, and any console error)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from tests.browser.conftest import Catalog

QUERY = "{ dataProducts(first: 3) { edges { node { name } } } }"


def test_graphiql_runs_a_typed_query_and_shows_the_products(page: Any, live_catalog: Catalog) -> None:
    page.goto(live_catalog.url + "/graphql")
    editor = page.locator(".graphiql-query-editor .CodeMirror")
    editor.click()  # GraphiQL has drawn its editor: its scripts all came from this server
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(QUERY)  # as typed, without the editor's automatic closing brackets
    page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()
    result = page.locator(".result-window")
    result.get_by_text('"CRM interactions"').wait_for()
    assert '"Digital Engagement"' in result.inner_text()
    assert "?q=" in page.url  # the query is kept in the URL, to be shared


def test_graphiql_runs_the_query_with_ctrl_enter_and_opens_its_explorer_and_dialogs(
    page: Any, live_catalog: Catalog
) -> None:
    page.goto(live_catalog.url + "/graphql?q=" + quote(QUERY))  # a query shared by its URL
    page.locator(".graphiql-query-editor .CodeMirror").click()
    page.keyboard.press("Control+Enter")
    page.locator(".result-window").get_by_text('"CRM interactions"').wait_for()
    page.get_by_label("Show GraphiQL Explorer").click()
    page.get_by_text("dataProducts", exact=True).first.wait_for()  # the explorer plugin lists the schema's fields
    page.get_by_label("Open settings dialog").click()  # a dialog writes a <style> element: the policy allows it
    page.get_by_role("dialog").wait_for()
    page.keyboard.press("Escape")


def test_the_api_docs_show_the_operations(page: Any, live_catalog: Catalog) -> None:
    page.goto(live_catalog.url + "/docs")
    page.locator(".opblock").first.wait_for()
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert {"/graphql", "/sparql", "/healthz", "/api/v1/load"} <= set(paths)
    page.locator(".opblock-summary").filter(has_text="/healthz").click()
    page.get_by_role("button", name="Try it out").click()
    page.get_by_role("button", name="Execute").click()
    page.locator(".live-responses-table").get_by_text('"status": "ok"').wait_for()
