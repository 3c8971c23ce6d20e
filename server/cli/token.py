"""`valuemesh token create|list|revoke`: API tokens for pipelines and the CLI (`--server`), on the catalog's store,
or, with `--server` and an ADMIN token, through a running catalog (whose embedded store `serve` holds).

The secret is printed once, on standard output alone (so `export VALUEMESH_TOKEN=$(valuemesh token create ...)`
works); the store keeps only its hash.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from typing import Annotated

import typer

from server.catalog.iris import mint
from server.cli.app import app
from server.cli.common import NoSeedOption, StoreOption, catalog_store, stderr, stdout
from server.cli.remote import ServerOption, TokenOption, post_graphql
from server.errors import BadInput, StoreUnavailable
from server.identity.principal import Role
from server.identity.tokens import ApiTokens, parse_duration
from server.settings import Settings
from server.store import Store

CREATE = """mutation Create($name: String!, $domains: [ID!], $roles: [Role!], $agent: ID, $expires: String) {
  createApiToken(name: $name, domains: $domains, roles: $roles, agent: $agent, expires: $expires) { secret }
}"""
REVOKE = "mutation Revoke($name: String!) { revokeApiToken(name: $name) { name } }"

tokens_app = typer.Typer(help="API tokens: create one for a pipeline, list them, revoke one.", no_args_is_help=True)
app.add_typer(tokens_app, name="token")


@contextmanager
def _tokens_store(store: str | None, no_seed: bool) -> Iterator[Store]:
    """The store to change tokens in; held by a running server, the way through that server is named."""
    with ExitStack() as stack:
        try:
            opened = stack.enter_context(catalog_store(store, no_seed=no_seed))
        except StoreUnavailable as error:
            raise StoreUnavailable(
                f"{error}. While `valuemesh serve` holds the store, make and revoke tokens through it: add "
                "--server URL and an ADMIN token (--token or VALUEMESH_TOKEN)"
            ) from None
        yield opened


def _roles(names: list[str] | None, domains: list[str]) -> list[Role]:
    chosen: list[Role] = []
    for name in names or []:
        try:
            chosen.append(Role(name.strip().upper()))
        except ValueError:
            raise BadInput(f"--role must be one of {', '.join(r.value for r in Role)}, not {name!r}") from None
    if domains and Role.DOMAIN_MEMBER not in chosen:
        chosen.append(Role.DOMAIN_MEMBER)
    return sorted(set(chosen) | {Role.READER}, key=list(Role).index)


@tokens_app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="What the token is for, e.g. ci-commercial.")],
    domain: Annotated[
        list[str] | None,
        typer.Option("--domain", help="A domain IRI whose products the token may write (repeat for several)."),
    ] = None,
    role: Annotated[
        list[str] | None, typer.Option("--role", help="READER, DOMAIN_MEMBER, GOVERNANCE or ADMIN (repeatable).")
    ] = None,
    agent: Annotated[
        str | None,
        typer.Option("--agent", help="The agent IRI the token acts as (default: one minted from the name)."),
    ] = None,
    expires: Annotated[
        str | None, typer.Option("--expires", help="Lifetime as an ISO 8601 duration, e.g. P90D (default: none).")
    ] = None,
    store: StoreOption = None,
    no_seed: NoSeedOption = False,
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """Create an API token and print it once (with --server: through a running catalog, as an ADMIN token)."""
    domains = list(domain or [])
    roles = _roles(role, domains)
    lifetime = parse_duration(expires) if expires else None
    if server:
        variables = {"name": name, "domains": domains, "roles": [r.value for r in roles], "agent": agent}
        data = post_graphql(server, token, CREATE, {**variables, "expires": expires})
        created = data["createApiToken"]
        stdout.print(created["secret"], highlight=False)
        stderr.print(f"token {name!r} created at {server}; it is shown only now", highlight=False)
        return
    settings = Settings.from_env()
    with _tokens_store(store, no_seed) as opened:
        secret, made = ApiTokens(opened).create(
            name,
            agent=agent or mint(settings.base, "agent", name),
            domains=domains,
            roles=roles,
            expires_in=lifetime,
        )
    stdout.print(secret, highlight=False)
    until = f", expires {made.expires.isoformat()}" if made.expires else ", never expires"
    stderr.print(
        f"token {made.name!r} acts as <{made.agent}> with {', '.join(r.value for r in made.roles)}"
        + (f" in {', '.join(made.domains)}" if made.domains else "")
        + f"{until}. It is shown only now: keep it in your secret store.",
        highlight=False,
    )


@tokens_app.command("list")
def list_tokens(store: StoreOption = None, no_seed: NoSeedOption = False) -> None:
    """The tokens with their state; never their secrets."""
    with catalog_store(store, no_seed=no_seed, reading=True) as opened:
        tokens = ApiTokens(opened).all()
    now = datetime.now(UTC)
    # Tab-separated, whole values: IRIs are never cut to a terminal's width, and scripts can read it.
    rows = [["name", "state", "roles", "domains", "agent", "created", "expires"]]
    for token in tokens:
        rows.append(
            [
                token.name,
                token.state(now),
                ",".join(r.value for r in token.roles),
                ",".join(token.domains) or "-",
                token.agent,
                token.created.isoformat(),
                token.expires.isoformat() if token.expires else "never",
            ]
        )
    for row in rows:
        print("\t".join(row))


@tokens_app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(help="The token's name (or id).")],
    store: StoreOption = None,
    no_seed: NoSeedOption = False,
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """Revoke a token: it is refused from the next request on, by every server of this catalog."""
    if server:
        post_graphql(server, token, REVOKE, {"name": name})
    else:
        with _tokens_store(store, no_seed) as opened:
            ApiTokens(opened).revoke(name)
    stderr.print(f"revoked token {name!r}", highlight=False)
