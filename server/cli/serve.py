"""`valuemesh serve`: the HTTP API (GraphQL, SPARQL, linked data) on uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from server.catalog.seeding import prepare
from server.cli.app import app
from server.cli.common import NoSeedOption, ShapesOption, StoreOption, shape_entries, stderr
from server.errors import BadInput
from server.governance.sources import load_shapes
from server.settings import Settings
from server.store import open_store


@app.command()
def serve(
    store: StoreOption = None,
    host: Annotated[str, typer.Option(envvar="VALUEMESH_HOST", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="VALUEMESH_PORT", help="TCP port to listen on.")] = 8000,
    no_seed: NoSeedOption = False,
    shapes: ShapesOption = None,
) -> None:
    """Serve the catalog over HTTP. An empty store is seeded with the article's landscape first."""
    # The web stack (FastAPI, Strawberry, uvicorn) is imported here, not at the top: every other command starts
    # about two seconds sooner without it.
    import uvicorn

    from server.cli.announcing_server import AnnouncingServer
    from server.web.app import create_app
    from server.web.hardening import is_loopback

    settings = Settings.from_env(
        store=store, host=host, port=port, seed=False if no_seed else None, shapes=shape_entries(shapes)
    )
    if settings.anonymous_writes and not is_loopback(host):
        raise BadInput(
            f"VALUEMESH_ANONYMOUS_WRITES=1 lets anyone who reaches the server change the catalog; it is allowed only "
            f"on a loopback address, not on {host}. Give writers API tokens (`valuemesh token create`) instead."
        )
    # Open before uvicorn starts so that an unusable store is a clear message, not a server that fails later.
    # Shapes that cannot all be honoured stop the server here, before the store is touched.
    in_force = load_shapes(settings.shapes)
    opened = open_store(settings.store)
    seeded = prepare(opened, with_seed=settings.seed, shapes=in_force)
    stderr.print(f"valuemesh: store {opened.location}", highlight=False)
    if seeded is not None:
        stderr.print(
            f"valuemesh: the store was empty: seeded it with the article's landscape ({len(seeded.added)} records; "
            "--no-seed leaves an empty store empty)",
            highlight=False,
        )
    if settings.anonymous_writes:
        stderr.print("valuemesh: anyone on this machine may write (VALUEMESH_ANONYMOUS_WRITES=1)", highlight=False)
    elif not settings.oidc_issuer:
        stderr.print(
            "valuemesh: writes need an API token (`valuemesh token create --name NAME --domain IRI`, made before "
            "`serve` holds the store)",
            highlight=False,
        )
    app = create_app(settings, store=opened, shapes=in_force)
    app.state.catalog.keep_long_lived()  # this process serves for good: see Catalog.keep_long_lived
    config = uvicorn.Config(app, host=host, port=port, log_level="info")
    AnnouncingServer(config, f"valuemesh: serving on http://{_url_host(host)}:{port}/").run()
    opened.close()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
