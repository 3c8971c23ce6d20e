"""How long Chromium takes to draw a product page's lineage picture, up to the page's cap of 500 nodes.

A synthetic catalog (bench/generate.py) is served on loopback as `valuemesh serve` serves it; Debian's Chromium (the
browser tests' launcher, tests/browser/conftest.py) opens product pages at a depth deep enough to reach the cap. The
draw is graph.js's work from DOMContentLoaded (when it starts) until it marks the container `data-drawn` (the
layout and cytoscape's set-up done), and until the next animation frame after that (the first frame
painted). The products are the ones with the biggest lineage in the catalog, found through the lineage index.

No synthetic lineage reaches the cap (the biggest, to depth 20, hold about 320 nodes at 10k and 410 at 100k), so
`--hubs 300,400,500` registers, through the catalog's validated write path, one product per number that consumes
existing products (and, to make up the count, data sources) until its upstream lineage holds exactly that many
nodes; their pages are measured first. graph.js's `performance.mark`s of each picture (start, positioned, elements,
set-up) are reported beside the draw, so a run says where the time goes, and so is the main thread's CPU time from
DOMContentLoaded to the first frame (from Chrome's trace), which hardly grows with the load of a shared machine as
the wall-clock times do.

    .venv/bin/python bench/bench_lineage_picture.py                  # 10k products, 5 pages, 3 loads each
    .venv/bin/python bench/bench_lineage_picture.py --size 1000 --pages 3 --repeat 2
    .venv/bin/python bench/bench_lineage_picture.py --pages 0 --hubs 300,400,500 --cache /tmp/picture
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/bench_lineage_picture.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import json
import os
import statistics
import tempfile
from typing import Any

from rdflib import URIRef

from bench.generate import BASE, build_store
from server.catalog.lineage import Direction, lineage
from server.catalog.lineage_index import LineageIndex
from server.catalog.registration import AgreementFields, PortFields, ProductFields, SloFields, create_from_fields
from server.identity.principal import local_operator
from server.namespaces import VM, sparql_prefixes
from server.settings import Settings
from server.store.base import Store
from server.store.oxigraph import OxigraphStore
from server.web.app import create_app
from server.web.ui.product_lineage import MAX_DEPTH, NODE_CAP
from tests.browser.conftest import CHROMIUM_ARGS, chromium_path
from tests.conftest import free_port, serving

SEED = 7
# Installed before any script of the page: when graph.js starts (DOMContentLoaded) and when it has drawn.
PROBE = """
window.__drawStart = null; window.__drawn = null; window.__painted = null;
document.addEventListener('DOMContentLoaded', () => {
  window.__drawStart = performance.now(); performance.mark('bench:loaded'); }, {capture: true});
new MutationObserver((changes, observer) => {
  const drawn = document.querySelector('#lineage-graph[data-drawn]');
  if (drawn && window.__drawn === null) {
    window.__drawn = performance.now();
    requestAnimationFrame(() => { window.__painted = performance.now(); performance.mark('bench:painted'); });
    observer.disconnect();
  }
}).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-drawn']});
"""
# graph.js's marks (each picture's steps), as ms since the draw started
MARKS = """(start) => Object.fromEntries(
  performance.getEntriesByType('mark').map(m => [m.name, m.startTime - start]))"""
# Chrome's trace of a load: the renderer's main-thread tasks with their CPU time (`tdur`), and the marks
TRACE_CATEGORIES = ["toplevel", "blink.user_timing"]
OUTPUT_PORTS = sparql_prefixes() + "SELECT ?product ?port WHERE { ?product dprod:outputPort ?port }"
SOURCES = sparql_prefixes() + "SELECT DISTINCT ?source WHERE { ?source a dprod:DataSource } ORDER BY ?source"
HOME = sparql_prefixes() + "SELECT ?p ?domain ?owner WHERE { ?p dprod:domain ?domain ; dprod:dataProductOwner ?owner }"


def upstream_sizes(store: Any, index: LineageIndex, every: int) -> list[tuple[set[str], str]]:
    """(upstream nodes to MAX_DEPTH, product) for every `every`-th product, biggest lineage first."""
    products = index.products() or []
    found = [
        ({n.iri for n in lineage(store, p, Direction.UPSTREAM, MAX_DEPTH, index=index).nodes}, p)
        for p in products[::every]
    ]
    return sorted(found, key=lambda pair: (-len(pair[0]), pair[1]))


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


def register_hub(store: Store, nodes: int) -> str:
    """A product whose upstream lineage holds exactly `nodes` nodes: it consumes an output port of the products with
    the biggest lineages that still fit, then data sources to make up the count; registered as any product is."""
    iri = BASE + f"data-product/lineage-hub-{nodes}"
    if len(store.record(iri)):
        return iri
    index = LineageIndex(store)
    ports: dict[str, str] = {}
    for row in store.select(OUTPUT_PORTS):
        ports.setdefault(str(row["product"]), str(row["port"]))
    reach: set[str] = set()
    consumed: list[str] = []
    for upstream, product in upstream_sizes(store, index, max(1, len(ports) // 2000)):
        if product in reach or len(reach | upstream | {product}) > nodes:
            continue
        reach |= upstream | {product}
        consumed.append(ports[product])
    for row in store.select(SOURCES):
        if len(reach) >= nodes:
            break
        if str(row["source"]) not in reach:
            reach.add(str(row["source"]))
            consumed.append(str(row["source"]))
    if len(reach) != nodes:
        raise SystemExit(f"could not make a lineage of {nodes} nodes from this catalog (got {len(reach)})")
    first = next(p for p, port in ports.items() if port == consumed[0])
    home = next(iter(store.select(HOME, {"p": URIRef(first)})))
    fields = ProductFields(
        name=f"Lineage hub {nodes}",
        description=f"Consumes enough of the catalog that its upstream lineage holds {nodes} nodes.",
        type=URIRef(str(VM.ConsumerOriented)),
        domain=str(home["domain"]),
        owner=str(home["owner"]),
        job="Measure how the product page draws a big lineage",
        input_ports=[PortFields("Everything", URIRef(str(VM.Api)), consumed, "everything")],
        output_ports=[PortFields("Report", URIRef(str(VM.Report)), [], "report")],
        sharing_agreement=AgreementFields(
            URIRef(str(VM.OpenAccess)),
            "Anyone in the company.",
            "No third parties.",
            [SloFields("Daily", URIRef(str(VM.Timeliness)), 99.0, "P1D")],
        ),
        privacy_classification=URIRef(str(VM.Internal)),
    )
    made = create_from_fields(store, fields, BASE, actor=local_operator())
    if made != iri:
        raise SystemExit(f"the hub was registered as {made}, not {iri}")
    return iri


def catalog_at(size: int, hubs: list[int], folder: Path) -> OxigraphStore:
    """The synthetic catalog of `size` products with the hubs registered, built in `folder` unless already there."""
    built = folder / "built"
    if built.exists():
        store = OxigraphStore(folder / "store")
    else:
        store = build_store(size, SEED, folder / "store")
        built.touch()
    for nodes in hubs:
        register_hub(store, nodes)
    return store


def main_thread_cpu_ms(trace: bytes) -> float:
    """CPU time the page's main thread spent from DOMContentLoaded to the first frame after the draw (the tasks
    running in between, whole): unlike the wall-clock times, it hardly grows with the machine's load."""
    loaded = json.loads(trace)
    events = loaded["traceEvents"] if isinstance(loaded, dict) else loaded
    marks = {e["name"]: e for e in events if e.get("name") in ("bench:loaded", "bench:painted")}
    start, end = marks["bench:loaded"], marks["bench:painted"]
    tasks = [
        e
        for e in events
        if (e["pid"], e["tid"]) == (end["pid"], end["tid"])
        and e.get("name") == "ThreadControllerImpl::RunTask"
        and e.get("ph") == "X"
        and start["ts"] <= e["ts"] + e.get("dur", 0)
        and e["ts"] <= end["ts"]
    ]
    return sum(e.get("tdur", 0) for e in tasks) / 1000


