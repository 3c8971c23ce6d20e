"""Remembering that a set of shapes files passed the start checks, so an unchanged set is not judged again.

Judging an organisation's shapes against SHACL-for-SHACL (with pyshacl) and parsing their SPARQL costs about a
second at every start, most of `valuemesh validate`'s extra time with those shapes. The verdict depends only on
the exact bytes of the files and where they are (relative IRIs resolve against a file's location), on the checks
themselves (the SHACL-for-SHACL shapes and the code that runs them) and on the libraries that run them; a digest
of all of that is the key. Only a *passing* verdict is kept: a refusal is judged again so its reasons can be
printed. The keys live in `$XDG_CACHE_HOME/valuemesh/shapes-verdicts.json`; a cache that cannot be read or written
is ignored, and the checks simply run.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from contextlib import suppress
from importlib import metadata
from pathlib import Path

import rdflib

from server import __version__

CACHE_NAME = "shapes-verdicts.json"
KEPT = 64  # the newest passing verdicts kept: a few organisations' shapes, each in a few versions


def cache_home() -> Path:
    """`$XDG_CACHE_HOME`, or `~/.cache` when it is unset or relative (as the XDG base directory spec says)."""
    given = os.environ.get("XDG_CACHE_HOME", "")
    return Path(given) if given and Path(given).is_absolute() else Path.home() / ".cache"


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def verdict_key(files: Mapping[Path, bytes], checks: Iterable[Path]) -> str | None:
    """The digest a verdict on `files` (absolute path and exact bytes) is remembered by; `checks`: the files that
    define the checks. None when one of them cannot be read (nothing is remembered then)."""
    try:
        checked_by = [f"{path.name} {_sha256(path.read_bytes())}" for path in checks]
        pyshacl = metadata.version("pyshacl")
    except (OSError, metadata.PackageNotFoundError):
        return None
    parts = [
        f"valuemesh {__version__}",
        f"rdflib {rdflib.__version__}",
        f"pyshacl {pyshacl}",
        *checked_by,
        *sorted(f"{path.as_uri()} {_sha256(content)}" for path, content in files.items()),
    ]
    return _sha256("\n".join(parts).encode())


class PassingVerdicts:
    """The keys of shapes files that passed the start checks, in a small JSON file."""

    def __init__(self, location: Path | None = None) -> None:
        self.location = location or cache_home() / "valuemesh" / CACHE_NAME

    def _read(self) -> list[str]:
        try:
            kept = json.loads(self.location.read_text(encoding="utf-8")).get("passed", [])
        except (OSError, ValueError, AttributeError):
            return []
        return [key for key in kept if isinstance(key, str)] if isinstance(kept, list) else []

    def passed(self, key: str | None) -> bool:
        return key is not None and key in self._read()

    def remember(self, key: str | None) -> None:
        """Keep `key` as passed; a cache directory that cannot be written is left as it is."""
        if key is None:
            return
        kept = [*[known for known in self._read() if known != key][-(KEPT - 1) :], key]
        try:
            self.location.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.location.parent, prefix=".verdicts-", suffix=".json")
        except OSError:
            return
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as written:
                json.dump({"passed": kept}, written)
            os.replace(temporary, self.location)  # whole or not at all, even with two starts at once
        except OSError:
            with suppress(OSError):
                os.unlink(temporary)
