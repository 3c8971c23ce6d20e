"""OIDC bearer tokens against a real issuer on loopback (tests/oidc_issuer.py): good RS256 and ES256 tokens write
their domains' products through /graphql; expired, not yet valid, wrong-audience, wrong-issuer, unsigned, HMAC,
tampered and unknown-key tokens are refused (401, UNAUTHENTICATED, a reason) and leave the catalog as it was."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI
from fastapi.testclient import TestClient
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS

from server.catalog.writes import write_records
from server.errors import BadInput, Unauthenticated
from server.identity.principal import SYSTEM, Role
from server.namespaces import ORG, PROV
from server.settings import Settings
from server.store import Store
from server.web.app import create_app
from tests.oidc_issuer import AUDIENCE, Issuer, ec_key

DATA = Path(__file__).parent / "data"
CAT = "https://valuemesh.example/"
COMMERCIAL = CAT + "domain/commercial"
MARKETING = CAT + "domain/marketing"
MEDICAL_AFFAIRS = CAT + "domain/medical-affairs"
TERRITORY_PLAN = CAT + "data-product/territory-plan"

REGISTER = """
mutation ($document: String!) {
  registerDataProduct(document: $document) { __typename ... on DataProduct { id domain { id } } }
}
"""


def product_document(domain: str = "commercial", slug: str = "territory-plan") -> str:
    """A conforming product document (tests/data/territory-plan.ttl) in another domain or under another name."""
    text = (DATA / "territory-plan.ttl").read_text()
    text = text.replace("<domain/commercial>", f"<domain/{domain}>")
    return text.replace("territory-plan", slug).replace("Territory plan", slug.replace("-", " ").capitalize())


def snapshot(store: Store) -> bytes:
    out = io.BytesIO()
    store.dump(out, "application/n-quads")
    return b"\n".join(sorted(out.getvalue().splitlines()))


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    with Issuer() as running:
        yield running


@pytest.fixture
def groups_file(tmp_path: Path) -> Path:
    path = tmp_path / "groups.yaml"
    path.write_text(f"commercial-team: {COMMERCIAL}\nmarketing-and-medical: [{MARKETING}, {MEDICAL_AFFAIRS}]\n")
    return path


def oidc_settings(issuer: Issuer, groups_file: Path | None = None, **overrides: Any) -> Settings:
    return Settings(
        store="memory:",
        seed=False,
        oidc_issuer=issuer.url,
        oidc_audience=AUDIENCE,
        oidc_groups_file=str(groups_file) if groups_file else None,
        **overrides,
    )


@pytest.fixture
def app(issuer: Issuer, groups_file: Path, seeded_store: Store) -> FastAPI:
    return create_app(oidc_settings(issuer, groups_file), store=seeded_store)


@pytest.fixture
def http(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://localhost") as client:
        yield client


def register(http: TestClient, token: str, document: str | None = None) -> tuple[int, dict[str, Any]]:
    response = http.post(
        "/graphql",
        json={"query": REGISTER, "variables": {"document": document or product_document()}},
        headers={"Authorization": f"Bearer {token}"},
    )
    return response.status_code, response.json()


def principal_of(app: FastAPI, token: str) -> Any:
    """Who the catalog takes the bearer of `token` for (the same Authenticator every request goes through)."""
    return app.state.catalog.identity.principal(f"Bearer {token}")


# --- good tokens ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_a_good_token_of_a_domain_group_registers_a_product_of_that_domain(
    http: TestClient, issuer: Issuer, algorithm: str
) -> None:
    key = issuer.rsa if algorithm == "RS256" else issuer.ec
    status, body = register(http, issuer.token(key, groups=["commercial-team"]))
    assert status == 200, body
    assert body["data"]["registerDataProduct"] == {
        "__typename": "DataProduct",
        "id": TERRITORY_PLAN,
        "domain": {"id": COMMERCIAL},
    }


def test_claims_map_to_the_agent_name_roles_and_domains(app: FastAPI, issuer: Issuer) -> None:
    token = issuer.token(
        sub="Alice Smith", name="Alice S.", groups=["marketing-and-medical", "no-such-group"], roles=["governance", "x"]
    )
    principal = principal_of(app, token)
    assert principal.id == CAT + "agent/alice-smith"  # minted as registration mints agents
    assert principal.name == "Alice S."
    assert principal.roles == {Role.READER, Role.GOVERNANCE, Role.DOMAIN_MEMBER}
    assert principal.domains == {MARKETING, MEDICAL_AFFAIRS}
    assert principal.via == "oidc"


def test_an_iri_subject_is_the_agent_and_the_name_falls_back(app: FastAPI, issuer: Issuer) -> None:
    owner = CAT + "agent/field-force-excellence-lead"
    principal = principal_of(app, issuer.token(sub=owner, preferred_username="ffe-lead"))
    assert principal.id == owner
    assert principal.name == "ffe-lead"
    assert principal.roles == {Role.READER}  # no group, no role claim: a reader
    assert principal_of(app, issuer.token(sub="bob")).name == "bob"


def test_nested_role_claims_are_read_with_a_dotted_name(issuer: Issuer, seeded_store: Store) -> None:
    app = create_app(oidc_settings(issuer, oidc_roles_claim="realm_access.roles"), store=seeded_store)
    principal = principal_of(app, issuer.token(realm_access={"roles": ["Admin"]}))
    assert Role.ADMIN in principal.roles


def test_org_member_of_in_the_graph_makes_a_domain_member(
    http: TestClient, app: FastAPI, issuer: Issuer, seeded_store: Store
) -> None:
    agent = URIRef(CAT + "agent/medical-information-lead")
    record = Graph()
    record.add((agent, RDF.type, PROV.Person))
    record.add((agent, RDF.type, PROV.Agent))
    record.add((agent, RDFS.label, Literal("Medical Information Lead")))
    record.add((agent, ORG.memberOf, URIRef(MEDICAL_AFFAIRS)))
    write_records(seeded_store, {str(agent): record}, actor=SYSTEM)  # as an administrator's load would

    token = issuer.token(sub="medical-information-lead")
    principal = principal_of(app, token)
    assert principal.domains == {MEDICAL_AFFAIRS}
    assert Role.DOMAIN_MEMBER in principal.roles
    _, body = register(http, token, product_document("medical-affairs", "inquiry-trends"))
    assert body["data"]["registerDataProduct"]["domain"] == {"id": MEDICAL_AFFAIRS}, body


def test_an_admin_role_writes_any_domain(http: TestClient, issuer: Issuer) -> None:
    _, body = register(http, issuer.token(roles="ADMIN"), product_document("marketing"))
    assert body["data"]["registerDataProduct"]["domain"] == {"id": MARKETING}, body


# --- refused: the catalog unchanged --------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segments(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    return _json(header), _json(payload), signature


def _json(part: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _unsigned(issuer: Issuer) -> str:
    _, payload, _ = _segments(issuer.token(roles=["ADMIN"]))
    return f"{_b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{_b64(json.dumps(payload).encode())}."


def _hmac_with_public_key(issuer: Issuer) -> str:
    """HS256 'signed' with the issuer's public key (PEM), the classic algorithm confusion attack."""
    _, payload, _ = _segments(issuer.token(roles=["ADMIN"]))
    pem = issuer.rsa.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": issuer.rsa.kid}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    return f"{signing_input}.{_b64(hmac.new(pem, signing_input.encode(), hashlib.sha256).digest())}"


