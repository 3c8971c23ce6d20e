"""Loading through a running catalog: `valuemesh load --server` and `POST /api/v1/load`, as the caller."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from bench.generate import generate_catalog
from server.identity.principal import Role
from server.settings import Settings
from server.store import Store, open_store
from server.web.app import create_app
from tests.conftest import DATA, CliResult, free_port, serving

CAT = "https://valuemesh.example/"
COMMERCIAL = CAT + "domain/commercial"


def dump(store: Store) -> bytes:
    out = io.BytesIO()
    store.dump(out, "application/n-quads")
    return b"\n".join(sorted(out.getvalue().splitlines()))


@pytest.fixture
def running(tmp_path: Path) -> Any:
    """A seeded catalog on disk served by uvicorn on loopback; yields (url, app)."""
    store = open_store(str(tmp_path / "store"))
    from server.catalog.seeding import prepare

    prepare(store, with_seed=True)
    app = create_app(Settings(store=str(tmp_path / "store"), seed=False), store=store)
    with serving(app, free_port()) as url:
        yield url, app
    store.close()


def token(app: Any, name: str, roles: list[Role], domains: list[str]) -> str:
    secret, _ = app.state.catalog.identity.tokens.create(
        name, agent=CAT + f"agent/{name}", domains=domains, roles=roles, expires_in=None
    )
    return str(secret)


def test_an_admin_loads_a_generated_catalog_through_the_server_and_every_face_sees_it(
    cli: Any, running: Any, tmp_path: Path
) -> None:
    url, app = running
    catalog = tmp_path / "catalog.nq"
    catalog.write_text("".join(generate_catalog(50, seed=5)))
    done: CliResult = cli("load", str(catalog), "--server", url, "--token", token(app, "admin", [Role.ADMIN], []))
    assert done.exit_code == 0, done.stderr
    assert "record(s) added" in done.stderr
    import httpx

    answer = httpx.post(url + "/graphql", json={"query": "{ dataProducts(first: 1) { totalCount } }"}).json()
    assert answer["data"]["dataProducts"]["totalCount"] >= 50


def test_a_load_is_refused_without_an_identity_or_the_right_and_nothing_changes(
    cli: Any, running: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, app = running
    monkeypatch.delenv("VALUEMESH_TOKEN", raising=False)
    member = token(app, "ci-commercial", [Role.DOMAIN_MEMBER], [COMMERCIAL])
    before = dump(app.state.catalog.backend)
    anonymous = cli("load", str(DATA / "extra-domain.ttl"), "--server", url)
    assert anonymous.exit_code == 2 and "UNAUTHENTICATED" in anonymous.stderr and "VALUEMESH_TOKEN" in anonymous.stderr
    domain = cli("load", str(DATA / "extra-domain.ttl"), "--server", url, "--token", member)
    assert domain.exit_code == 2 and "FORBIDDEN" in domain.stderr and "only ADMIN" in domain.stderr
    assert dump(app.state.catalog.backend) == before


def test_a_domain_member_loads_a_product_of_their_domain(cli: Any, running: Any) -> None:
    url, app = running
    member = token(app, "ci-commercial", [Role.DOMAIN_MEMBER], [COMMERCIAL])
    done = cli("load", str(DATA / "territory-plan.ttl"), "--server", url, "--token", member)
    assert done.exit_code == 0, done.stderr
    assert app.state.catalog.backend.record(CAT + "data-product/territory-plan")


def test_a_batch_failing_the_checklist_is_refused_with_every_violation(cli: Any, running: Any) -> None:
    url, app = running
    admin = token(app, "admin", [Role.ADMIN], [])
    before = dump(app.state.catalog.backend)
    done = cli("load", str(DATA / "product-without-owner.ttl"), "--server", url, "--token", admin)
    assert done.exit_code == 1
    assert "owner" in done.stderr.lower()
    assert dump(app.state.catalog.backend) == before


def test_the_endpoint_names_the_line_of_a_malformed_batch_and_refuses_unknown_media_types(running: Any) -> None:
    import httpx

    url, app = running
    headers = {"Authorization": f"Bearer {token(app, 'admin', [Role.ADMIN], [])}"}
    before = dump(app.state.catalog.backend)
    malformed = httpx.post(
        url + "/api/v1/load",
        content=(DATA / "malformed.nq").read_bytes(),
        headers={**headers, "Content-Type": "application/n-quads"},
    )
    assert malformed.status_code == 400
    assert malformed.json()["location"]["line"] is not None
    text = httpx.post(url + "/api/v1/load", content=b"x", headers={**headers, "Content-Type": "text/plain"})
    assert text.status_code == 400 and "application/n-quads" in text.json()["detail"]
    assert dump(app.state.catalog.backend) == before
