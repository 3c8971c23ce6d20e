"""Entry point of the `valuemesh` command: registers every command and maps errors to exit codes."""

import os
import sys

# Importing a command's module registers it on the app.
from server.cli import (  # noqa: F401
    export,
    history,
    lineage,
    load,
    measurements,
    query,
    register,
    serve,
    token,
    validate,
)
from server.cli.app import app
from server.cli.common import fail, stderr
from server.errors import ValuemeshError

EXIT_INTERNAL = 70  # sysexits' EX_SOFTWARE: a fault of ours, not of the input


def main() -> None:
    try:
        app(prog_name="valuemesh")
    except ValuemeshError as error:
        fail(error)
    except Exception as error:
        if os.environ.get("VALUEMESH_DEBUG"):
            raise
        stderr.print(
            f"[bold red]internal error:[/] {type(error).__name__}: {error}\n"
            "This is a bug in valuemesh; run again with VALUEMESH_DEBUG=1 for the traceback and report it.",
            highlight=False,
        )
        sys.exit(EXIT_INTERNAL)


if __name__ == "__main__":
    main()
