"""An in-memory store for tests and throwaway catalogs: the same engine as the default, nothing on disk."""

from server.store.oxigraph import OxigraphStore


class MemoryStore(OxigraphStore):
    def __init__(self) -> None:
        super().__init__(None)
