"""Browser sign-in end to end: the app under uvicorn, the loopback issuer (tests/oidc_issuer.py), and an httpx
client following the redirects between them as a browser would, cookies and all."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from rdflib import RDF, URIRef

from server.errors import BadInput
from server.namespaces import ORG, PROV
from server.settings import Settings
from server.store import Store
from server.web.app import create_app
from server.web.sign_in import safe_next
from tests.conftest import free_port, serving
from tests.oidc_issuer import AUDIENCE, CLIENT_ID, Issuer

DATA = Path(__file__).parent / "data"
CAT = "https://valuemesh.example/"
COMMERCIAL = CAT + "domain/commercial"
SECRET = "a-test-session-secret-of-forty-characters"
REGISTER = "mutation ($d: String!) { registerDataProduct(document: $d) { __typename ... on DataProduct { id } } }"


def snapshot(store: Store) -> bytes:
    out = io.BytesIO()
    store.dump(out, "application/n-quads")
    return b"\n".join(sorted(out.getvalue().splitlines()))


def settings_for(issuer: Issuer, base: str, groups_file: Path | None = None, **overrides: Any) -> Settings:
    return Settings(
        store="memory:",
        seed=False,
        base=base,
        oidc_issuer=issuer.url,
        oidc_audience=AUDIENCE,
        oidc_groups_file=str(groups_file) if groups_file else None,
        oidc_client_id=CLIENT_ID,
        session_secret=SECRET,
        **overrides,
    )


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    with Issuer() as running:
        running.login_claims = {"sub": "alice", "name": "Alice", "groups": ["commercial-team"]}
        yield running


@contextmanager
def catalog_served(issuer: Issuer, store: Store, tmp_path: Path, **overrides: Any) -> Iterator[str]:
    """The catalog under uvicorn on loopback, browsers signing in with the issuer; yields its URL."""
    groups = tmp_path / "groups.yaml"
    groups.write_text(f"commercial-team: {COMMERCIAL}\n")
    port = free_port()
    # VALUEMESH_BASE is where browsers reach the catalog (the sign-in's redirect URI is made from it)
    app = create_app(settings_for(issuer, f"http://127.0.0.1:{port}/", groups, **overrides), store=store)
    with serving(app, port) as url:
        yield url


@pytest.fixture
def server(issuer: Issuer, seeded_store: Store, tmp_path: Path) -> Iterator[str]:
    with catalog_served(issuer, seeded_store, tmp_path) as url:
        yield url


@pytest.fixture
def browser(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, follow_redirects=True, timeout=30) as client:
        yield client


def product_document() -> str:
    """A conforming product of the Commercial domain (its document names its own @base, the seed's)."""
    return (DATA / "territory-plan.ttl").read_text()


def sign_in(browser: httpx.Client, next_path: str = "/auth/session") -> httpx.Response:
    return browser.get("/auth/login", params={"next": next_path})


def to_the_provider_and_back(browser: httpx.Client) -> tuple[str, dict[str, str]]:
    """Start a sign-in and follow it to the provider, stopping before the callback: (callback URL, its query)."""
    leaving = browser.get("/auth/login", follow_redirects=False)
    assert leaving.status_code == 302
    coming_back = browser.get(leaving.headers["location"], follow_redirects=False)
    assert coming_back.status_code == 302
    callback = coming_back.headers["location"]
    return callback, {name: values[0] for name, values in parse_qs(urlsplit(callback).query).items()}


def session_of(browser: httpx.Client) -> dict[str, Any]:
    return browser.get("/auth/session").json()  # type: ignore[no-any-return]


def register(browser: httpx.Client, **headers: str) -> httpx.Response:
    return browser.post("/graphql", json={"query": REGISTER, "variables": {"d": product_document()}}, headers=headers)


# --- the flow ------------------------------------------------------------------------------------------------


def test_signing_in_starts_a_session_whose_cookie_writes_the_domain_products(
    browser: httpx.Client, issuer: Issuer, server: str
) -> None:
    leaving = browser.get("/auth/login", params={"next": "/auth/session"}, follow_redirects=False)
    query = parse_qs(urlsplit(leaving.headers["location"]).query)
    assert leaving.headers["location"].startswith(issuer.url + "/authorize?")
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["state"][0] and query["nonce"][0] and query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == [f"{server}/auth/callback"]

    landed = browser.get(leaving.headers["location"])  # the provider signs Alice in and sends her back
    assert landed.url.path == "/auth/session"
    assert landed.json()["signedIn"] is True
    assert landed.json()["name"] == "Alice"
    assert landed.json()["domains"] == [COMMERCIAL]
    cookie = next(r for r in landed.history if r.url.path == "/auth/callback").headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "max-age=28800" in cookie
    assert "secure" not in cookie  # served over plain http on loopback

    written = register(browser)
    assert written.json()["data"]["registerDataProduct"]["__typename"] == "DataProduct", written.text


def test_a_forged_state_is_refused_and_nobody_is_signed_in(browser: httpx.Client, seeded_store: Store) -> None:
    callback, query = to_the_provider_and_back(browser)
    forged = callback.replace(f"state={query['state']}", "state=forged-by-another-site")
    refused = browser.get(forged)
    assert refused.status_code == 400
    assert "not started in this browser" in refused.json()["detail"]
    assert session_of(browser) == {"signedIn": False}
    assert browser.get(callback).status_code == 400  # the sign-in it interrupted cannot be finished either
    before = snapshot(seeded_store)
    assert register(browser).json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert snapshot(seeded_store) == before


def test_a_replayed_code_is_refused(browser: httpx.Client, server: str) -> None:
    callback, first = to_the_provider_and_back(browser)
    browser.get(callback)  # the code is used here
    assert session_of(browser)["signedIn"] is True

    with httpx.Client(base_url=server, timeout=30) as attacker:  # another browser, its own sign-in under way
        _, theirs = to_the_provider_and_back(attacker)
        replay = attacker.get("/auth/callback", params={"code": first["code"], "state": theirs["state"]})
        assert replay.status_code == 401
        assert "refused the sign-in code" in replay.json()["detail"]
        assert session_of(attacker) == {"signedIn": False}


def test_an_id_token_with_another_nonce_is_refused(browser: httpx.Client, issuer: Issuer) -> None:
    issuer.id_token_nonce = "a-nonce-from-another-sign-in"
    refused = sign_in(browser)
    assert refused.status_code == 401
    assert "nonce does not match" in refused.json()["detail"]
    assert session_of(browser) == {"signedIn": False}


def test_an_error_from_the_provider_is_shown(browser: httpx.Client) -> None:
    _, query = to_the_provider_and_back(browser)
    refused = browser.get("/auth/callback", params={"state": query["state"], "error": "access_denied"})
    assert refused.status_code == 401 and "access_denied" in refused.json()["detail"]


def test_logout_needs_the_csrf_token(browser: httpx.Client) -> None:
    signed = sign_in(browser).json()
    assert signed["signedIn"] is True
    for form in ({}, {"csrf": "guessed"}):
        refused = browser.post("/auth/logout", data=form)
        assert refused.status_code == 403
        assert "CSRF token" in refused.json()["detail"]
        assert session_of(browser)["signedIn"] is True

    out = browser.post("/auth/logout", data={"csrf": signed["csrfToken"]}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/"
    assert session_of(browser) == {"signedIn": False}
    assert register(browser).json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(("secret", "signed_in"), [("the-client-secret", True), ("a-wrong-secret", False)])
def test_a_confidential_client_authenticates_at_the_token_endpoint(
    issuer: Issuer, seeded_store: Store, tmp_path: Path, secret: str, signed_in: bool
) -> None:
    issuer.client_secret = "the-client-secret"
    with (
        catalog_served(issuer, seeded_store, tmp_path, oidc_client_secret=secret) as url,
        httpx.Client(base_url=url, follow_redirects=True, timeout=30) as browser,
    ):
        landed = sign_in(browser)
        assert session_of(browser)["signedIn"] is signed_in
        if not signed_in:
            assert landed.status_code == 401 and "invalid_client" in landed.json()["detail"]


def test_a_bearer_header_wins_over_the_session(browser: httpx.Client) -> None:
    assert sign_in(browser).json()["signedIn"] is True
    refused = register(browser, Authorization="Bearer not-a-token")
    assert refused.status_code == 401


def test_an_altered_session_cookie_is_nobody(browser: httpx.Client, server: str) -> None:
    assert sign_in(browser).json()["signedIn"] is True
    value = browser.cookies["valuemesh-session"]
    with httpx.Client(base_url=server, cookies={"valuemesh-session": "x" + value[1:]}, timeout=30) as other:
        assert session_of(other) == {"signedIn": False}


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "/%0d%0a"]
)
def test_after_sign_in_the_browser_goes_only_to_paths_of_this_server(browser: httpx.Client, target: str) -> None:
    landed = sign_in(browser, target)
    assert urlsplit(str(landed.url)).netloc == urlsplit(str(browser.base_url)).netloc
    callback = next(r for r in landed.history if r.url.path == "/auth/callback")
    assert callback.headers["location"] == ("/%0d%0a" if target == "/%0d%0a" else "/")


