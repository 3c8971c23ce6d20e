"""Shapes as compiled at an earlier start, so an unchanged installation does not read and compile them again (about
a quarter of a second of `valuemesh validate` for the packaged shapes, with the Turtle parser's import; more for an
organisation's, which are also checked against SHACL-for-SHACL before they compile).

What compiling gives depends only on the shapes files' exact bytes and where they are, on the code that compiles
(every module of valuemesh: the compiler's helpers are spread over the package, and hashing all of it takes a few
milliseconds) and on the libraries and Python that run it; a digest of all of that is the key, written in front of
the pickled shapes in `$XDG_CACHE_HOME/valuemesh/packaged-shapes.pickle` (an organisation's set of files: a
`shapes-<digest of their locations>.pickle` of its own). A key that differs in any way means the shapes are compiled
afresh and the file replaced; the pickle is only read when the key matches. A file that cannot be read or written is
ignored, and the shapes simply compiled. Like any file in the user's cache, it is trusted as the user's own
(unpickling it runs what it says).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from collections.abc import Callable, Sequence
from contextlib import suppress
from importlib import metadata
from pathlib import Path
from typing import TypeVar

import rdflib

from server import __version__
from server.governance.verdicts import cache_home

CACHE_NAME = "packaged-shapes.pickle"
SERVER_PACKAGE = Path(__file__).resolve().parents[1]

Compiled = TypeVar("Compiled")


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def compiled_key(files: Sequence[Path]) -> str | None:
    """The digest the shapes compiled from `files` are remembered by; None when something cannot be read."""
    try:
        parts = [
            f"python {sys.version}",
            f"valuemesh {__version__}",
            f"rdflib {rdflib.__version__}",
            f"pyoxigraph {metadata.version('pyoxigraph')}",
            *(f"{path.resolve().as_uri()} {_sha256(path.read_bytes())}" for path in files),
            *(
                f"{module.relative_to(SERVER_PACKAGE)} {_sha256(module.read_bytes())}"
                for module in sorted(SERVER_PACKAGE.rglob("*.py"))
            ),
        ]
    except (OSError, metadata.PackageNotFoundError):
        return None
    return _sha256("\n".join(parts).encode())


def _kept(location: Path, key: str) -> object | None:
    try:
        with location.open("rb") as kept:
            if kept.readline().rstrip(b"\n") != key.encode():
                return None
            return pickle.load(kept)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError):
        return None


def _keep(location: Path, key: str, compiled: object) -> None:
    try:
        location.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=location.parent, prefix=".shapes-", suffix=".pickle")
    except OSError:
        return
    try:
        with os.fdopen(handle, "wb") as written:
            written.write(key.encode() + b"\n")
            pickle.dump(compiled, written, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, location)  # whole or not at all, even with two starts at once
    except (OSError, pickle.PicklingError):
        with suppress(OSError):
            os.unlink(temporary)


def remembered(
    files: Sequence[Path], compile_files: Callable[[], Compiled], kind: type[Compiled], location: Path | None = None
) -> Compiled:
    """`compile_files()`, or what it gave at an earlier start for the same files, code and libraries."""
    location = location or cache_home() / "valuemesh" / CACHE_NAME
    key = compiled_key(files)
    if key is not None:
        kept = _kept(location, key)
        if isinstance(kept, kind):
            return kept
    compiled = compile_files()
    # Kept only if nothing changed while compiling: what is kept under a key is what those bytes compile to.
    if key is not None and compiled_key(files) == key:
        _keep(location, key, compiled)
    return compiled
