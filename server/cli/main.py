"""Entry point of the `valuemesh` command: registers the commands asked for and maps errors to exit codes."""

import importlib
import os
import sys
from collections.abc import Sequence

from rich.markup import escape

from server.cli.app import app
from server.cli.common import fail, stderr
from server.errors import ValuemeshError

EXIT_INTERNAL = 70  # sysexits' EX_SOFTWARE: a fault of ours, not of the input

# The module of each command a user types (importing a module registers its commands on the app). Only the module
# of the command run is imported: all of them take about a second (the web stack for `serve`, the descriptor
# formats for `load`), which `valuemesh validate` has no use for.
COMMAND_MODULES = {
    "export": "export",
    "history": "history",
    "restore": "history",
    "lineage": "lineage",
    "load": "load",
    "measurements": "measurements",
    "query": "query",
    "register": "register",
    "serve": "serve",
    "token": "token",
    "validate": "validate",
}


def register_commands(arguments: Sequence[str]) -> None:
    """Import the module of the command in `arguments`, or every command's when none is named (help, a typo);
    none for `valuemesh --version`."""
    named = next((argument for argument in arguments if not argument.startswith("-")), None)
    if named is None and "--version" in arguments and "--help" not in arguments:
        return
    modules = [COMMAND_MODULES[named]] if named in COMMAND_MODULES else sorted(set(COMMAND_MODULES.values()))
    for module in modules:
        importlib.import_module(f"server.cli.{module}")


def main() -> None:
    try:
        register_commands(sys.argv[1:])
        app(prog_name="valuemesh")
    except ValuemeshError as error:
        fail(error)
    except Exception as error:
        if os.environ.get("VALUEMESH_DEBUG"):
            raise
        stderr.print(
            f"[bold red]internal error:[/] {type(error).__name__}: {escape(str(error))}\n"
            "This is a bug in valuemesh; run again with VALUEMESH_DEBUG=1 for the traceback and report it.",
            highlight=False,
        )
        sys.exit(EXIT_INTERNAL)


if __name__ == "__main__":
    main()
