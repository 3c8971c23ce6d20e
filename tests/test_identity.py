"""Who may do what over HTTP: no write without an identity, API tokens, domain rights, refused cross-site writes."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from server.identity.principal import Role
from server.settings import Settings
from server.store import Store
from server.web.app import create_app
from tests.conftest import DATA, REPO, CliResult, free_port, serving

CAT = "https://valuemesh.example/"
COMMERCIAL = CAT + "domain/commercial"
MARKETING = CAT + "domain/marketing"
TERRITORY_PLAN = CAT + "data-product/territory-plan"
HCP_360 = CAT + "data-product/hcp-360"

REGISTER = """mutation ($document: String!) {
  registerDataProduct(document: $document, format: TURTLE) { __typename ... on DataProduct { id domain { id } } }
}"""
REMOVE = "mutation ($id: ID!) { removeDataProduct(id: $id) }"
VIEWER = "{ viewer { id name roles domains { id } } }"


def snapshot(store: Store) -> bytes:
    out = io.BytesIO()
    store.dump(out, "application/n-quads")
    return b"\n".join(sorted(out.getvalue().splitlines()))


def bearer(app: FastAPI, name: str, *, agent: str, domains: list[str], roles: list[Role], **kw: Any) -> dict[str, str]:
    secret, _ = app.state.catalog.identity.tokens.create(
        name, agent=agent, domains=domains, roles=roles, expires_in=kw.get("expires_in")
    )
    return {"Authorization": f"Bearer {secret}"}


def gql(client: TestClient, query: str, headers: dict[str, str] | None = None, **variables: Any) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query, "variables": variables}, headers=headers or {})
    return {"status": response.status_code, **response.json()}


def code(answer: dict[str, Any]) -> str:
    return str(answer["errors"][0]["extensions"]["code"])


@pytest.fixture
def app(seeded_store: Store, settings: Settings) -> FastAPI:
    return create_app(settings, store=seeded_store)


@pytest.fixture
def anonymous(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://localhost") as test_client:
        yield test_client


def territory_plan(domain: str = COMMERCIAL) -> str:
    return (DATA / "territory-plan.ttl").read_text().replace("<domain/commercial>", f"<{domain}>")


# --- secure by default ---------------------------------------------------------------------------------------


def test_without_an_identity_reads_work_and_every_write_is_refused(anonymous: TestClient, seeded_store: Store) -> None:
    before = snapshot(seeded_store)
    assert gql(anonymous, "{ dataProduct(id: $id) { name } }".replace("$id", f'"{HCP_360}"'))["data"] == {
        "dataProduct": {"name": "HCP 360"}
    }
    assert gql(anonymous, VIEWER)["data"] == {"viewer": None}
    for answer in (
        gql(anonymous, REGISTER, document=territory_plan()),
        gql(anonymous, REMOVE, id=CAT + "data-product/medical-inquiries"),
    ):
        assert code(answer) == "UNAUTHENTICATED"
        assert "valuemesh token create" in answer["errors"][0]["message"]
    assert snapshot(seeded_store) == before


def test_anonymous_writes_are_a_setting_of_a_catalog_on_loopback(seeded_store: Store) -> None:
    settings = Settings(store="memory:", seed=False, anonymous_writes=True)
    with TestClient(create_app(settings, store=seeded_store), base_url="http://localhost") as client:
        assert gql(client, REGISTER, document=territory_plan())["data"]["registerDataProduct"]["id"] == TERRITORY_PLAN


def test_serve_refuses_anonymous_writes_beyond_loopback(tmp_path: Any) -> None:
    env = {**os.environ, "VALUEMESH_ANONYMOUS_WRITES": "1", "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "server.cli.main", "serve", "--store", "memory:", "--host", "0.0.0.0"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 2
    assert "only on a loopback address" in done.stderr


# --- API tokens and domain rights -------------------------------------------------------------------------------


@pytest.mark.all_backends
def test_a_domain_token_writes_its_domain_and_nothing_else(
    app: FastAPI, anonymous: TestClient, seeded_store: Store
) -> None:
    commercial = bearer(app, "ci-commercial", agent=CAT + "agent/ci", domains=[COMMERCIAL], roles=[Role.DOMAIN_MEMBER])
    stored = gql(anonymous, REGISTER, commercial, document=territory_plan())
    assert stored["data"]["registerDataProduct"]["domain"] == {"id": COMMERCIAL}

    before = snapshot(seeded_store)
    elsewhere = gql(
        anonymous, REGISTER, commercial, document=territory_plan(MARKETING).replace("territory-plan", "tp2")
    )
    assert code(elsewhere) == "FORBIDDEN"
    assert f"membership of <{MARKETING}>" in elsewhere["errors"][0]["message"]
    moved = gql(anonymous, REGISTER, commercial, document=territory_plan(MARKETING))
    assert code(moved) == "FORBIDDEN"
    assert "moves into" in moved["errors"][0]["message"]
    assert code(gql(anonymous, REMOVE, commercial, id=CAT + "data-product/web-analytics")) == "FORBIDDEN"
    assert snapshot(seeded_store) == before

    both = bearer(app, "both", agent=CAT + "agent/both", domains=[COMMERCIAL, MARKETING], roles=[Role.DOMAIN_MEMBER])
    assert gql(anonymous, REGISTER, both, document=territory_plan(MARKETING))["data"]["registerDataProduct"][
        "domain"
    ] == {"id": MARKETING}


def test_a_marketing_token_cannot_take_a_commercial_product_into_its_domain(
    app: FastAPI, anonymous: TestClient, seeded_store: Store
) -> None:
    admin = bearer(app, "admin", agent=CAT + "agent/admin", domains=[], roles=[Role.ADMIN])
    gql(anonymous, REGISTER, admin, document=territory_plan())
    marketing = bearer(app, "ci-marketing", agent=CAT + "agent/m", domains=[MARKETING], roles=[Role.DOMAIN_MEMBER])
    before = snapshot(seeded_store)
    answer = gql(anonymous, REGISTER, marketing, document=territory_plan(MARKETING))
    assert code(answer) == "FORBIDDEN"
    assert "moves out of" in answer["errors"][0]["message"]
    assert snapshot(seeded_store) == before


def test_a_products_owner_may_change_it_but_not_remove_it(app: FastAPI, anonymous: TestClient) -> None:
    admin = bearer(app, "admin", agent=CAT + "agent/admin", domains=[], roles=[Role.ADMIN])
    gql(anonymous, REGISTER, admin, document=territory_plan())
    owner = bearer(app, "owner", agent=CAT + "agent/field-force-excellence-lead", domains=[], roles=[Role.READER])
    changed = (
        territory_plan()
        .replace('"Territory Plan"', '"Territory Plan"', 1)
        .replace("dct:description", 'rdfs:comment "kept by its owner" ;\n    dct:description', 1)
    )
    assert gql(anonymous, REGISTER, owner, document=changed)["data"]["registerDataProduct"]["id"] == TERRITORY_PLAN
    refused = gql(anonymous, REMOVE, owner, id=TERRITORY_PLAN)
    assert code(refused) == "FORBIDDEN"
    assert f"membership of <{COMMERCIAL}>" in refused["errors"][0]["message"]


@pytest.mark.all_backends
@pytest.mark.parametrize("credentials", ["unknown", "revoked", "expired", "basic", "empty"])
def test_credentials_that_do_not_hold_are_refused_with_401_even_for_reads(
    app: FastAPI, anonymous: TestClient, seeded_store: Store, credentials: str
) -> None:
    tokens = app.state.catalog.identity.tokens
    if credentials == "unknown":
        header = "Bearer vmt_" + "x" * 43
    elif credentials == "revoked":
        secret, _ = tokens.create("gone", agent=CAT + "agent/x", domains=[], roles=[Role.ADMIN], expires_in=None)
        tokens.revoke("gone")
        header = f"Bearer {secret}"
    elif credentials == "expired":
        secret, _ = tokens.create(
            "old", agent=CAT + "agent/x", domains=[], roles=[Role.ADMIN], expires_in=timedelta(seconds=-1)
        )
        header = f"Bearer {secret}"
    elif credentials == "basic":
        header = "Basic YWRtaW46YWRtaW4="
    else:
        header = "Bearer "
    before = snapshot(seeded_store)
    answer = anonymous.post(
        "/graphql",
        json={"query": REGISTER, "variables": {"document": territory_plan()}},
        headers={"Authorization": header},
    )
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert answer.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    sparql = anonymous.get("/sparql", params={"query": "ASK {}"}, headers={"Authorization": header})
    assert sparql.status_code == 401
    assert sparql.headers["content-type"] == "application/problem+json"
    assert snapshot(seeded_store) == before


def test_the_viewer_says_who_is_asking_and_where_they_may_write(app: FastAPI, anonymous: TestClient) -> None:
    headers = bearer(app, "ci-commercial", agent=CAT + "agent/ci", domains=[COMMERCIAL], roles=[Role.DOMAIN_MEMBER])
    viewer = gql(anonymous, VIEWER, headers)["data"]["viewer"]
    assert viewer == {
        "id": CAT + "agent/ci",
        "name": "ci-commercial",
        "roles": ["READER", "DOMAIN_MEMBER"],
        "domains": [{"id": COMMERCIAL}],
    }
    admin = bearer(app, "admin", agent=CAT + "agent/admin", domains=[], roles=[Role.ADMIN])
    assert len(gql(anonymous, VIEWER, admin)["data"]["viewer"]["domains"]) == 3  # every domain of the seed


@pytest.mark.all_backends
def test_only_an_admin_makes_and_revokes_tokens_through_the_api(app: FastAPI, anonymous: TestClient) -> None:
    create = 'mutation { createApiToken(name: "pipeline", domains: ["%s"], expires: "P90D") { secret token { roles state expires } } }'
    member = bearer(app, "member", agent=CAT + "agent/m", domains=[COMMERCIAL], roles=[Role.DOMAIN_MEMBER])
    assert code(gql(anonymous, create % COMMERCIAL, member)) == "FORBIDDEN"
    admin = bearer(app, "admin", agent=CAT + "agent/admin", domains=[], roles=[Role.ADMIN])
    made = gql(anonymous, create % COMMERCIAL, admin)["data"]["createApiToken"]
    assert made["token"]["roles"] == ["READER", "DOMAIN_MEMBER"] and made["token"]["state"] == "active"
    fresh = {"Authorization": f"Bearer {made['secret']}"}
    assert gql(anonymous, VIEWER, fresh)["data"]["viewer"]["name"] == "pipeline"
    assert gql(anonymous, 'mutation { revokeApiToken(name: "pipeline") { state } }', admin)["data"] == {
        "revokeApiToken": {"state": "revoked"}
    }
    assert gql(anonymous, VIEWER, fresh)["status"] == 401


# --- no cross-site writes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x", None]
)
def test_a_graphql_post_a_form_could_send_is_refused_before_it_runs(
    app: FastAPI, anonymous: TestClient, seeded_store: Store, content_type: str | None
) -> None:
    admin = bearer(app, "admin", agent=CAT + "agent/admin", domains=[], roles=[Role.ADMIN])
    body = '{"query": "mutation { removeDataProduct(id: \\"%s\\") }"}' % (CAT + "data-product/medical-inquiries")
    before = snapshot(seeded_store)
    headers = {**admin, **({"Content-Type": content_type} if content_type else {})}
    answer = anonymous.post("/graphql", content=body, headers=headers)
    assert answer.status_code == 415
    assert "application/json" in answer.json()["errors"][0]["message"]
    assert snapshot(seeded_store) == before


def test_a_mutation_over_get_is_refused(app: FastAPI, anonymous: TestClient, seeded_store: Store) -> None:
    admin = bearer(app, "admin", agent=CAT + "agent/admin", domains=[], roles=[Role.ADMIN])
    before = snapshot(seeded_store)
    mutation = 'mutation { removeDataProduct(id: "%s") }' % (CAT + "data-product/medical-inquiries")
    answer = anonymous.get("/graphql", params={"query": mutation}, headers=admin)
    assert answer.status_code in (400, 405)
    assert snapshot(seeded_store) == before


def test_cross_origin_calls_are_allowed_only_for_configured_origins(seeded_store: Store) -> None:
    preflight = {"Origin": "https://portal.example.org", "Access-Control-Request-Method": "POST"}
    with TestClient(
        create_app(Settings(store="memory:", seed=False), store=seeded_store), base_url="http://localhost"
    ) as closed:
        assert "access-control-allow-origin" not in closed.options("/graphql", headers=preflight).headers
    settings = Settings(store="memory:", seed=False, cors_origins=("https://portal.example.org",))
    with TestClient(create_app(settings, store=seeded_store), base_url="http://localhost") as open_to_one:
        allowed = open_to_one.options(
            "/graphql", headers={**preflight, "Access-Control-Request-Headers": "authorization"}
        )
        assert allowed.headers["access-control-allow-origin"] == "https://portal.example.org"
        other = open_to_one.options("/graphql", headers={**preflight, "Origin": "https://evil.example"})
        assert other.headers.get("access-control-allow-origin") != "https://evil.example"


# --- reads that need an identity ---------------------------------------------------------------------------------


def test_a_catalog_read_only_by_identified_callers_refuses_anonymous_reads_on_every_face(seeded_store: Store) -> None:
    app = create_app(Settings(store="memory:", seed=False, read_access="authenticated"), store=seeded_store)
    with TestClient(app, base_url="http://localhost") as client:
        assert client.get("/healthz").status_code == 200
        for response in (
            client.post("/graphql", json={"query": "{ domains { id } }"}),
            client.get("/sparql", params={"query": "ASK {}"}),
            client.get("/data-product/hcp-360", headers={"Accept": "text/turtle"}),
        ):
            assert response.status_code == 401
        reader = bearer(app, "reader", agent=CAT + "agent/r", domains=[], roles=[Role.READER])
        assert client.get("/sparql", params={"query": "ASK {}"}, headers=reader).status_code == 200
        assert client.post("/graphql", json={"query": "{ domains { id } }"}, headers=reader).status_code == 200


# --- the CLI ---------------------------------------------------------------------------------------------------------


def test_a_token_made_with_the_cli_registers_through_a_running_server(
    cli: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = str(tmp_path / "store")
    made: CliResult = cli("token", "create", "--name", "ci-commercial", "--domain", COMMERCIAL, "--store", store)
    assert made.exit_code == 0, made.stderr
    secret = made.stdout.strip()
    assert secret.startswith("vmt_") and "shown only now" in made.stderr
    listed = cli("token", "list", "--store", store)
    assert "ci-commercial" in listed.stdout and secret not in listed.stdout

    descriptor = DATA / "descriptors" / "hcp-call-planning.valuemesh.yaml"
    app = create_app(Settings(store=store, seed=False))
    with serving(app, free_port()) as url:
        monkeypatch.delenv("VALUEMESH_TOKEN", raising=False)
        refused = cli("register", str(descriptor), "--server", url)
        assert refused.exit_code == 2 and "UNAUTHENTICATED" in refused.stderr and "VALUEMESH_TOKEN" in refused.stderr
        monkeypatch.setenv("VALUEMESH_TOKEN", secret)
        stored = cli("register", str(descriptor), "--server", url)
        assert stored.exit_code == 0, stored.stderr
        assert "data-product/hcp-call-planning" in stored.stdout
        # The store is held by the server: tokens are revoked through it, by an ADMIN.
        admin = app.state.catalog.identity.tokens.create(
            "admin", agent=CAT + "agent/admin", domains=[], roles=[Role.ADMIN], expires_in=None
        )[0]
        revoked = cli("token", "revoke", "ci-commercial", "--server", url, "--token", admin)
        assert revoked.exit_code == 0, revoked.stderr
        again = cli("register", str(descriptor), "--server", url)
        assert again.exit_code == 2 and "revoked" in again.stderr


def test_no_websocket_is_accepted_so_none_goes_around_the_checks(anonymous: TestClient) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        anonymous.websocket_connect("ws://localhost/graphql", subprotocols=["graphql-transport-ws"]),
    ):
        pass
    assert refused.value.code == 1008


def test_no_reader_s_sparql_question_reaches_the_catalogs_own_data(app: FastAPI, anonymous: TestClient) -> None:
    """API token hashes, versions of records, events: kept in graphs of their own that /sparql shows to nobody but
    GOVERNANCE and ADMIN (who query the whole store)."""
    admin = bearer(app, "admin", agent=CAT + "agent/admin", domains=[], roles=[Role.ADMIN])
    member = bearer(app, "member", agent=CAT + "agent/m", domains=[COMMERCIAL], roles=[Role.DOMAIN_MEMBER])
    gql(anonymous, REGISTER, admin, document=territory_plan())  # a write: a version and an event
    for headers in ({}, member):
        answer = anonymous.get(
            "/sparql",
            params={"query": "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"},
            headers={"Accept": "application/sparql-results+json", **headers},
        )
        graphs = [row["g"]["value"] for row in answer.json()["results"]["bindings"]]
        assert TERRITORY_PLAN in graphs
        assert not [g for g in graphs if g.startswith("urn:valuemesh:")]
        hashes = anonymous.get(
            "/sparql",
            params={"query": "ASK { ?token <urn:valuemesh:token#hash> ?hash }"},
            headers={"Accept": "application/sparql-results+json", **headers},
        )
        assert hashes.json()["boolean"] is False
