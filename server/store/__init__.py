"""Store backends behind one protocol; `open_store` picks one from a location string.

Locations: a directory path or `oxigraph:PATH` (embedded, on disk; the default), `memory:` (in memory),
`sparql+http://...` / `sparql+https://...` (a remote SPARQL 1.1 server).
"""

from __future__ import annotations

from server.errors import StoreUnavailable
from server.store.base import SelectResult, Store, Triple
from server.store.memory import MemoryStore
from server.store.oxigraph import OxigraphStore

__all__ = ["MemoryStore", "OxigraphStore", "SelectResult", "Store", "Triple", "open_store"]


def open_store(location: str, *, read_only: bool = False) -> Store:
    """Open the store a location string names."""
    if location in {"memory", "memory:"}:
        return MemoryStore()
    if location.startswith(("sparql+http://", "sparql+https://")):
        try:
            from server.store.sparql import RemoteSparqlStore
        except ImportError as error:  # pragma: no cover - present once the remote backend lands
            raise StoreUnavailable(f"the remote SPARQL backend is not available: {error}") from None
        return RemoteSparqlStore.from_location(location)  # type: ignore[no-any-return]
    path = location.removeprefix("oxigraph:")
    if not path:
        raise StoreUnavailable("empty store location; give a directory, memory: or sparql+http://...")
    return OxigraphStore(path, read_only=read_only)
