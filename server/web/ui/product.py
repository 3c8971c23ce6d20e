"""The product page: a browser at a data product's IRI (`/data-product/hcp-360`) gets what the product is, what it
is made of and made into (the lineage picture), why it exists (the goal trace), whether it meets the checklist and
where it overlaps other products. RDF clients keep getting the record (server/web/linked_data.py); a port or SLO
inside a product keeps the generic record page; a product the caller may not read answers 404 as before.

`?depth=N` sets the lineage's depth. The depth form works as a plain GET without JavaScript; with it, htmx asks for
the same URL with `HX-Target: lineage` and gets the lineage section alone to swap in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import Response

from server.catalog import products
from server.catalog.service import Catalog
from server.errors import BadInput
from server.formats.description import DatasetName
from server.openlineage.observed import Drift
from server.openlineage.runs import RunSummary
from server.web.linked_data import CatalogLinks
from server.web.ui.context import catalog_of, visibility_of
from server.web.ui.product_facts import ProductFacts, period_words, product_facts, product_row
from server.web.ui.product_lineage import DEFAULT_DEPTH, MAX_DEPTH, NODE_CAP, LineageView, lineage_view, parse_depth
from server.web.ui.templating import render

RDF_FORMS = (
    ("text/turtle", "Turtle"),
    ("application/n-triples", "N-Triples"),
    ("application/ld+json", "JSON-LD"),
    ("application/rdf+xml", "RDF/XML"),
)
GRAPHQL_QUESTION = """{
  dataProduct(id: "%s") {
    name description job type domain { name } owner { name } completeness
    inputPorts { name mechanism sources { ... on DataProduct { name } ... on DataSource { name } } }
    outputPorts { name mechanism datasets { namespace name } }
    sharingAgreement { access policy distributionRights slos { indicator target period errorBudget } }
  }
  lineage(id: "%s", maxDepth: 2) { nodes { depth node { ... on DataProduct { name } ... on DataSource { name } } } }
  goalTrace(id: "%s") { useCases { title } goals { title } }
  lineageDrift(id: "%s") { runs undeclaredReads unobservedInputs { name } }
}"""


def lineage_graph(view: LineageView, name: str, links: CatalogLinks, page: str) -> dict[str, Any]:
    """The picture's data for graph.js: the product as "focus", data sources as "source", products as "product",
    and a "more" node on each side where the lineage goes on, linking to the page one level deeper."""
    # `rank` is the node's column (upstream to the left, downstream to the right): graph.js lays a big picture out
    # by it at once instead of searching for a layout
    nodes = [{"id": view.root, "label": name, "kind": "focus", "href": links.local_href(view.root), "rank": 0}]
    for entry in view.entries:
        kind = "product" if entry.is_product else "source"
        rank = -entry.depth if entry.way == "upstream" else entry.depth
        nodes.append(
            {"id": entry.iri, "label": entry.name, "kind": kind, "href": links.local_href(entry.iri), "rank": rank}
        )
    edges = [{"source": s, "target": t, "label": ""} for s, t in view.edges]
    deeper = f"{page}?depth={min(view.depth + 1, MAX_DEPTH)}#lineage"
    for way, ends in view.goes_on.items():
        if not ends or view.depth >= MAX_DEPTH:
            continue
        more = f"more-{way}"
        rank = -(view.depth + 1) if way == "upstream" else view.depth + 1
        nodes.append({"id": more, "label": f"more {way}…", "kind": "more", "href": deeper, "rank": rank})
        for end in ends:
            edges.append(
                {"source": more, "target": end, "label": ""}
                if way == "upstream"
                else {"source": end, "target": more, "label": ""}
            )
    return {"nodes": nodes, "edges": edges, "direction": "LR"}


def trace_graph(facts: ProductFacts, links: CatalogLinks) -> dict[str, Any]:
    """Vision at the top, goals below it, the use cases, then the product they are served by."""
    trace = facts.trace
    row = facts.row
    nodes = [{"id": row.iri, "label": row.name, "kind": "focus", "href": links.local_href(row.iri)}]
    edges = []
    known = {g.iri for g in trace.goals}
    for goal in trace.goals:
        kind = "goal" if goal.parent else "vision"
        nodes.append({"id": goal.iri, "label": goal.title, "kind": kind, "href": links.local_href(goal.iri)})
        if goal.parent in known:
            edges.append({"source": goal.parent, "target": goal.iri, "label": ""})
    for case in trace.use_cases:
        score = f" ({case.prioritization.score})" if case.prioritization else ""
        label = case.title + score
        nodes.append({"id": case.iri, "label": label, "kind": "use-case", "href": links.local_href(case.iri)})
        edges.append({"source": case.iri, "target": row.iri, "label": "served by"})
        for achieved in trace.achieves.get(case.iri, []):
            if achieved in known:
                edges.append({"source": achieved, "target": case.iri, "label": ""})
    return {"nodes": nodes, "edges": edges, "direction": "TB"}


@dataclass(frozen=True)
class ObservedFacts:
    """What the product's OpenLineage runs show beside what its ports declare."""

    drift: Drift
    summary: RunSummary
    datasets: dict[str, list[DatasetName]]  # port IRI -> the datasets it names

    @property
    def unobserved(self) -> set[str]:
        return set(self.drift.unobserved_inputs)