def test_safe_next_keeps_paths_and_queries() -> None:
    assert safe_next("/graphql?query=x#y") == "/graphql?query=x#y"
    assert safe_next("/\t/evil.example") == "/"
    assert safe_next(None) == "/"


# --- the app's own guarantees still hold ---------------------------------------------------------------------


def test_sign_in_pages_carry_the_strict_security_headers(browser: httpx.Client) -> None:
    health = browser.get("/healthz")
    for path in ("/auth/login", "/auth/session"):
        response = browser.get(path, follow_redirects=False)
        assert response.headers["content-security-policy"] == health.headers["content-security-policy"]
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["x-frame-options"] == "DENY"


def test_over_https_the_cookie_is_secure_and_host_only(issuer: Issuer, seeded_store: Store) -> None:
    app = create_app(settings_for(issuer, CAT), store=seeded_store)
    with TestClient(app, base_url="https://valuemesh.example") as client:
        leaving = client.get("/auth/login", follow_redirects=False)
    cookie = leaving.headers["set-cookie"].lower()
    assert cookie.startswith("__host-valuemesh-session=")
    assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert "redirect_uri=https%3A%2F%2Fvaluemesh.example%2Fauth%2Fcallback" in leaving.headers["location"]


def test_where_reads_need_an_identity_signing_in_is_still_possible(issuer: Issuer, seeded_store: Store) -> None:
    app = create_app(settings_for(issuer, CAT, read_access="authenticated"), store=seeded_store)
    with TestClient(app, base_url="https://valuemesh.example") as client:
        assert client.get("/auth/login", follow_redirects=False).status_code == 302
        assert client.get("/auth/session").json() == {"signedIn": False}
        assert client.post("/graphql", json={"query": "{ __typename }"}).status_code == 401


