"""Entry point of the `valuemesh` command: registers every command and maps errors to exit codes."""

from server.cli import export, load, query, serve  # noqa: F401  (importing registers the commands)
from server.cli.app import app
from server.cli.common import fail
from server.errors import ValuemeshError


def main() -> None:
    try:
        app()
    except ValuemeshError as error:
        fail(error)


if __name__ == "__main__":
    main()
