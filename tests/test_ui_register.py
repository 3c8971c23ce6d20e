"""The register page over HTTP: preview a descriptor (what would be stored, what the checklist says) without writing,
then store it as the caller, through the same write path and policy as the API."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from server.catalog.writes import write_lock
from server.settings import Settings
from server.store import Store
from server.web.app import create_app
from tests.oidc_issuer import Issuer
from tests.test_identity_sign_in import catalog_served, snapshot

DATA = Path(__file__).parent / "data"
DESCRIPTORS = DATA / "descriptors"
CAT = "https://valuemesh.example/"
TERRITORY = CAT + "data-product/territory-plan"
ORIGIN = {"Origin": "http://localhost"}


def text(response: httpx.Response) -> str:
    """The page's text as a person reads it: tags dropped, spaces collapsed (entities as the browser shows them)."""
    words = re.sub(r"<[^>]+>", " ", response.text)
    words = words.replace("&#39;", "'").replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
    return re.sub(r"\s+", " ", words.replace("&amp;", "&"))


def form(document: str, fmt: str = "detect", **extra: str) -> dict[str, tuple[None, str]]:
    return {"document": (None, document), "format": (None, fmt), **{k: (None, v) for k, v in extra.items()}}


def anonymous_client(store: Store, **settings: object) -> TestClient:
    app = create_app(Settings(store="memory:", seed=False, **settings), store=store)  # type: ignore[arg-type]
    return TestClient(app, base_url="http://localhost")


def stored(store: Store, iri: str) -> bool:
    return len(store.record(iri)) > 0


# --- preview ---------------------------------------------------------------------------------------------------


def test_the_form_has_a_labelled_field_for_text_a_file_and_the_format(client: TestClient) -> None:
    page = client.get("/register")
    assert page.status_code == 200
    for control in ("document", "file", "format"):
        assert f'<label for="{control}"' in page.text and f'id="{control}"' in page.text
    assert 'hx-post="/register/preview"' in page.text and 'action="/register/preview"' in page.text


@pytest.mark.parametrize(
    ("path", "fmt"),
    [
        (DATA / "product-without-owner.ttl", "detect"),
        (DESCRIPTORS / "product-missing-checklist-items.valuemesh.yaml", "YAML"),
    ],
)
def test_a_preview_without_an_owner_names_the_violation_and_stores_nothing(
    client: TestClient, seeded_store: Store, path: Path, fmt: str
) -> None:
    before = seeded_store.quad_count()
    shown = client.post("/register/preview", files=form(path.read_text(), fmt))
    assert shown.status_code == 200
    words = text(shown)
    assert "Owner / Steward" in words and "a data product needs exactly one owner" in words
    assert "dprod:dataProductOwner" in words  # where: the property that is missing
    assert "checklist violation" in words and "Nothing has been stored yet" in words
    assert 'id="store-button"' not in shown.text
    assert seeded_store.quad_count() == before


def test_a_preview_neither_waits_for_a_write_in_progress_nor_holds_one_up(client: TestClient) -> None:
    """A preview commits nothing, so it takes no write hold: anyone who may read can preview while a long write
    (here: the write lock held by this test) is under way, and previews never queue the writers."""
    document = (DESCRIPTORS / "hcp-call-planning.valuemesh.yaml").read_text()
    answers: list[int] = []
    with write_lock:
        asking = threading.Thread(
            target=lambda: answers.append(client.post("/register/preview", files=form(document)).status_code)
        )
        asking.start()
        asking.join(timeout=60)
        held = asking.is_alive()
    asking.join()
    assert not held, "the preview waited for the write lock"
    assert answers == [200]


def test_a_good_descriptor_previews_as_passing_with_what_would_be_stored(
    client: TestClient, seeded_store: Store
) -> None:
    before = snapshot(seeded_store)
    shown = client.post("/register/preview", files=form((DATA / "territory-plan.ttl").read_text()))
    words = text(shown)
    assert "passes the checklist" in words
    assert "Name Territory plan" in words and f"IRI {TERRITORY}" in words
    assert "Domain Commercial domain/commercial" in words
    assert "Owner " in words and "(none)" not in words.split("Owner", 1)[1].split("Read as")[0]
    assert "HCP 360 input Api data-product/hcp-360/port/api" in words
    assert "Read as Turtle" in words and "adds a new product" in words
    assert 'id="store-button"' in shown.text  # the caller (an ADMIN token) may store it
    assert snapshot(seeded_store) == before


