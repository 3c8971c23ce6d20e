"""OIDC bearer tokens (JWTs) -> a principal: the token is checked, then its claims name the agent, roles, domains.

Checked: the signature (RS256 or ES256 only, with a key the issuer publishes: server/identity/oidc_keys.py), `iss`
exactly `VALUEMESH_OIDC_ISSUER`, `aud` holding `VALUEMESH_OIDC_AUDIENCE` (required: without it a token the issuer
made for any other application would be accepted here), `exp` required, `nbf` and `iat` with `LEEWAY_S` of clock
skew. Every refusal is Unauthenticated with a reason the caller can act on, never a key.

Claims (names configurable): the agent claim (`sub`) gives the agent IRI (an absolute IRI as it is, anything else
minted as `{base}agent/{segment}` as registration mints agents); the name claim (`name`, then `preferred_username`);
the roles claim (READER, DOMAIN_MEMBER, GOVERNANCE, ADMIN in any case; others ignored; READER always); the domains
are the groups claim's groups mapped by `VALUEMESH_OIDC_GROUPS_FILE` plus the domains the agent is `org:memberOf`
in the graph; any domain makes the caller a DOMAIN_MEMBER. A claim name with dots (`realm_access.roles`) reaches
into nested claims when no claim has that exact name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import pyoxigraph as ox
import yaml
from rdflib import URIRef

from server.catalog.iris import mint
from server.errors import BadInput, Unauthenticated
from server.identity.oidc_keys import ALGORITHMS, IssuerKeys, secure_url
from server.identity.principal import Principal, Role
from server.namespaces import ORG
from server.settings import Settings
from server.store.base import Store

LEEWAY_S = 60
MAX_TOKEN_CHARS = 16_384
MEMBER_OF = f"SELECT DISTINCT ?agent ?domain WHERE {{ ?agent <{ORG.memberOf}> ?domain FILTER(isIRI(?domain)) }}"


@dataclass(frozen=True)
class ClaimNames:
    agent: str = "sub"
    name: str = "name"
    groups: str = "groups"
    roles: str = "roles"


def _absolute_iri(value: str) -> bool:
    scheme, colon, _ = value.partition(":")
    if not colon or not scheme[:1].isalpha() or not all(c.isalnum() or c in "+-." for c in scheme):
        return False
    try:
        ox.NamedNode(value)
    except ValueError:
        return False
    return True


def read_groups_file(path: str) -> dict[str, tuple[str, ...]]:
    """Group name -> domain IRIs, from a YAML or JSON mapping (a group may map to one IRI or a list of them)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise BadInput(f"cannot read the groups file: {error.strerror or error}", source=path) from None
    try:
        loaded = yaml.safe_load(text)  # YAML is a superset of JSON
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise BadInput(
            f"not YAML or JSON: {getattr(error, 'problem', None) or error}",
            source=path,
            line=mark.line + 1 if mark is not None else None,
        ) from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise BadInput("must be a mapping of group name -> domain IRI (or a list of domain IRIs)", source=path)
    groups: dict[str, tuple[str, ...]] = {}
    for group, value in loaded.items():
        iris = value if isinstance(value, list) else [value]
        if not iris or not all(isinstance(iri, str) and _absolute_iri(iri) for iri in iris):
            raise BadInput(
                f"the group {group!r} must map to a domain's absolute IRI (or a list of them), not {value!r}",
                source=path,
            )
        groups[str(group)] = tuple(iris)
    return groups


