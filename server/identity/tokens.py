"""API tokens for pipelines and the CLI: made once, shown once, kept only as a hash, listed and revoked.

They live in the store's service graph `urn:valuemesh:tokens` (never a record: no face serves it), so every replica
of a catalog on a shared SPARQL server knows the same tokens. A token is `vmt_` and 43 URL-safe characters (256
random bits); only its SHA-256 is stored, which is enough for a secret that cannot be guessed.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from rdflib import Literal

from server.errors import BadInput, NotFound, Unauthenticated
from server.identity.principal import Principal, Role
from server.sparql_text import iri_ref
from server.store.base import TOKENS_GRAPH, Store

PREFIX = "vmt_"
T = "urn:valuemesh:token#"


@dataclass(frozen=True)
class ApiToken:
    id: str
    name: str
    agent: str
    domains: tuple[str, ...]
    roles: tuple[Role, ...]
    created: datetime
    expires: datetime | None
    revoked: datetime | None

    def state(self, now: datetime) -> str:
        if self.revoked is not None:
            return "revoked"
        if self.expires is not None and self.expires <= now:
            return "expired"
        return "active"

    def principal(self) -> Principal:
        return Principal(
            id=self.agent,
            name=self.name,
            roles=frozenset(self.roles) | {Role.READER},
            domains=frozenset(self.domains),
            via="token",
        )


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_duration(text: str) -> timedelta:
    """An ISO 8601 duration of days, hours, minutes (P90D, PT12H, P1DT6H)."""
    match = re.fullmatch(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?", text.strip().upper())
    if not match or not any(match.groups()):
        raise BadInput(f"--expires must be an ISO 8601 duration such as P90D or PT12H, not {text!r}")
    days, hours, minutes = (int(part or 0) for part in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes)


def _literal(value: str) -> str:
    return Literal(value).n3()


def _moment(value: datetime) -> str:
    return f'"{value.isoformat()}"^^<http://www.w3.org/2001/XMLSchema#dateTime>'


class ApiTokens:
    """The tokens of one store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def create(
        self,
        name: str,
        *,
        agent: str,
        domains: list[str],
        roles: list[Role],
        expires_in: timedelta | None,
        now: datetime | None = None,
    ) -> tuple[str, ApiToken]:
        """Make a token; the secret is returned here and never again."""
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", name):
            raise BadInput(f"a token name is 1-100 letters, digits, '.', '_' or '-', not {name!r}")
        if any(t.name == name and t.state(now or _now()) == "active" for t in self.all()):
            raise BadInput(f"an active token is already named {name!r}; revoke it first or choose another name")
        now = now or _now()
        secret = PREFIX + secrets.token_urlsafe(32)
        token_id = f"urn:valuemesh:token:{secrets.token_hex(8)}"
        token = ApiToken(
            token_id, name, agent, tuple(domains), tuple(roles), now, now + expires_in if expires_in else None, None
        )
        lines = [
            f"{iri_ref(token_id)} <{T}hash> {_literal(digest(secret))} ; <{T}name> {_literal(name)} ;",
            f"  <{T}agent> {iri_ref(agent)} ; <{T}created> {_moment(now)} .",
        ]
        lines += [f"{iri_ref(token_id)} <{T}domain> {iri_ref(d)} ." for d in domains]
        lines += [f"{iri_ref(token_id)} <{T}role> {_literal(r.value)} ." for r in roles]
        if token.expires is not None:
            lines.append(f"{iri_ref(token_id)} <{T}expires> {_moment(token.expires)} .")
        self.store.update(f"INSERT DATA {{ GRAPH <{TOKENS_GRAPH}> {{\n" + "\n".join(lines) + "\n}}")
        return secret, token

    def all(self) -> list[ApiToken]:
        return self._read()

    def _read(self, secret_digest: str | None = None) -> list[ApiToken]:
        """The tokens (only the one with that digest, if given), oldest first. Their statements are read as they are
        and put together here: a plain pattern every SPARQL server plans well, where Virtuoso's cost model refused
        the same question asked with four OPTIONALs and GROUP_CONCATs (an estimate of an hour for a few rows)."""
        chosen = "" if secret_digest is None else f"?token <{T}hash> {_literal(secret_digest)} ."
        answer = self.store.select(
            f"SELECT ?token ?p ?o WHERE {{ GRAPH <{TOKENS_GRAPH}> {{ {chosen} ?token ?p ?o }} }}"
        )
        facts: dict[str, dict[str, list[str]]] = {}
        for token_id, predicate, value in answer.rows:
            said = facts.setdefault(str(token_id), {})
            said.setdefault(str(predicate).removeprefix(T), []).append(str(value))
        tokens = [_token(token_id, said) for token_id, said in facts.items() if all(said.get(k) for k in REQUIRED)]
        return sorted(tokens, key=lambda token: token.created)

    def revoke(self, name_or_id: str, now: datetime | None = None) -> ApiToken:
        """Revoke the active token of that name (or id); NotFound when there is none."""
        now = now or _now()
        active = [t for t in self.all() if name_or_id in (t.name, t.id) and t.state(now) == "active"]
        if not active:
            raise NotFound(f"no active token named {name_or_id!r} (`valuemesh token list` shows them)")
        for token in active:
            self.store.update(
                f"INSERT DATA {{ GRAPH <{TOKENS_GRAPH}> {{ {iri_ref(token.id)} <{T}revoked> {_moment(now)} }} }}"
            )
        return active[0]

    def principal(self, secret: str, now: datetime | None = None) -> Principal:
        """The principal a presented token stands for; Unauthenticated when it is unknown, expired or revoked."""
        found = self._read(digest(secret))
        if not found:
            raise Unauthenticated("unknown API token")
        token = found[0]
        state = token.state(now or _now())
        if state != "active":
            raise Unauthenticated(f"the API token {token.name!r} is {state}")
        return token.principal()


# What every token states; statements about an IRI that lacks one of these (left by a half-removed token, say) are
# not a token.
REQUIRED = ("name", "agent", "created")


def _token(token_id: str, said: dict[str, list[str]]) -> ApiToken:
    """A token from its statements, each predicate's local name with its values."""
    expires, revoked = said.get("expires"), said.get("revoked")
    return ApiToken(
        id=token_id,
        name=said["name"][0],
        agent=said["agent"][0],
        domains=tuple(sorted(set(said.get("domain", [])))),
        roles=tuple(Role(role) for role in sorted(set(said.get("role", [])))),
        created=_time(said["created"][0]),
        expires=min(map(_time, expires)) if expires else None,
        revoked=min(map(_time, revoked)) if revoked else None,
    )


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _time(node: object) -> datetime:
    value = datetime.fromisoformat(str(node).replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