def test_a_valuemesh_yaml_descriptor_is_read_as_register_reads_it(client: TestClient, seeded_store: Store) -> None:
    before = seeded_store.quad_count()
    yaml_text = (DESCRIPTORS / "hcp-call-planning.valuemesh.yaml").read_text()
    words = text(client.post("/register/preview", files=form(yaml_text)))
    assert "Read as valuemesh YAML" in words and "passes the checklist" in words
    assert "Name HCP call planning" in words and "Weekly call plan output" in words
    assert seeded_store.quad_count() == before


def test_an_uploaded_file_is_previewed_and_its_text_kept_for_storing(client: TestClient) -> None:
    files = {"file": ("plan.ttl", (DATA / "territory-plan.ttl").read_bytes()), "format": (None, "detect")}
    shown = client.post("/register/preview", files=files)
    assert "passes the checklist" in text(shown)
    assert "Territory plan data sharing agreement" in shown.text  # the file's text, in the form to store


@pytest.mark.parametrize(
    ("document", "fmt", "says"),
    [
        ("", "detect", "the document is empty"),
        ("   \n# only a comment\n", "detect", "the document is empty"),
        ("name: [unclosed\nowner: x\n", "YAML", "At line 2, column 6"),
        ("@prefix ex: <https://example.org/> .\nex:a ex:b .\n", "TURTLE", "At line 2, column"),
        ("just: a mapping\n", "YAML", "not a data product descriptor"),
        ("x", "PDF", "unknown format 'PDF'"),
    ],
)
def test_unusable_input_gets_a_clear_error_and_stores_nothing(
    client: TestClient, seeded_store: Store, document: str, fmt: str, says: str
) -> None:
    before = seeded_store.quad_count()
    shown = client.post("/register/preview", files=form(document, fmt))
    assert shown.status_code == 400
    assert says in text(shown) and "Nothing was stored" in text(shown)
    assert seeded_store.quad_count() == before


def test_a_turtle_error_says_where_it_is(client: TestClient) -> None:
    words = text(client.post("/register/preview", files=form("@prefix ex: <https://example.org/> .\n\nex:a ex:b .\n")))
    assert "At line 3, column" in words


def test_a_document_over_the_limit_is_refused_with_the_limit(client: TestClient, seeded_store: Store) -> None:
    before = seeded_store.quad_count()
    big = "# padding\n" * 110_000
    for files in ({"file": ("big.ttl", big.encode()), "format": (None, "detect")}, form(big)):
        shown = client.post("/register/preview", files=files)
        assert shown.status_code == 400
        assert "descriptors up to 1,000,000 bytes" in text(shown)
    assert seeded_store.quad_count() == before


def test_htmx_gets_the_preview_alone_to_swap_into_the_page(client: TestClient) -> None:
    shown = client.post(
        "/register/preview",
        files=form((DATA / "product-without-owner.ttl").read_text()),
        headers={"HX-Request": "true"},
    )
    assert shown.status_code == 200 and "<html" not in shown.text
    assert "Owner / Steward" in shown.text
    bad = client.post("/register/preview", files=form("", "detect"), headers={"HX-Request": "true"})
    assert bad.status_code == 200 and "the document is empty" in bad.text  # htmx swaps 2xx answers only


def test_markup_in_a_descriptor_is_shown_as_text(client: TestClient) -> None:
    hostile = (
        (DATA / "territory-plan.ttl").read_text().replace('"Territory plan" ;', '"<script>alert(1)</script>" ;', 1)
    )
    shown = client.post("/register/preview", files=form(hostile))
    assert "<script>alert(1)</script>" not in shown.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown.text


# --- storing ---------------------------------------------------------------------------------------------------


