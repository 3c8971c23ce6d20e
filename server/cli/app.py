"""The `valuemesh` command-line application object; commands register themselves on it."""

from typing import Annotated

import typer

from server import __version__

app = typer.Typer(
    name="valuemesh",
    help="A knowledge-graph catalog of Data Mesh data products: why each exists, what it is made from, "
    "where products overlap.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="markdown",
)


def _version(shown: bool) -> None:
    if shown:
        print(f"valuemesh {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """A knowledge-graph catalog of Data Mesh data products: why each exists, what it is made from, where products
    overlap."""
