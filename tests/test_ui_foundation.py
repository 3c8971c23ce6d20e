"""What every page of the UI shares: the layout, the static files, and what the browser is allowed to do."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from server.web.ui.templating import STATIC_DIR


def test_the_home_page_answers_with_the_catalog_and_its_navigation(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    for label in ("Value tree", "Use cases", "Interaction map", "Overlaps", "Register", "GraphQL"):
        assert f">{label}</a>" in response.text
    assert 'aria-current="page">Catalog' in response.text


def test_every_script_and_stylesheet_of_a_page_is_served_from_this_server(client: TestClient) -> None:
    page = client.get("/").text
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page)
    assert any("htmx.min.js" in a for a in assets) and any("app.css" in a for a in assets)
    for asset in assets:
        served = client.get(asset)
        assert served.status_code == 200, asset
        assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert not re.search(r'(?:src|href)="(?:https?:)?//', page)
    assert "<script>" not in page and " style=" not in page  # nothing inline: the policy would refuse it


def test_the_pages_policy_runs_scripts_only_from_this_server(client: TestClient) -> None:
    policy = client.get("/").headers["content-security-policy"]
    script_src = next(d.strip() for d in policy.split(";") if d.strip().startswith("script-src"))
    assert script_src == "script-src 'self'"
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy


def test_static_files_are_only_those_of_the_package(client: TestClient) -> None:
    assert client.get("/static/../settings.py").status_code == 404
    assert client.get("/static/%2e%2e/settings.py").status_code == 404
    assert client.get("/static/no-such-file.js").status_code == 404


def test_every_vendored_library_carries_its_licence() -> None:
    vendor = STATIC_DIR / "vendor"
    for library in (p for p in vendor.iterdir() if p.is_dir()):
        assert (library / "LICENSE").is_file(), library.name
    listed = (vendor / "README.md").read_text()
    for library in ("htmx.org", "cytoscape", "dagre", "cytoscape-dagre"):
        assert f"| {library} |" in listed
