"""The `valuemesh` command-line application object; commands register themselves on it."""

import typer

app = typer.Typer(
    name="valuemesh",
    help="A knowledge-graph catalog of Data Mesh data products: why each exists, what it is made from, "
    "where products overlap.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
