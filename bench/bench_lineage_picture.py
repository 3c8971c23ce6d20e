"""How long Chromium takes to draw a product page's lineage picture, up to the page's cap of 500 nodes.

A synthetic catalog (bench/generate.py) is served on loopback as `valuemesh serve` serves it; Debian's Chromium (the
browser tests' launcher, tests/browser/conftest.py) opens product pages at a depth deep enough to reach the cap. The
draw is graph.js's work from DOMContentLoaded (when it starts) until it marks the container `data-drawn` (the
dagre layout and cytoscape's set-up done), and until the next animation frame after that (the first frame
painted). The products are the ones with the biggest lineage in the catalog, found through the lineage index.

    .venv/bin/python bench/bench_lineage_picture.py                  # 10k products, 5 pages, 3 loads each
    .venv/bin/python bench/bench_lineage_picture.py --size 1000 --pages 3 --repeat 2
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/bench_lineage_picture.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import json
import statistics
import tempfile
from typing import Any

from bench.generate import build_store
from server.catalog.lineage import Direction, lineage
from server.catalog.lineage_index import LineageIndex
from server.settings import Settings
from server.web.app import create_app
from server.web.ui.product_lineage import MAX_DEPTH, NODE_CAP
from tests.browser.conftest import CHROMIUM_ARGS, chromium_path
from tests.conftest import free_port, serving

# Installed before any script of the page: when graph.js starts (DOMContentLoaded) and when it has drawn.
PROBE = """
window.__drawStart = null; window.__drawn = null; window.__painted = null;
document.addEventListener('DOMContentLoaded', () => { window.__drawStart = performance.now(); }, {capture: true});
new MutationObserver((changes, observer) => {
  const drawn = document.querySelector('#lineage-graph[data-drawn]');
  if (drawn && window.__drawn === null) {
    window.__drawn = performance.now();
    requestAnimationFrame(() => { window.__painted = performance.now(); });
    observer.disconnect();
  }
}).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-drawn']});
"""


def biggest_lineages(store: Any, count: int) -> list[str]:
    """The products with the most lineage nodes (upstream and downstream to MAX_DEPTH), biggest first."""
    index = LineageIndex(store)
    products = index.products() or []
    sizes = []
    for product in products[:: max(1, len(products) // 400)]:  # a sample: every product would take minutes at 100k
        size = sum(len(lineage(store, product, d, MAX_DEPTH, index=index).nodes) for d in Direction)
        sizes.append((size, product))
    sizes.sort(reverse=True)
    return [product for _, product in sizes[:count]]


def measure(size: int, pages: int, repeat: int, workdir: Path) -> dict[str, Any]:
    store = build_store(size, 7, workdir / "store")
    chosen = biggest_lineages(store, pages)
    app = create_app(Settings(store=str(workdir / "store"), seed=False), store=store)
    path = chromium_path()
    if path is None:
        raise SystemExit("this benchmark needs Chromium: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    rows = []
    with serving(app, free_port()) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.add_init_script(PROBE)
        for product in chosen:
            address = url + "/" + product.split("/", 3)[3] + f"?depth={MAX_DEPTH}"
            draws, paints, nodes = [], [], 0
            for attempt in range(repeat + 1):  # the first load warms the caches (server and browser): not counted
                page.goto(address)
                page.wait_for_function("() => window.__painted !== null", timeout=60_000)
                start, drawn, painted = page.evaluate("[window.__drawStart, window.__drawn, window.__painted]")
                nodes = int(page.get_attribute("#lineage-graph", "data-drawn") or 0)
                if attempt:
                    draws.append(drawn - start)
                    paints.append(painted - start)
            rows.append(
                {
                    "product": product,
                    "nodes_drawn": nodes,
                    "draw_ms_median": round(statistics.median(draws), 1),
                    "first_frame_ms_median": round(statistics.median(paints), 1),
                    "draw_ms_max": round(max(draws), 1),
                }
            )
        browser.close()
    return {"size": size, "node_cap": NODE_CAP, "repeat": repeat, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--pages", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        result = measure(args.size, args.pages, args.repeat, Path(folder))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
