"""The `valuemesh` command-line application object; commands register themselves on it."""

import re
from typing import Annotated, Any

import typer
from typer.core import TyperArgument, TyperOption

from server import __version__

# Typer shows every value's Python type in angle brackets (`<bool>` beside a flag, `<list[Path]>`); help reads better
# with none beside a flag and click's plain names (TEXT, PATH, INTEGER, a choice's values) elsewhere.
_PLAIN_TYPES = {"str": "TEXT", "Path": "PATH", "int": "INTEGER", "float": "NUMBER", "datetime": "DATETIME"}


def _plain(shown: str | None, many: str = "") -> str | None:
    """`<list[Path]>` as `PATH` followed by `many`, `<str>` as `TEXT`, anything else as it is."""
    match = re.fullmatch(r"<(list\[)?(.+?)\]?>(\.\.\.)?", shown or "")
    if match is None:
        return shown
    name = match.group(2)
    return _PLAIN_TYPES.get(name, name) + (many if match.group(1) or match.group(3) else "")


def _option_type(self: TyperOption, ctx: Any) -> str | None:
    if self.metavar is not None:
        return self.metavar
    return None if self.is_flag else _plain(_typer_option_type(self, ctx))  # a repeatable option takes one each time


def _argument_type(self: TyperArgument, ctx: Any) -> Any:
    return _plain(_typer_argument_type(self, ctx), many="...")


_typer_option_type = TyperOption.display_type_rich
_typer_argument_type = TyperArgument.display_type_rich
TyperOption.display_type_rich = _option_type  # type: ignore[method-assign,assignment]
TyperArgument.display_type_rich = _argument_type  # type: ignore[method-assign,assignment]

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
