"""Restricted records: which records a caller may not read, and every node those records hold.

A product marked `vm:restricted true` is readable only as identity/policy.py `may_read_product` says (its domain,
its owner, GOVERNANCE, ADMIN, and the assignees of an approved, unexpired access request to one of its output
ports). What it hides is its record (the product, its ports, agreement and SLOs, and any skolemised node), the
access-request records that target its ports, and its SLO status summaries (`<product>/slo-status`). Faces ask a
`Visibility` (one per request and caller) whether a node is hidden and answer as if it were absent; the SPARQL
endpoint runs on a dataset without the hidden records (server/catalog/public_view.py).

`Restrictions` is what the store says, read in three questions and kept by the Catalog service until the next write
(at 100k products with 10 % restricted: some 10k products and their nodes). Whether a request is in force is decided
when asked (`now`), so an agreement stops granting on the day after its end date without any write.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from server.catalog.access_requests import Status, _status
from server.identity import policy
from server.identity.principal import Principal
from server.namespaces import sparql_prefixes
from server.observations.summaries import summary_graph
from server.store.base import Store

# Restricted products with what the policy needs: domains, owners, output ports.
PRODUCTS = (
    sparql_prefixes()
    + """
SELECT ?product ?domain ?owner ?port WHERE {
  GRAPH ?product {
    ?product a dprod:DataProduct ; vm:restricted true .
    OPTIONAL { ?product dprod:domain ?domain }
    OPTIONAL { ?product dprod:dataProductOwner ?owner }
    OPTIONAL { ?product dprod:outputPort ?port }
  }
}
"""
)

# Access requests to the output ports of restricted products (records of their own, hidden with the product).
REQUESTS = (
    sparql_prefixes()
    + """
SELECT ?product ?request ?requester ?status ?until WHERE {
  GRAPH ?product { ?product vm:restricted true ; dprod:outputPort ?port }
  GRAPH ?request {
    ?request a vm:AccessRequest ; odrl:target ?port ; odrl:assignee ?requester ; vm:requestStatus ?status .
    OPTIONAL { ?request dct:temporal/dcat:endDate ?until }
  }
}
"""
)

# Every subject of a restricted product's record, of the access requests to its ports, of its SLO summaries and of
# its observed lineage.
NODES = (
    sparql_prefixes()
    + """
SELECT DISTINCT ?product ?node WHERE {
  { GRAPH ?product { ?product vm:restricted true . ?node ?p ?o } }
  UNION
  {
    GRAPH ?product { ?product vm:restricted true ; dprod:outputPort ?port }
    GRAPH ?request { ?request a vm:AccessRequest ; odrl:target ?port . ?node ?p ?o }
  }
  UNION
  { GRAPH ?product { ?product vm:restricted true } GRAPH ?summary { ?node dqv:computedOn ?product } }
  UNION
  { GRAPH ?product { ?product vm:restricted true } GRAPH ?summary { ?summary vm:observedLineageOf ?product . ?node ?p ?o } }
}
"""
)


# The observed-lineage records of restricted products.
SUMMARIES = (
    sparql_prefixes()
    + """