def _claim(claims: Mapping[str, Any], name: str) -> Any:
    if name in claims:
        return claims[name]
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _strings(value: Any) -> list[str]:
    """A claim holding one string or a list of them."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def _moment(seconds: Any) -> str:
    try:
        return datetime.fromtimestamp(float(seconds), UTC).isoformat(timespec="seconds")
    except (TypeError, ValueError, OverflowError):
        return repr(seconds)[:40]


class OidcVerifier:
    """Checks the JWTs of one issuer and maps their claims to principals (blocking: it may ask the issuer)."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        base: str,
        store: Store,
        claims: ClaimNames = ClaimNames(),
        groups: Mapping[str, tuple[str, ...]] | None = None,
        keys: IssuerKeys | None = None,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.base = base
        self.store = store
        self.claims = claims
        self.groups = dict(groups or {})
        self.keys = keys or IssuerKeys(issuer)

    @classmethod
    def from_settings(cls, settings: Settings, store: Store) -> OidcVerifier:
        """The verifier `settings` describe; BadInput (so the catalog does not start) when they cannot work."""
        issuer = settings.oidc_issuer
        if not issuer:
            raise BadInput("VALUEMESH_OIDC_ISSUER is not set")
        if not secure_url(issuer):
            raise BadInput(
                f"VALUEMESH_OIDC_ISSUER must be an https URL (plain http only to a loopback address), not {issuer!r}"
            )
        if not settings.oidc_audience:
            raise BadInput(
                "VALUEMESH_OIDC_AUDIENCE must be set with VALUEMESH_OIDC_ISSUER: it is the `aud` the issuer puts in "
                "tokens meant for this catalog; without it a token made for any other application would be accepted"
            )
        claims = ClaimNames(
            agent=settings.oidc_agent_claim,
            name=settings.oidc_name_claim,
            groups=settings.oidc_groups_claim,
            roles=settings.oidc_roles_claim,
        )
        groups = read_groups_file(settings.oidc_groups_file) if settings.oidc_groups_file else {}
        return cls(
            issuer=issuer,
            audience=settings.oidc_audience,
            base=settings.base,
            store=store,
            claims=claims,
            groups=groups,
        )

    def verify(self, token: str) -> Principal:
        """The principal of an access token sent as `Authorization: Bearer`; Unauthenticated when it does not hold."""
        return self.principal(self.checked_claims(token, audience=self.audience))

    def verify_id_token(self, token: str, *, audience: str, nonce: str) -> Principal:
        """The principal of an ID token from a browser sign-in: the same checks, for the client's audience, and the
        nonce the sign-in sent (a token replayed from another sign-in carries another one)."""
        claims = self.checked_claims(token, audience=audience)
        if isinstance(claims.get("aud"), list) and len(claims["aud"]) > 1 and claims.get("azp") != audience:
            raise Unauthenticated("the ID token is for several audiences and not authorized for this one (`azp`)")
        if not isinstance(claims.get("nonce"), str) or claims["nonce"] != nonce:
            raise Unauthenticated("the ID token's nonce does not match this sign-in (replayed from another?)")
        return self.claims_principal(claims)

    def checked_claims(self, token: str, *, audience: str) -> dict[str, Any]:
        """The claims of a token whose signature, issuer, audience and times hold."""
        if len(token) > MAX_TOKEN_CHARS:
            raise Unauthenticated(f"the token is longer than {MAX_TOKEN_CHARS} characters")
        try:
            unchecked = jwt.decode_complete(token, options={"verify_signature": False})  # header and claims at once
            header, unverified = unchecked["header"], unchecked["payload"]
        except jwt.InvalidTokenError:
            raise Unauthenticated("the bearer token is not a well-formed JWT (nor an API token)") from None
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            shown = "unsigned (`alg: none`)" if str(algorithm).lower() == "none" else f"signed with {algorithm!r}"
            raise Unauthenticated(f"the token is {shown}; this catalog accepts only RS256 and ES256")
        if unverified.get("iss") != self.issuer:
            # Said before any key is looked up: another issuer's tokens never make the catalog ask its own issuer.
            raise Unauthenticated(
                f"wrong issuer: the token is from {str(unverified.get('iss'))[:200]!r}; this catalog trusts "
                f"{self.issuer!r}"
            )
        kid = header.get("kid")
        key = self.keys.key(kid if isinstance(kid, str) else None)
        if ALGORITHMS[algorithm] != key.key_type:
            raise Unauthenticated(
                f"the token says {algorithm}, but its signing key {str(kid)[:64]!r} is a {key.key_type} key"
            )
        try:
            return jwt.decode(
                token,
                key=key,
                algorithms=[algorithm],
                audience=audience,
                issuer=self.issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated(
                f"the token expired at {_moment(unverified.get('exp'))}; get a new one from the issuer"
            ) from None
        except jwt.ImmatureSignatureError:
            start = unverified.get("nbf", unverified.get("iat"))
            raise Unauthenticated(
                f"the token is not valid yet (from {_moment(start)}; allowing {LEEWAY_S} s of clock skew)"
            ) from None
        except jwt.InvalidAudienceError:
            raise Unauthenticated(
                f"wrong audience: the token is for {unverified.get('aud')!r}; this catalog accepts tokens for "
                f"{audience!r}"
            ) from None
        except jwt.MissingRequiredClaimError as error:
            raise Unauthenticated(f"the token has no `{error.claim}` claim, which this catalog requires") from None
        except jwt.InvalidSignatureError:
            raise Unauthenticated(
                f"the token's signature does not match the issuer's key {str(kid)[:64]!r} (altered or forged)"
            ) from None
        except jwt.InvalidTokenError as error:
            # The remaining refusals (a malformed claim); PyJWT's message names the claim, never a key.
            raise Unauthenticated(f"the token does not hold: {error}") from None

    def principal(self, claims: Mapping[str, Any]) -> Principal:
        """Agent, name, roles and domains from checked claims (domains also from `org:memberOf` in the store)."""
        return self.with_memberships(self.claims_principal(claims))

    def with_memberships(self, principal: Principal) -> Principal:
        """`principal` with the domains the graph says it is `org:memberOf` now (a browser session holds only what
        its ID token said, so a membership given or taken in the graph reaches it at its next request)."""
        domains = principal.domains | self.member_of(principal.id)
        roles = principal.roles | {Role.DOMAIN_MEMBER} if domains else principal.roles
        return replace(principal, domains=frozenset(domains), roles=frozenset(roles))

    def claims_principal(self, claims: Mapping[str, Any]) -> Principal:
        """Agent, name, roles and domains from checked claims alone (the groups claim mapped to domains)."""
        subject = _claim(claims, self.claims.agent)
        if not isinstance(subject, str) or not subject.strip():
            raise Unauthenticated(
                f"the token has no `{self.claims.agent}` claim naming the caller (VALUEMESH_OIDC_AGENT_CLAIM)"
            )
        try:
            agent = subject if _absolute_iri(subject) else mint(self.base, "agent", subject)
        except BadInput:
            raise Unauthenticated(
                f"the token's `{self.claims.agent}` claim {subject[:100]!r} does not name an agent"
            ) from None
        name = next(
            (
                value
                for value in (_claim(claims, self.claims.name), claims.get("preferred_username"), subject)
                if isinstance(value, str) and value.strip()
            ),
            subject,
        )
        roles = {Role.READER}
        for value in _strings(_claim(claims, self.claims.roles)):
            role = Role.__members__.get(value.upper())
            if role is not None:
                roles.add(role)
        domains = {iri for group in _strings(_claim(claims, self.claims.groups)) for iri in self.groups.get(group, ())}
        if domains:
            roles.add(Role.DOMAIN_MEMBER)
        return Principal(id=agent, name=name, roles=frozenset(roles), domains=frozenset(domains), via="oidc")

    def member_of(self, agent: str) -> set[str]:
        """The domains the graph says `agent` is `org:memberOf`."""
        return {str(row["domain"]) for row in self.store.select(MEMBER_OF, {"agent": URIRef(agent)})}
