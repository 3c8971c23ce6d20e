"""Who may write what, decided once for every face (GraphQL, HTTP, CLI against a server).

- a member of a domain may register, change and remove the products of that domain;
- a product's owner may change that product (not remove it, not move it to a domain they are no member of);
- moving a product from one domain to another needs the right in both;
- records that are not products (domains, goals, use cases, visions) are the ADMIN's; a product document may bring
  new agents and sources along with a product its writer may write;
- ADMIN may do anything; GOVERNANCE reads everything and changes shapes, not products;
- only ADMIN states who belongs to a domain (`org:memberOf`): OIDC callers are members of the domains the graph
  says (server/identity/oidc.py), so anyone else stating it could make themselves members.
"""

from __future__ import annotations

from collections.abc import Iterable

from rdflib import RDF, Graph, URIRef

from server.errors import Forbidden, Unauthenticated
from server.identity.principal import Principal, Role
from server.namespaces import DPROD, ORG
from server.store.base import Store


def require_writer(principal: Principal) -> None:
    """Any write needs an identity (or anonymous writes allowed on loopback)."""
    if principal.via == "anonymous":
        raise Unauthenticated(
            "writing needs an identity: send `Authorization: Bearer <token>` (an API token from `valuemesh token "
            "create`, or an OIDC access token)"
        )


def _products(graph: Graph) -> list[URIRef]:
    return [s for s in graph.subjects(RDF.type, DPROD.DataProduct) if isinstance(s, URIRef)]


def _domains(graph: Graph, product: URIRef) -> set[str]:
    return {str(d) for d in graph.objects(product, DPROD.domain)}


def _owners(graph: Graph, product: URIRef) -> set[str]:
    return {str(o) for o in graph.objects(product, DPROD.dataProductOwner)}


def _may_change(principal: Principal, product: URIRef, stored: Graph, candidate: Graph) -> str | None:
    """None when `principal` may replace the stored product with the candidate, else the missing right in words."""
    before, after = _domains(stored, product), _domains(candidate, product)
    owner = principal.id in _owners(stored, product)
    for domain in sorted(before | after):
        if principal.member_of(domain):
            continue
        if owner and domain in before and domain in after:
            continue  # the owner changes their product within its domain
        if domain in before and domain not in after:
            return f"membership of <{domain}>, the domain the product <{product}> moves out of"
        if domain in after and domain not in before and before:
            return f"membership of <{domain}>, the domain the product <{product}> moves into"
        return f"membership of <{domain}>, the domain of <{product}>" + (" (or being its owner)" if before else "")
    if not before | after:
        return f"ADMIN: <{product}> names no domain"
    return None


def _new_memberships(stored: Graph, candidate: Graph) -> list[str]:
    return sorted(
        f"<{s}> org:memberOf <{o}>"
        for s, o in candidate.subject_objects(ORG.memberOf)
        if (s, ORG.memberOf, o) not in stored
    )


def authorize_records(principal: Principal, store: Store, records: dict[str, Graph]) -> None:
    """Raise Unauthenticated or Forbidden unless `principal` may write every record of `records`."""
    require_writer(principal)
    if principal.has(Role.ADMIN):
        return
    products_written = False
    others: list[str] = []
    for iri, candidate in records.items():
        stored = store.record(iri)
        granted = _new_memberships(stored, candidate)
        if granted:
            raise Forbidden(f"{principal.name} may not state {granted[0]}: only ADMIN says who is a member of a domain")
        products = {*_products(candidate), *_products(stored)}
        if not products:
            if len(stored):
                others.append(iri)
            continue
        for product in sorted(products):
            missing = _may_change(principal, product, stored, candidate)
            if missing is not None:
                raise Forbidden(f"{principal.name} may not write <{product}>: that needs {missing}")
        products_written = True
    if others:
        raise Forbidden(
            f"{principal.name} may not change <{others[0]}>: only ADMIN changes records that are not products"
        )
    if not products_written and records:
        first = next(iter(records))
        raise Forbidden(
            f"{principal.name} may not write <{first}> on its own: only ADMIN adds records that are not products"
        )


def authorize_removal(principal: Principal, product: str, stored: Graph) -> None:
    """Removing a product needs membership of its domain (its owner alone may not)."""
    require_writer(principal)
    if principal.has(Role.ADMIN):
        return
    for domain in sorted(_domains(stored, URIRef(product))):
        if not principal.member_of(domain):
            raise Forbidden(f"{principal.name} may not remove <{product}>: that needs membership of <{domain}>")
    if not _domains(stored, URIRef(product)):
        raise Forbidden(f"{principal.name} may not remove <{product}>: it names no domain, so only ADMIN may")


def writable_domains(principal: Principal, all_domains: Iterable[str]) -> list[str]:
    """The domains whose products `principal` may register, change and remove (the GraphQL viewer's `domains`)."""
    if principal.has(Role.ADMIN):
        return sorted(all_domains)
    return sorted(d for d in all_domains if principal.member_of(d))
