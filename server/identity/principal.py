"""The caller of a catalog operation: an agent with roles and the domains they belong to."""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from enum import Enum

ANONYMOUS_WAYS = frozenset({"anonymous", "anonymous-writer"})


class Role(str, Enum):
    """What a principal may do beyond reading (the GraphQL `Role` enum)."""

    READER = "READER"
    DOMAIN_MEMBER = "DOMAIN_MEMBER"  # register, change and remove the products of their domains
    GOVERNANCE = "GOVERNANCE"  # change the shapes, read everything
    ADMIN = "ADMIN"  # anything


@dataclass(frozen=True)
class Principal:
    """`id` is the agent's IRI (a product's owner is matched against it); `via` says how it was established."""

    id: str
    name: str
    roles: frozenset[Role] = frozenset({Role.READER})
    domains: frozenset[str] = field(default_factory=frozenset)
    via: str = "anonymous"  # "oidc", "token", "local", "anonymous"

    @property
    def authenticated(self) -> bool:
        return self.via not in ANONYMOUS_WAYS

    def has(self, role: Role) -> bool:
        return role in self.roles

    def member_of(self, domain: str) -> bool:
        return domain in self.domains


ANONYMOUS = Principal(id="urn:valuemesh:agent:anonymous", name="anonymous")
# VALUEMESH_ANONYMOUS_WRITES=1 on loopback: an unauthenticated caller who may write everything (a developer's laptop).
ANONYMOUS_WRITER = Principal(
    id="urn:valuemesh:agent:anonymous",
    name="anonymous (writes allowed)",
    roles=frozenset({Role.ADMIN}),
    via="anonymous-writer",
)
# The catalog itself: seeding the example landscape, installing the ontology.
SYSTEM = Principal(id="urn:valuemesh:agent:system", name="valuemesh", roles=frozenset({Role.ADMIN}), via="system")


def local_operator() -> Principal:
    """Whoever runs the CLI on the store's own files: they could change the files anyway, so they may do anything."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "operator"
    return Principal(id=f"urn:valuemesh:agent:local:{user}", name=user, roles=frozenset({Role.ADMIN}), via="local")