def measure(size: int, pages: int, repeat: int, hubs: list[int], folder: Path) -> dict[str, Any]:
    store = catalog_at(size, hubs, folder)
    chosen = [BASE + f"data-product/lineage-hub-{n}" for n in hubs] + biggest_lineages(store, pages)
    app = create_app(Settings(store=str(folder / "store"), seed=False), store=store)
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
            draws, paints, marks, cpus, nodes = [], [], [], [], 0
            for attempt in range(repeat + 1):  # the first load warms the caches (server and browser): not counted
                if attempt:
                    browser.start_tracing(page=page, categories=TRACE_CATEGORIES)
                page.goto(address)
                page.wait_for_function("() => window.__painted !== null", timeout=60_000)
                if attempt:
                    cpus.append(main_thread_cpu_ms(browser.stop_tracing()))
                start, drawn, painted = page.evaluate("[window.__drawStart, window.__drawn, window.__painted]")
                nodes = int(page.get_attribute("#lineage-graph", "data-drawn") or 0)
                if attempt:
                    draws.append(drawn - start)
                    paints.append(painted - start)
                    marks.append(page.evaluate(MARKS, start))
            rows.append(
                {
                    "product": product,
                    "nodes_drawn": nodes,
                    "draw_ms_median": round(statistics.median(draws), 1),
                    "first_frame_ms_median": round(statistics.median(paints), 1),
                    "first_frame_ms_min": round(min(paints), 1),
                    "first_frame_cpu_ms_median": round(statistics.median(cpus), 1),
                    "draw_ms_max": round(max(draws), 1),
                    "marks_ms_median": {
                        name: round(statistics.median(m.get(name, 0.0) for m in marks), 1) for name in marks[0]
                    },
                    "load_average": round(os.getloadavg()[0], 1),
                }
            )
        browser.close()
    return {"size": size, "node_cap": NODE_CAP, "repeat": repeat, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--pages", type=int, default=5, help="how many of the biggest synthetic lineages to draw")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--hubs", default="", help="comma-separated node counts: a product per count whose lineage holds that many"
    )
    parser.add_argument("--cache", type=Path, help="keep the built catalog under this folder and use it again")
    args = parser.parse_args(argv)
    hubs = [int(n) for n in args.hubs.split(",") if n.strip()]
    if any(not 1 <= n <= NODE_CAP for n in hubs):
        parser.error(f"--hubs takes node counts from 1 to {NODE_CAP}")
    if args.cache is not None:
        folder = args.cache / f"lineage-picture-{args.size}"
        folder.mkdir(parents=True, exist_ok=True)
        result = measure(args.size, args.pages, args.repeat, hubs, folder)
    else:
        with tempfile.TemporaryDirectory() as temporary:
            result = measure(args.size, args.pages, args.repeat, hubs, Path(temporary))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
