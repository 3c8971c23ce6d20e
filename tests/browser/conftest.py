"""Browser tests: the pages as a person sees them, in a real Chromium driven by Playwright.

Chromium is Debian's (`apt-get install chromium`; `.ci/run` installs it), found at `VALUEMESH_CHROMIUM` or on the
PATH; Playwright's own browser downloads are never used. Without Chromium every browser test is skipped with the
reason, and pytest's summary names the suite. The catalog runs as `valuemesh serve` runs it: uvicorn on loopback over
an on-disk store seeded with the article's landscape. Every request the page makes to another host is refused and
recorded, and so is every error the page reports (a script error, a refused Content-Security-Policy).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI

from server.settings import Settings
from server.web.app import create_app
from tests.conftest import admin_token, free_port, serving, skip_suite

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
# What keeps a headless Chromium from calling home on a machine without internet (and from waiting on it).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
]
LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}


def chromium_path() -> str | None:
    configured = os.environ.get("VALUEMESH_CHROMIUM")
    if configured:
        return configured if Path(configured).is_file() else None
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


MISSING_CHROMIUM = (
    "browser tests need Chromium: `apt-get install chromium` (or set VALUEMESH_CHROMIUM to a Chromium binary)"
)


# Package scope: Playwright's sync API keeps an event loop running in this thread while it is open, which makes every
# later asyncio.run() fail; it is closed once the browser tests are done, before the rest of the suite runs.
@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    path = chromium_path()
    if path is None:
        skip_suite(MISSING_CHROMIUM)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@dataclass
class Catalog:
    """A catalog served on loopback, with an ADMIN token for tests that write through the API."""

    url: str
    app: FastAPI
    admin_headers: dict[str, str]


@pytest.fixture(scope="package")
def live_catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    """The seeded catalog on an on-disk store, served by uvicorn on loopback, shared by the browser tests that only
    read (a test that writes starts its own with `serve_catalog`)."""
    with serve_catalog(tmp_path_factory.mktemp("catalog")) as catalog:
        yield catalog


@contextmanager
def serve_catalog(folder: Path, **settings: Any) -> Iterator[Catalog]:
    """A fresh catalog seeded on disk in `folder`, served on loopback (settings as `Settings` takes them)."""
    app = create_app(Settings(store=str(folder / "store"), seed=True, **settings))
    with serving(app, free_port()) as url:
        yield Catalog(url=url, app=app, admin_headers=admin_token(app))


@dataclass
class PageWatch:
    """What a page did that a person would not see but must not happen."""

    outside_requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    """A new page (its own context: no cookies from other tests) that may reach loopback only; its `watch` holds
    the requests to other hosts it tried and the errors it reported. After the test, neither may have happened."""
    context = browser.new_context()  # type: ignore[attr-defined]
    opened = context.new_page()
    watch = PageWatch()

    def route(route: object) -> None:
        url = route.request.url  # type: ignore[attr-defined]
        host = urlsplit(url).hostname or ""
        if urlsplit(url).scheme in ("data", "blob") or host in LOOPBACK:
            route.continue_()  # type: ignore[attr-defined]
        else:
            watch.outside_requests.append(url)
            route.abort()  # type: ignore[attr-defined]

    context.route("**/*", route)
    opened.on("pageerror", lambda error: watch.errors.append(f"script error: {error}"))
    opened.on(
        "console",
        lambda message: (
            watch.errors.append(f"console {message.type}: {message.text}") if message.type == "error" else None
        ),
    )
    opened.watch = watch  # type: ignore[attr-defined]
    yield opened
    context.close()
    assert not watch.outside_requests, f"the page tried to load from other hosts: {watch.outside_requests}"
    assert not watch.errors, f"the page reported errors: {watch.errors}"
