"""The interaction map `/interaction-map`: the article's picture of data sources, data products and their consumers
(the use cases they serve, the products that consume them, the teams named as their consumers) with the flows
between them, for the whole catalog or one domain (`?domain=`; htmx swaps only the map when the choice changes, and
replaces the address, so a reload or a link keeps the choice while Back leaves the page as a person expects).

Flows come from the model as GraphQL reads it: what each input port consumes (`InputPort.sources`), the use cases a
product serves (`DataProduct.useCases`), its consumers (`DataProduct.consumers`). For a domain, the map holds its
products and every flow into or out of them, so a product of another domain feeding or reading one of them is drawn
too. A product the caller may not read is absent, and so are its flows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from server.catalog import domains, nodes, products
from server.catalog.products import ProductListing, page_of_products
from server.namespaces import DPROD, VM
from server.store.base import Store
from server.web.linked_data import CatalogLinks
from server.web.ui.context import catalog_of, visibility_of
from server.web.ui.templating import render
from server.web.ui.value_tree import graph_node

router = APIRouter()
MAX_PRODUCTS = 200  # a bigger map is no longer readable as a picture: the page says so and offers the domains

# How each kind of node is drawn (graph.js kinds) and named in the text table.
KIND_NAMES = {"source": "data source", "product": "data product", "use-case": "use case", "consumer": "team"}


@dataclass(frozen=True)
class MapNode:
    iri: str
    label: str
    kind: str  # a key of KIND_NAMES
    domain: str = ""


@dataclass(frozen=True)
class Flow:
    source: str
    target: str
    how: str  # what carries it: the input port, "serves", "consumer"


@dataclass
class InteractionMap:
    nodes: dict[str, MapNode] = field(default_factory=dict)
    flows: list[Flow] = field(default_factory=list)
    products_shown: int = 0
    products_total: int = 0

    def table(self) -> list[tuple[MapNode, MapNode, str]]:
        return [(self.nodes[f.source], self.nodes[f.target], f.how) for f in self.flows]


@dataclass(frozen=True)
class DomainChoice:
    iri: str
    name: str


def all_domains(store: Store) -> list[DomainChoice]:
    rows = domains.domains_by_iri(store, domains.all_domains(store))
    return sorted((DomainChoice(r.iri, r.name) for r in rows.values() if r is not None), key=lambda d: d.name)


def interaction_map(
    store: Store, domain: str | None, hidden: Callable[[str], bool], listing: ProductListing | None = None
) -> InteractionMap:
    """The map of `domain`'s products (every product's without one), at most MAX_PRODUCTS of them."""
    page = page_of_products(store, first=MAX_PRODUCTS, domain=domain, listing=listing, hidden=hidden)
    chosen = page.iris
    answer = InteractionMap(products_shown=len(chosen), products_total=max(page.total, len(chosen)))
    flows: dict[tuple[str, str], str] = {}
    product_iris: set[str] = set(chosen)
    kinds: dict[str, str] = dict.fromkeys(chosen, "product")

    ports = products.ports_of(store, chosen)
    inputs = {p.iri: p for ps in ports.values() for p in ps if p.is_input}
    outputs = [p.iri for ps in ports.values() for p in ps if not p.is_input]
    # Into the chosen products: what each input port consumes (a data source, or the product owning the port).
    for port, refs in products.port_sources(store, sorted(inputs)).items():
        for ref in refs:
            if hidden(ref.iri):
                continue  # a restricted upstream product is not there for this caller, nor its flow
            kinds.setdefault(ref.iri, "product" if ref.is_product else "source")
            if ref.is_product:
                product_iris.add(ref.iri)
            flows.setdefault((ref.iri, inputs[port].product), inputs[port].name)
    # Out of them, to products elsewhere (another domain, or past the cut): input ports consuming their outputs.
    readers = nodes.related(store, outputs, VM.consumes, inverse=True)
    outside = sorted({port for ports_ in readers.values() for port in ports_} - set(inputs))
    owners = nodes.related(store, outside, DPROD.inputPort, inverse=True)
    output_owner = {p.iri: p.product for ps in ports.values() for p in ps if not p.is_input}
    port_names = nodes.labels(store, outside)
    for output, reading_ports in readers.items():
        for port in reading_ports:
            for reader in owners.get(port, []):
                if hidden(reader) or hidden(port):
                    continue
                kinds.setdefault(reader, "product")
                product_iris.add(reader)
                flows.setdefault((output_owner[output], reader), port_names.get(port) or "input port")
    # To the consumers: the use cases the chosen products serve, and the teams named as their consumers.
    for product, served in nodes.related(store, chosen, VM.servedBy, inverse=True).items():
        for use_case in served:
            kinds.setdefault(use_case, "use-case")
            flows.setdefault((product, use_case), "serves")
    for product, teams in nodes.related(store, chosen, VM.consumer).items():
        for team in teams:
            kinds.setdefault(team, "consumer")
            flows.setdefault((product, team), "consumer")

    rows = products.products_by_iri(store, sorted(product_iris))
    names = nodes.labels(store, sorted(set(kinds) - product_iris))
    domain_names = {d.iri: d.name for d in all_domains(store)}
    for iri, kind in kinds.items():
        if kind == "product":
            row = rows.get(iri)
            if row is None:
                continue  # not a product after all (a dangling reference): drawn nowhere
            answer.nodes[iri] = MapNode(iri, row.name, kind, domain_names.get(row.domain or "", ""))
        else:
            answer.nodes[iri] = MapNode(iri, names.get(iri) or iri.rsplit("/", 1)[-1], kind)
    answer.flows = sorted(
        (Flow(s, t, how) for (s, t), how in flows.items() if s in answer.nodes and t in answer.nodes),
        key=lambda f: (answer.nodes[f.source].label.casefold(), answer.nodes[f.target].label.casefold()),
    )
    return answer


def columns(found: InteractionMap) -> dict[str, int]:
    """Each node's column, left to right as the article draws the map: sources; products, each right of every
    product feeding it (source-oriented ones first); then the use cases they serve; then the teams consuming them."""
    column = {iri: 0 if node.kind == "source" else 1 for iri, node in found.nodes.items() if node.kind != "use-case"}
    fed_by = [(f.source, f.target) for f in found.flows if found.nodes[f.target].kind == "product"]
    for _ in range(len(found.nodes)):  # longest path from a source; a cycle of products stops at the bound
        moved = False
        for source, target in fed_by:
            if found.nodes[source].kind == "product" and column[target] <= column[source]:
                column[target] = column[source] + 1
                moved = True
        if not moved:
            break
    last_product = max((c for iri, c in column.items() if found.nodes[iri].kind == "product"), default=1)
    for iri, node in found.nodes.items():
        if node.kind == "use-case":
            column[iri] = last_product + 1
        elif node.kind == "consumer":
            column[iri] = last_product + 2
    return column


def picture(found: InteractionMap, links: CatalogLinks) -> dict[str, Any]:
    """Left to right, as the article draws it: sources, then products, then the consumers, in columns (graph.js
    orders each column so that flows cross little)."""
    column = columns(found)
    return {
        "nodes": [{**graph_node(links, n.iri, n.label, n.kind), "rank": column[n.iri]} for n in found.nodes.values()],
        "edges": [{"source": f.source, "target": f.target, "label": ""} for f in found.flows],
        "direction": "LR",
        "layout": "columns",
    }


@router.get("/interaction-map", response_class=HTMLResponse)
async def interaction_map_page(request: Request, domain: str | None = None) -> HTMLResponse:
    catalog = catalog_of(request)
    visibility = await visibility_of(request)
    choices = await catalog.run(all_domains, catalog.store)
    chosen = next((d for d in choices if d.iri == domain), None) if domain else None
    # htmx asks for the map alone; restoring its history, it wants the whole page
    partial = (
        request.headers.get("HX-Request") == "true" and request.headers.get("HX-History-Restore-Request") != "true"
    )
    template = "interaction_map_panel.html" if partial else "interaction_map.html"
    if domain and chosen is None:
        error = f"There is no domain {domain!r} in the catalog: choose one of the list."
        response = render(request, template, status_code=400, error=error, domains=choices, chosen=None)
    else:
        found = await catalog.run(interaction_map, catalog.store, domain or None, visibility.hidden, catalog.index)
        graph = picture(found, CatalogLinks(request.app.state.settings.base))
        response = render(
            request, template, error=None, domains=choices, chosen=chosen, found=found, graph=graph, kinds=KIND_NAMES
        )
    response.headers["Vary"] = "HX-Request"  # the same URL answers the whole page or the map alone
    return response
