"""Write the served schema as SDL: `python -m server.graphql.export [path]` (default: schema.graphql)."""

from __future__ import annotations

import sys
from pathlib import Path

from server.graphql.schema import sdl


def main(argv: list[str]) -> None:
    target = Path(argv[0]) if argv else Path("schema.graphql")
    target.write_text(sdl(), encoding="utf-8")
    print(f"wrote {target}")


if __name__ == "__main__":
    main(sys.argv[1:])