def _tampered(issuer: Issuer) -> str:
    """A reader's good token whose payload was changed to claim ADMIN, the signature kept."""
    header, payload, signature = _segments(issuer.token())
    payload["roles"] = ["ADMIN"]
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}.{signature}"


def _wrong_key_type(issuer: Issuer) -> str:
    """ES256 in the header, the RSA key's kid: the key does not match the algorithm."""
    return issuer.token(ec_key(issuer.rsa.kid), roles=["ADMIN"])


now = int(time.time())
REFUSED: dict[str, tuple[Callable[[Issuer], str], str]] = {
    "expired": (lambda i: i.token(roles=["ADMIN"], iat=now - 7200, exp=now - 3600), "the token expired at"),
    "not yet valid": (lambda i: i.token(roles=["ADMIN"], nbf=now + 3600), "not valid yet"),
    "issued in the future": (lambda i: i.token(roles=["ADMIN"], iat=now + 3600, exp=now + 7200), "not valid yet"),
    "no expiry": (lambda i: i.token(roles=["ADMIN"], exp=None), "no `exp` claim"),
    "wrong audience": (lambda i: i.token(roles=["ADMIN"], aud="another-app"), "wrong audience"),
    "wrong issuer": (lambda i: i.token(roles=["ADMIN"], iss="https://evil.example"), "wrong issuer"),
    "unsigned": (_unsigned, "unsigned (`alg: none`)"),
    "HMAC with the public key": (_hmac_with_public_key, "signed with 'HS256'"),
    "tampered": (_tampered, "signature does not match"),
    "unknown key": (lambda i: i.token(ec_key("never-published"), roles=["ADMIN"]), "unknown signing key"),
    "key of another type": (_wrong_key_type, "is a RSA key"),
    "not a JWT": (lambda i: "not.a.jwt", "not a well-formed JWT"),
}


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_a_bad_token_is_refused_with_its_reason_and_nothing_changes(
    http: TestClient, issuer: Issuer, seeded_store: Store, case: str
) -> None:
    make, reason = REFUSED[case]
    before = snapshot(seeded_store)
    status, body = register(http, make(issuer), product_document("marketing"))
    assert status == 401
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert reason in body["errors"][0]["message"]
    assert "BEGIN PUBLIC KEY" not in body["errors"][0]["message"] and '"n"' not in body["errors"][0]["message"]
    assert snapshot(seeded_store) == before


