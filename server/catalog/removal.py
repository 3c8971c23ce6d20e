"""Removing a data product: refused while another product consumes one of its output ports.

The requests and agreements to use its ports end in the same write (pending ones rejected, agreements revoked, by
whoever removes it), so no agreement outlives the port it grants.
"""

from __future__ import annotations

from collections.abc import Iterable

from rdflib import Graph, URIRef

from server.catalog import access_requests
from server.catalog.events import EVENTS_KEY
from server.catalog.history import Action, Change, write_with_history
from server.catalog.lineage import require_product
from server.catalog.writes import port_key, record_key, write_lock  # the check and the drop must not interleave
from server.errors import Conflict
from server.identity.policy import authorize_removal
from server.identity.principal import Principal
from server.namespaces import DPROD, VM, sparql_prefixes
from server.observations.summaries import summary_graph
from server.openlineage.summary import summary_iri
from server.store.base import Store, Triple, is_service_graph

CONSUMERS = (
    sparql_prefixes()
    + """
SELECT DISTINCT ?consumer ?name ?product WHERE {
  ?product dprod:outputPort ?port .
  ?consumer dprod:inputPort/vm:consumes ?port .
  FILTER(?consumer != ?product)
  OPTIONAL { ?consumer rdfs:label ?name }
}
ORDER BY ?consumer
"""
)


CLAIMS = (
    sparql_prefixes()
    + """
SELECT DISTINCT ?record ?product WHERE { GRAPH ?record { ?useCase vm:servedBy ?product } }
"""
)


def consumers_of(store: Store, product: str) -> list[tuple[str, str]]:
    """(IRI, name) of every other product with an input port consuming one of `product`'s output ports."""
    rows = store.select(CONSUMERS, {"product": URIRef(product)})
    return [(str(r["consumer"]), str(r["name"]) if r["name"] is not None else str(r["consumer"])) for r in rows]


def remove_data_product(store: Store, product: str, *, actor: Principal) -> str:
    """Drop the product's record, or raise Conflict naming its consumers (NotFound for an unknown product);
    Unauthenticated or Forbidden unless `actor` may remove it."""
    ports = [port_key(str(port)) for port in store.record(product).objects(URIRef(product), DPROD.outputPort)]
    with write_lock, store.exclusive([EVENTS_KEY, record_key(product), *ports]):
        require_product(store, product)
        stored = store.record(product)
        authorize_removal(actor, product, stored)
        consumers = consumers_of(store, product)
        if consumers:
            named = ", ".join(f"{name} <{iri}>" for iri, name in consumers)
            raise Conflict(f"{product} cannot be removed: still consumed by {named}; remove or re-point them first")
        # One write: the record goes, and so do the use cases' claims that it serves them and its port's requests
        # and agreements; the history keeps a version of each.
        rewritten = records_without_claims_on(store, product)
        closing, closed = access_requests.closed_with_dropped_ports(store, {product: Graph()}, actor=actor)
        kept = [Change(product, stored, Action.REMOVE)]
        kept += [Change(iri, before, Action.UPDATE, after) for iri, (before, after) in rewritten.items()]
        kept += [Change(iri, store.record(iri), Action.UPDATE, graph) for iri, graph in closing.items()]
        written: dict[str, Iterable[Triple]] = {iri: after for iri, (_, after) in rewritten.items()}
        written.update(closing)
        # Its SLO status summaries and its observed lineage go with it, when it has them (the measurements and the runs
        # stay in their tables).
        summaries = [graph for graph in (summary_graph(product), summary_iri(product)) if len(store.record(graph))]
        write_with_history(store, written, kept, actor, drop=[product, *summaries])
    access_requests.announce_closed(store, closed, actor)
    return product


def records_without_claims_on(store: Store, product: str) -> dict[str, tuple[Graph, Graph]]:
    """Other records that state `?useCase vm:servedBy product`: each as stored, and with those statements out."""
    target = URIRef(product)
    changed: dict[str, tuple[Graph, Graph]] = {}
    for row in store.select(CLAIMS, {"product": target}):
        graph = str(row["record"])
        if graph != product and not is_service_graph(graph):
            stored = store.record(graph)
            record = store.record(graph)
            record.remove((None, VM.servedBy, target))
            changed[graph] = (stored, record)
    return changed