def test_storing_with_an_identity_stores_it_and_goes_to_its_page(client: TestClient, seeded_store: Store) -> None:
    document = (DATA / "territory-plan.ttl").read_text()
    done = client.post("/register/store", files=form(document, "TURTLE"), headers=ORIGIN, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/data-product/territory-plan"
    assert stored(seeded_store, TERRITORY)
    product_page = client.get(done.headers["location"], headers={"Accept": "text/html"})
    assert product_page.status_code == 200 and "Territory plan" in product_page.text


def test_storing_a_product_that_fails_the_checklist_stores_nothing(client: TestClient, seeded_store: Store) -> None:
    before = seeded_store.quad_count()
    refused = client.post(
        "/register/store", files=form((DATA / "product-without-owner.ttl").read_text()), headers=ORIGIN
    )
    assert refused.status_code == 422 and "Owner / Steward" in text(refused)
    assert seeded_store.quad_count() == before


def test_a_form_posted_from_another_site_is_refused(seeded_store: Store) -> None:
    before = snapshot(seeded_store)
    with anonymous_client(seeded_store, anonymous_writes=True) as browser:
        for headers in (
            {"Origin": "https://evil.example"},
            {"Sec-Fetch-Site": "cross-site"},
            {"Origin": "null", "Sec-Fetch-Site": "same-site"},
            {"Origin": "null"},  # a sandboxed frame on any site
            {},
        ):
            refused = browser.post(
                "/register/store", files=form((DATA / "territory-plan.ttl").read_text()), headers=headers
            )
            assert refused.status_code == 403, headers
            assert "Nothing was stored" in text(refused)
    assert snapshot(seeded_store) == before


def test_anonymous_writes_on_loopback_store_from_the_page(seeded_store: Store) -> None:
    with anonymous_client(seeded_store, anonymous_writes=True) as browser:
        shown = browser.post("/register/preview", files=form((DATA / "territory-plan.ttl").read_text()))
        assert 'id="store-button"' in shown.text
        done = browser.post(
            "/register/store",
            files=form((DATA / "territory-plan.ttl").read_text()),
            headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"},  # as Chromium posts it (no-referrer)
            follow_redirects=False,
        )
        assert done.status_code == 303
    assert stored(seeded_store, TERRITORY)


def test_without_an_identity_the_form_previews_but_cannot_store(seeded_store: Store) -> None:
    before = snapshot(seeded_store)
    with anonymous_client(seeded_store) as browser:
        shown = browser.post("/register/preview", files=form((DATA / "territory-plan.ttl").read_text()))
        words = text(shown)
        assert "passes the checklist" in words
        assert 'id="store-button"' not in shown.text
        assert "Storing needs an identity" in words and "valuemesh register --server" in words
        refused = browser.post("/register/store", files=form((DATA / "territory-plan.ttl").read_text()), headers=ORIGIN)
        assert refused.status_code == 403 and "storing needs an identity" in text(refused)
    assert snapshot(seeded_store) == before


# --- editing ---------------------------------------------------------------------------------------------------


def test_editing_fills_the_form_with_the_products_record_which_previews_unchanged(client: TestClient) -> None:
    page = client.get("/register", params={"product": CAT + "data-product/hcp-360"})
    assert page.status_code == 200 and "Edit" in page.text
    document = re.search(r'<textarea id="document"[^>]*>\n(.*?)</textarea>', page.text, re.S)
    assert document is not None
    turtle = document.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&#34;", '"').replace("&#39;", "'")
    turtle = turtle.replace("&quot;", '"').replace("&amp;", "&")
    assert "dprod:DataProduct" in turtle
    shown = client.post("/register/preview", files=form(turtle, "TURTLE"))
    words = text(shown)
    assert "passes the checklist" in words, words[-3000:]
    assert "changes nothing: the catalog holds exactly this" in words


def test_editing_an_unknown_product_says_so(client: TestClient) -> None:
    page = client.get("/register", params={"product": CAT + "data-product/no-such-thing"})
    assert page.status_code == 404 and "has no data product" in text(page)


# --- a person signed in with the browser --------------------------------------------------------------------------


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    with Issuer() as running:
        running.login_claims = {"sub": "alice", "name": "Alice", "groups": ["commercial-team"]}
        yield running


@pytest.fixture
def signed_in(issuer: Issuer, seeded_store: Store, tmp_path: Path) -> Iterator[tuple[httpx.Client, str]]:
    """A browser signed in as Alice (a member of Commercial) and the CSRF token of her register page."""
    with (
        catalog_served(issuer, seeded_store, tmp_path) as url,
        httpx.Client(base_url=url, follow_redirects=True, timeout=30) as browser,
    ):
        page = browser.get("/auth/login", params={"next": "/register"})
        assert page.url.path == "/register" and "Alice" in page.text
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token is not None
        yield browser, token.group(1)


def test_a_signed_in_person_stores_with_the_sessions_csrf_token(
    signed_in: tuple[httpx.Client, str], seeded_store: Store
) -> None:
    browser, csrf = signed_in
    document = (DATA / "territory-plan.ttl").read_text()
    shown = browser.post("/register/preview", files=form(document))
    assert 'id="store-button"' in shown.text and "as Alice" in text(shown)
    before = snapshot(seeded_store)
    for forged in ({}, {"csrf": "guessed"}):
        refused = browser.post("/register/store", files=form(document, **forged))
        assert refused.status_code == 403 and "CSRF token" in text(refused)
    assert snapshot(seeded_store) == before
    done = browser.post("/register/store", files=form(document, csrf=csrf), follow_redirects=False)
    assert done.status_code == 303, text(done)
    assert stored(seeded_store, TERRITORY)


def test_a_person_without_rights_in_the_domain_is_told_the_missing_right(
    signed_in: tuple[httpx.Client, str], seeded_store: Store
) -> None:
    browser, csrf = signed_in
    elsewhere = (DATA / "territory-plan.ttl").read_text().replace("<domain/commercial>", "<domain/marketing>")
    shown = text(browser.post("/register/preview", files=form(elsewhere)))
    assert "You may not store it: Alice may not write" in shown and "domain/marketing" in shown
    before = snapshot(seeded_store)
    refused = browser.post("/register/store", files=form(elsewhere, csrf=csrf))
    assert refused.status_code == 403 and "Alice may not write" in text(refused)
    assert snapshot(seeded_store) == before


def test_json_ld_and_odps_are_read_and_the_conversions_notes_shown(client: TestClient) -> None:
    words = text(client.post("/register/preview", files=form((DATA / "territory-plan.jsonld").read_text())))
    assert "Read as JSON-LD" in words and "passes the checklist" in words
    odps = (DESCRIPTORS / "odps-with-contract" / "customer-orders.odps.yaml").read_text()
    words = text(client.post("/register/preview", files=form(odps)))
    assert "Read as ODPS" in words and "Name Customer orders" in words
    assert "names contract customer-orders-contract, which was not found" in words  # the conversion's note
    assert "Data sharing agreement" in words and "dct:accessRights" in words  # the violation and where


def test_a_restricted_product_cannot_be_opened_for_editing_by_an_outsider(
    client: TestClient, seeded_store: Store
) -> None:
    restricted = (
        (DATA / "territory-plan.ttl")
        .read_text()
        .replace("dprod:domain <domain/commercial> ;", "dprod:domain <domain/commercial> ; vm:restricted true ;", 1)
    )
    assert "vm:restricted true" in restricted
    done = client.post("/register/store", files=form(restricted), headers=ORIGIN, follow_redirects=False)
    assert done.status_code == 303
    assert client.get("/register", params={"product": TERRITORY}).status_code == 200  # the ADMIN may
    with anonymous_client(seeded_store) as outsider:
        page = outsider.get("/register", params={"product": TERRITORY})
        assert page.status_code == 404 and "Territory plan" not in page.text
        assert "Stored" not in text(outsider.get("/register", params={"stored": TERRITORY}))


def test_a_body_that_is_no_form_is_refused_on_the_page(client: TestClient, seeded_store: Store) -> None:
    before = seeded_store.quad_count()
    broken = client.post(
        "/register/preview", content=b"--x\r\nnot a part", headers={"Content-Type": "multipart/form-data; boundary=x"}
    )
    assert broken.status_code == 400 and "Nothing was stored" in text(broken)
    assert seeded_store.quad_count() == before
