"""Who may write what, decided once for every face (GraphQL, HTTP, CLI against a server).

- a member of a domain may register, change and remove the products of that domain;
- a product's owner may change that product (not remove it, not move it to a domain they are no member of);
- moving a product from one domain to another needs the right in both;
- records that are not products (domains, goals, use cases, visions) are the ADMIN's; a product document may bring
  new agents and sources along with a product its writer may write;
- ADMIN may do anything; GOVERNANCE reads everything and changes shapes, not products;
- only ADMIN states who belongs to a domain (`org:memberOf`): OIDC callers are members of the domains the graph
  says (server/identity/oidc.py), so anyone else stating it could make themselves members.

Access requests (server/catalog/access_requests.py) have rules of their own, below the product rules: any identified
caller may ask for access; a product's owner, a member of its domain or ADMIN decides and revokes; the requester may
withdraw their own; the requester, the owner, the domain, GOVERNANCE and ADMIN may see a request. Their records are
written only by that workflow: the product path refuses them to everyone but ADMIN.
"""

from __future__ import annotations

from collections.abc import Iterable

from rdflib import RDF, Graph, URIRef

from server.errors import Forbidden, Unauthenticated
from server.identity.principal import Principal, Role
from server.namespaces import DPROD, ODRL, ORG, VM
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


def _agreements(graph: Graph) -> list[str]:
    """Nodes typed as access requests or agreements: only the access-request workflow states those."""
    return sorted({str(s) for t in (VM.AccessRequest, ODRL.Agreement) for s in graph.subjects(RDF.type, t)})


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

        forged = _agreements(candidate) or _agreements(stored)
        if forged:
            raise Forbidden(
                f"{principal.name} may not write <{forged[0]}>: access requests and agreements are written by "
                "requestAccess, decideAccessRequest and revokeAccess only"
            )
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


def authorize_run_report(principal: Principal, product: str, domains: Iterable[str], owners: Iterable[str]) -> None:
    """Reporting runs of a product (OpenLineage events) needs the right to change it: its owner, a member of its
    domain, or ADMIN; `product` is how the refusal names it."""
    require_writer(principal)
    if principal.has(Role.ADMIN) or principal.id in set(owners) or any(principal.member_of(d) for d in domains):
        return
    raise Forbidden(
        f"{principal.name} may not report runs of {product}: that needs being its owner, membership of its domain, "
        "or ADMIN"
    )


# --- access requests ------------------------------------------------------------------------------------------

# What `writes.write_records(authorized_by=...)` accepts: the access-request workflow decided with the functions
# below, so the product rules above are not the ones that apply.
ACCESS_REQUESTS = "access requests (identity/policy.py: authorize_access_*)"


def authorize_access_request(principal: Principal) -> None:
    """Asking for access needs an identity: the request names its requester as the agreement's assignee."""
    if not principal.authenticated:
        raise Unauthenticated(
            "asking for access needs an identity: send `Authorization: Bearer <token>` (an API token from "
            "`valuemesh token create`, or an OIDC access token)"
        )


def _decides(principal: Principal, owner: str | None, domain: str | None) -> bool:
    return (
        principal.has(Role.ADMIN)
        or (owner is not None and principal.id == owner)
        or (domain is not None and principal.member_of(domain))
    )


def _deciders(product: str, owner: str | None, domain: str | None) -> str:
    rights = [f"being its owner <{owner}>"] if owner else []
    rights += [f"membership of its domain <{domain}>"] if domain else []
    return ", ".join([*rights, "or ADMIN"]) + f" (the product <{product}>)"


def authorize_access_decision(principal: Principal, product: str, owner: str | None, domain: str | None) -> None:
    """Approving or rejecting a request to use a port of `product` needs its owner, its domain, or ADMIN."""
    require_writer(principal)
    if not _decides(principal, owner, domain):
        raise Forbidden(
            f"{principal.name} may not decide access to <{product}>: that needs " + _deciders(product, owner, domain)
        )


def authorize_access_revocation(
    principal: Principal, requester: str, product: str, owner: str | None, domain: str | None
) -> None:
    """Revoking needs the rights of a decision; the requester may also withdraw their own request."""
    require_writer(principal)
    if principal.authenticated and principal.id == requester:
        return
    if not _decides(principal, owner, domain):
        raise Forbidden(
            f"{principal.name} may not revoke access to <{product}>: that needs being the requester <{requester}>, "
            + _deciders(product, owner, domain)
        )


def may_see_access_request(principal: Principal, requester: str, owner: str | None, domain: str | None) -> bool:
    """The requester, the product's owner and domain members, GOVERNANCE and ADMIN see a request; nobody else."""
    if principal.has(Role.ADMIN) or (principal.authenticated and principal.has(Role.GOVERNANCE)):
        return True
    if not principal.authenticated:
        return False
    return principal.id == requester or _decides(principal, owner, domain)


def authorize_access_request_records(principal: Principal, store: Store, records: dict[str, Graph]) -> None:
    """What a write the access-request workflow authorized may hold: access-request records only (each record,
    as written and as stored, is typed vm:AccessRequest and holds no product), so it can never carry a product
    past the product rules."""
    require_writer(principal)
    for iri, candidate in records.items():
        stored = store.record(iri)
        for graph in (candidate, stored) if len(stored) else (candidate,):
            if (URIRef(iri), RDF.type, VM.AccessRequest) not in graph:
                raise Forbidden(f"<{iri}> is not an access request: the access-request workflow writes nothing else")
            if _products(graph):
                raise Forbidden(f"<{iri}> holds a data product: the access-request workflow writes no products")


# --- restricted records ---------------------------------------------------------------------------------------


def may_read_product(
    principal: Principal, domains: Iterable[str], owners: Iterable[str], approved_assignees: Iterable[str]
) -> bool:
    """Whether `principal` may read a restricted product's record (an unrestricted one everyone may read).

    Its domain's members, its owner, GOVERNANCE, ADMIN and the assignees of an approved, unexpired access request
    to one of its output ports (`approved_assignees`, as of now) may; nobody else, anonymous callers never."""
    if principal.has(Role.ADMIN) or (principal.authenticated and principal.has(Role.GOVERNANCE)):
        return True
    if not principal.authenticated:
        return False
    if any(principal.member_of(domain) for domain in domains):
        return True
    return principal.id in set(owners) or principal.id in set(approved_assignees)


def reads_everything(principal: Principal) -> bool:
    """GOVERNANCE and ADMIN read every record, restricted or not (the SPARQL endpoint runs their queries on all)."""
    return principal.has(Role.ADMIN) or (principal.authenticated and principal.has(Role.GOVERNANCE))
