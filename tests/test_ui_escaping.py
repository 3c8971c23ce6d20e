"""Names and descriptions with markup, registered through the real write path, reach the home page, its search
results and the domain page as text: never as a script or an element."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.ui_helpers import HTML, create, product_input, text_of

SCRIPT = "<script>alert(1)</script>"
IMAGE = '"><img src=x onerror=alert(1)>'


def assert_shown_as_text(page: str) -> None:
    assert "<script>alert" not in page and "<img src=x" not in page and "onerror=alert(1)>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert SCRIPT in text_of(page)  # a person reads the name as it was written


def test_markup_in_names_and_descriptions_is_shown_as_text(client: TestClient) -> None:
    create(client, product_input(SCRIPT, description=f"{IMAGE} and {SCRIPT}"))
    create(client, product_input(IMAGE + " reach", description=SCRIPT + " " + IMAGE))
    home = client.get("/").text
    assert_shown_as_text(home)
    assert IMAGE + " reach" in text_of(home)
    found = client.get("/", params={"q": "alert"}, headers={"HX-Request": "true"}).text
    assert_shown_as_text(found)
    searched = client.get("/", params={"q": SCRIPT}).text  # what was typed comes back in the box, as text
    assert_shown_as_text(searched)
    assert 'value="&lt;script&gt;alert(1)&lt;/script&gt;"' in searched
    domain = client.get("/domain/marketing", headers=HTML).text
    assert_shown_as_text(domain)
    bad = client.get("/", params={"domain": IMAGE}).text  # a bad filter value said on the page, as text
    assert "<img src=x" not in bad and "There is no domain" in bad