def test_a_refused_token_is_refused_on_reads_too_and_says_bearer(http: TestClient, issuer: Issuer) -> None:
    response = http.get("/healthz", headers={"Authorization": f"Bearer {_tampered(issuer)}"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "signature does not match" in response.json()["detail"]


def test_a_token_of_domain_a_may_not_write_a_product_of_domain_b(
    http: TestClient, issuer: Issuer, seeded_store: Store
) -> None:
    before = snapshot(seeded_store)
    _, body = register(http, issuer.token(groups=["commercial-team"]), product_document("marketing"))
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert MARKETING in body["errors"][0]["message"]
    assert snapshot(seeded_store) == before


def test_a_domain_member_may_not_make_themselves_member_of_another_domain(
    http: TestClient, issuer: Issuer, seeded_store: Store
) -> None:
    """A product document may bring a new agent along; one stating `org:memberOf` would grant its writer a domain."""
    before = snapshot(seeded_store)
    claim = f"\n<agent/alice> a <http://www.w3.org/ns/prov#Person> ; <{ORG.memberOf}> <domain/marketing> .\n"
    _, body = register(http, issuer.token(groups=["commercial-team"]), product_document() + claim)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
    assert "only ADMIN says who is a member of a domain" in body["errors"][0]["message"]
    assert snapshot(seeded_store) == before


# --- keys: rotation, unknown kids, an issuer that does not answer --------------------------------------------


def test_a_rotated_key_is_fetched_once_and_a_flood_of_unknown_kids_does_not_reach_the_issuer(
    http: TestClient, app: FastAPI, issuer: Issuer
) -> None:
    keys = app.state.catalog.identity.oidc.keys
    clock = [1000.0]
    keys.clock = lambda: clock[0]  # a clock of the test's, so "within the refetch interval" does not depend on speed
    assert register(http, issuer.token(groups=["commercial-team"]))[0] == 200
    assert issuer.hits["/jwks"] == 1

    clock[0] += 1
    rotated = issuer.rotate()
    status, body = register(http, issuer.token(rotated, groups=["commercial-team"]), product_document(slug="plan-2"))
    assert body["data"]["registerDataProduct"]["__typename"] == "DataProduct", body
    assert issuer.hits["/jwks"] == 2  # the unknown kid made the catalog read the keys again, once

    for n in range(20):
        status, body = register(http, issuer.token(ec_key(f"made-up-{n}")))
        assert status == 401 and "unknown signing key" in body["errors"][0]["message"]
    assert issuer.hits["/jwks"] == 2  # within the refetch interval the issuer is not asked again

    clock[0] += 31
    register(http, issuer.token(ec_key("made-up-later")))
    assert issuer.hits["/jwks"] == 3  # later, an unknown kid is looked up again


def test_a_key_the_issuer_withdraws_stops_verifying_once_the_keys_are_read_again(
    http: TestClient, app: FastAPI, issuer: Issuer
) -> None:
    keys = app.state.catalog.identity.oidc.keys
    clock = [1000.0]
    keys.clock = lambda: clock[0]
    old = issuer.rsa
    assert register(http, issuer.token(old, groups=["commercial-team"]))[0] == 200
    issuer.rotate()  # the old key is no longer published
    clock[0] += 60
    assert principal_of(app, issuer.token(old)).via == "oidc"  # the keys read a minute ago still hold it
    clock[0] += 3600
    with pytest.raises(Unauthenticated, match="unknown signing key 'rsa-1'"):
        principal_of(app, issuer.token(old))
    assert issuer.hits["/jwks"] == 2


def test_an_issuer_that_does_not_answer_refuses_the_token_and_says_why(
    http: TestClient, issuer: Issuer, seeded_store: Store
) -> None:
    token = issuer.token(groups=["commercial-team"])
    issuer.stop()
    before = snapshot(seeded_store)
    status, body = register(http, token)
    assert status == 401
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "cannot reach the issuer" in body["errors"][0]["message"]
    assert snapshot(seeded_store) == before


def test_keys_already_read_keep_verifying_while_the_issuer_is_down(http: TestClient, issuer: Issuer) -> None:
    assert register(http, issuer.token(groups=["commercial-team"]))[0] == 200
    later = issuer.token(groups=["commercial-team"])
    issuer.stop()
    _, body = register(http, later, product_document(slug="plan-3"))
    assert body["data"]["registerDataProduct"]["__typename"] == "DataProduct", body


# --- configuration refused at start --------------------------------------------------------------------------


def test_an_issuer_without_an_audience_does_not_start(issuer: Issuer, seeded_store: Store) -> None:
    with pytest.raises(BadInput, match="VALUEMESH_OIDC_AUDIENCE must be set"):
        create_app(Settings(store="memory:", seed=False, oidc_issuer=issuer.url), store=seeded_store)


def test_a_plain_http_issuer_beyond_loopback_does_not_start(seeded_store: Store) -> None:
    settings = Settings(store="memory:", seed=False, oidc_issuer="http://idp.example", oidc_audience=AUDIENCE)
    with pytest.raises(BadInput, match="must be an https URL"):
        create_app(settings, store=seeded_store)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("- just\n- a list\n", "must be a mapping"),
        ("team: domain/commercial\n", "absolute IRI"),
        ("team: [unclosed\n", "not YAML or JSON"),
    ],
)
def test_a_bad_groups_file_does_not_start(
    issuer: Issuer, seeded_store: Store, tmp_path: Path, content: str, reason: str
) -> None:
    path = tmp_path / "groups.yaml"
    path.write_text(content)
    with pytest.raises(BadInput, match=reason) as refused:
        create_app(oidc_settings(issuer, path), store=seeded_store)
    assert str(path) in str(refused.value)


def test_a_groups_file_may_be_json(issuer: Issuer, seeded_store: Store, tmp_path: Path) -> None:
    path = tmp_path / "groups.json"
    path.write_text(json.dumps({"sales": COMMERCIAL}))
    app = create_app(oidc_settings(issuer, path), store=seeded_store)
    assert principal_of(app, issuer.token(groups="sales")).domains == {COMMERCIAL}


def test_serve_refuses_to_start_without_an_audience(
    cli: Callable[..., Any], issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VALUEMESH_OIDC_ISSUER", issuer.url)
    monkeypatch.delenv("VALUEMESH_OIDC_AUDIENCE", raising=False)
    result = cli("serve", "--store", "memory:", "--no-seed", "--port", "1")
    assert result.exit_code == 2
    assert "VALUEMESH_OIDC_AUDIENCE must be set" in result.stderr


def test_a_token_without_the_agent_claim_is_refused(app: FastAPI, issuer: Issuer) -> None:
    with pytest.raises(Unauthenticated, match="has no `sub` claim"):
        principal_of(app, issuer.token(sub=None))