def observed_lineage(catalog: Catalog, iri: str, ports: list[str]) -> ObservedFacts:
    """Drift over the catalog's window, the run counts and last run, and the ports' datasets (blocking)."""
    lineage = catalog.observed_lineage
    return ObservedFacts(lineage.drift(iri), lineage.runs.summary(iri), products.port_datasets(catalog.store, ports))


async def _lineage(request: Request, iri: str, depth: int) -> LineageView:
    catalog = catalog_of(request)
    visibility = await visibility_of(request)
    hidden = visibility.hidden if visibility.hides_anything else None
    return await catalog.run(lineage_view, catalog.store, iri, depth, catalog.index, hidden)


async def product_page(request: Request, iri: str) -> Response | None:
    """The page of the product `iri`, or None when it is not a product the caller may read (the generic record
    page, or its 404, answers then)."""
    catalog = catalog_of(request)
    visibility = await visibility_of(request)
    row = await catalog.run(product_row, catalog.store, iri, visibility.hidden)
    if row is None:
        return None
    links = CatalogLinks(request.app.state.settings.base)
    page = links.local_href(iri) or "/"
    headers = {"Vary": "Accept, HX-Request, HX-Target"}
    problem = None
    try:
        depth = parse_depth(request.query_params.get("depth"))
    except BadInput as error:
        problem, depth = str(error), DEFAULT_DEPTH
    view = await _lineage(request, iri, depth)
    context: dict[str, Any] = {
        "row": row,
        "page": page,
        "lineage": view,
        "graph": lineage_graph(view, row.name, links, page),
        "depth_problem": problem,
        "max_depth": MAX_DEPTH,
        "node_cap": NODE_CAP,
    }
    status = 400 if problem else 200
    if request.headers.get("HX-Request") == "true" and request.headers.get("HX-Target") == "lineage":
        fragment = render(request, "product_lineage.html", status_code=status, **context)
        fragment.headers.update(headers)
        return fragment
    facts = await catalog.run(product_facts, catalog.store, row, catalog.index, visibility.hidden)
    measured = await catalog.run(catalog.slo_statuses, catalog.store, [iri])
    observed = await catalog.run(
        observed_lineage, catalog, iri, [p.port.iri for p in facts.inputs] + [p.iri for p in facts.outputs]
    )
    question = GRAPHQL_QUESTION % (iri, iri, iri, iri)
    response = render(
        request,
        "product.html",
        status_code=status,
        facts=facts,
        trace=trace_graph(facts, links),
        rdf_forms=[(f"{page}?format={quote(media, safe='')}", label) for media, label in RDF_FORMS],
        period_words=period_words,
        slo_status={status.objective.iri: status for status in measured[iri]},
        graphql_href="/graphql?query=" + quote(question, safe=""),
        observed=observed,
        drift_days=catalog.settings.lineage_drift_days,
        **context,
    )
    response.headers.update(headers)
    return response
