"""Screenshots of the main pages for the README and docs/, taken in Debian's Chromium over a freshly seeded catalog.

    .venv/bin/python scripts/screenshots.py            # writes docs/screenshots/*.png

The catalog runs as `valuemesh serve` runs it (uvicorn on loopback, an on-disk store seeded with the article's
landscape, in a temporary folder); nothing is fetched from another host.
"""

from __future__ import annotations

import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from server.settings import Settings  # noqa: E402
from server.web.app import create_app  # noqa: E402

OUT = REPO / "docs" / "screenshots"
# (file, path, what to wait for before the picture is taken, the part of the page to take: all of it when None)
PAGES = [
    ("home.png", "/", "main", None),
    ("product.png", "/data-product/next-best-action", "[data-drawn]", None),
    ("lineage.png", "/data-product/next-best-action?depth=3", "#lineage-graph[data-drawn]", "#lineage"),
    ("value-tree.png", "/value-tree", "[data-drawn]", None),
    ("use-cases.png", "/use-cases", "table", None),
    ("interaction-map.png", "/interaction-map", "[data-drawn]", None),
    ("register.png", "/register", "form", None),
    ("graphiql.png", "/graphql", ".graphiql-container", None),
]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("screenshots need Chromium: apt-get install chromium")
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(Settings(store=str(Path(folder) / "store"), seed=True))
        port = _port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium, args=ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 860})
                for name, path, ready, part in PAGES:
                    page.goto(f"http://127.0.0.1:{port}{path}")
                    page.wait_for_selector(ready, timeout=15000)
                    page.wait_for_timeout(300)  # the layout settles
                    if part is None:
                        page.screenshot(path=str(OUT / name))
                    else:
                        page.locator(part).screenshot(path=str(OUT / name))
                    print(f"wrote {OUT / name}")
                browser.close()
        finally:
            server.should_exit = True
            thread.join(timeout=10)


if __name__ == "__main__":
    main()