def test_a_provider_that_does_not_answer_is_a_clear_502(issuer: Issuer, seeded_store: Store) -> None:
    app = create_app(settings_for(issuer, CAT), store=seeded_store)
    issuer.stop()
    with TestClient(app, base_url="https://valuemesh.example") as client:
        refused = client.get("/auth/login", follow_redirects=False)
    assert refused.status_code == 502
    assert "cannot reach the issuer" in refused.json()["detail"]


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"session_secret": None}, "VALUEMESH_SESSION_SECRET must be set"),
        ({"session_secret": "short"}, "at least 32"),
        ({"base": "http://catalog.example/"}, "VALUEMESH_BASE to be the https URL"),
    ],
)
def test_sign_in_without_what_it_needs_does_not_start(
    issuer: Issuer, seeded_store: Store, overrides: dict[str, Any], reason: str
) -> None:
    settings = settings_for(issuer, CAT)
    fields = {**settings.__dict__, **overrides}
    with pytest.raises(BadInput, match=reason):
        create_app(Settings(**fields), store=seeded_store)


def test_sign_in_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VALUEMESH_OIDC_CLIENT_ID", "web")
    monkeypatch.setenv("VALUEMESH_OIDC_CLIENT_SECRET", "s3cret")
    monkeypatch.setenv("VALUEMESH_SESSION_SECRET", SECRET)
    settings = Settings.from_env()
    assert (settings.oidc_client_id, settings.oidc_client_secret, settings.session_secret) == ("web", "s3cret", SECRET)
    assert "s3cret" not in repr(settings) and SECRET not in repr(settings)


def test_a_membership_given_or_taken_in_the_graph_reaches_a_signed_in_browser_at_once(
    browser: httpx.Client, issuer: Issuer, server: str, seeded_store: Store
) -> None:
    issuer.login_claims = {"sub": "bob", "name": "Bob"}  # no groups: no domain from the token
    assert sign_in(browser).json()["domains"] == []
    assert register(browser).json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    bob = URIRef(f"{server}/agent/bob")
    seeded_store.replace_records({str(bob): [(bob, RDF.type, PROV.Agent), (bob, ORG.memberOf, URIRef(COMMERCIAL))]})
    assert session_of(browser)["domains"] == [COMMERCIAL]  # the same session, no new sign-in
    assert register(browser).json()["data"]["registerDataProduct"]["__typename"] == "DataProduct"

    seeded_store.replace_records({}, drop=[str(bob)])
    assert session_of(browser)["domains"] == []