SELECT ?product ?summary WHERE {
  GRAPH ?product { ?product vm:restricted true }
  GRAPH ?summary { ?summary vm:observedLineageOf ?product }
}
"""
)


@dataclass(frozen=True)
class Grant:
    """An access request to a port of a restricted product: its requester is a reader while it is approved."""

    request: str
    requester: str
    status: str
    until: str | None

    def in_force(self, now: datetime) -> bool:
        return _status(self.status, self.until, now) is Status.APPROVED


@dataclass
class RestrictedProduct:
    iri: str
    domains: set[str] = field(default_factory=set)
    owners: set[str] = field(default_factory=set)
    ports: set[str] = field(default_factory=set)
    grants: dict[str, Grant] = field(default_factory=dict)
    requests: set[str] = field(default_factory=set)  # request records hidden with the product
    summaries: set[str] = field(default_factory=set)  # its observed lineage (server/openlineage/summary.py)

    def readable_by(self, principal: Principal, now: datetime) -> bool:
        approved = [g.requester for g in self.grants.values() if g.in_force(now)]
        return policy.may_read_product(principal, self.domains, self.owners, approved)

    @property
    def records(self) -> list[str]:
        """The records hidden with this product: its own, the access requests to its ports, its SLO status summaries,
        its observed lineage."""
        return [self.iri, *sorted(self.requests), summary_graph(self.iri), *sorted(self.summaries)]


@dataclass
class Restrictions:
    """The restricted products of the store as it was read, and the product each of their nodes belongs to."""

    products: dict[str, RestrictedProduct] = field(default_factory=dict)
    product_of: dict[str, str] = field(default_factory=dict)  # node IRI -> the restricted product hiding it

    def readable(self, principal: Principal, now: datetime | None = None) -> frozenset[str]:
        """The restricted products `principal` may read now."""
        when = now or datetime.now(UTC)
        if policy.reads_everything(principal):
            return frozenset(self.products)
        if not principal.authenticated:
            return frozenset()
        return frozenset(iri for iri, p in self.products.items() if p.readable_by(principal, when))

    def visibility(self, principal: Principal, now: datetime | None = None) -> Visibility:
        return Visibility(self, self.readable(principal, now))


def read_restrictions(store: Store) -> Restrictions:
    """Three questions to the store: restricted products, the requests to their ports, the nodes they hold."""
    found = Restrictions()
    for row in store.select(PRODUCTS):
        iri = str(row["product"])
        product = found.products.setdefault(iri, RestrictedProduct(iri))
        for name, into in (("domain", product.domains), ("owner", product.owners), ("port", product.ports)):
            if row[name] is not None:
                into.add(str(row[name]))
    if not found.products:
        return found
    for row in store.select(REQUESTS):
        product = found.products[str(row["product"])]
        request = str(row["request"])
        until = None if row["until"] is None else str(row["until"])
        product.grants[request] = Grant(request, str(row["requester"]), str(row["status"]), until)
        product.requests.add(request)
    for row in store.select(NODES):
        found.product_of[str(row["node"])] = str(row["product"])
    for row in store.select(SUMMARIES):
        found.products[str(row["product"])].summaries.add(str(row["summary"]))
    for iri, product in found.products.items():
        found.product_of[iri] = iri
        found.product_of[summary_graph(iri)] = iri
        for record in (*product.requests, *product.summaries):
            found.product_of[record] = iri
    return found


@dataclass(frozen=True)
class Visibility:
    """What one caller may not read: ask `hidden(iri)` for any node (product, port, agreement, SLO, request)."""

    restrictions: Restrictions
    readable: frozenset[str]

    def hidden(self, iri: str) -> bool:
        product = self.restrictions.product_of.get(iri)
        return product is not None and product not in self.readable

    def visible(self, iris: Iterable[str]) -> list[str]:
        return [iri for iri in iris if not self.hidden(iri)]

    @property
    def hides_anything(self) -> bool:
        return len(self.readable) < len(self.restrictions.products)

    def readable_records(self) -> list[str]:
        """The restricted records this caller may read (what a SPARQL dataset adds to the public view)."""
        return sorted(r for p in self.readable for r in self.restrictions.products[p].records)


EVERYTHING_VISIBLE = Visibility(Restrictions(), frozenset())


class Unknown(Visibility):
    """The restrictions could not be read (the store failed): every question raises that failure, so nothing is
    served as if it were readable and the caller gets the store's error."""

    def __init__(self, error: Exception) -> None:
        super().__init__(Restrictions(), frozenset())
        object.__setattr__(self, "error", error)

    def hidden(self, iri: str) -> bool:
        raise self.error  # type: ignore[attr-defined]

    @property
    def hides_anything(self) -> bool:
        raise self.error  # type: ignore[attr-defined]
