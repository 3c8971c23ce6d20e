"""uvicorn's server, saying where the catalog is once it listens."""

from __future__ import annotations

import socket

import uvicorn

from server.cli.common import stderr


class AnnouncingServer(uvicorn.Server):
    """uvicorn, saying where the catalog is once the port is bound (a port in use fails before it says so)."""

    def __init__(self, config: uvicorn.Config, announcement: str) -> None:
        super().__init__(config)
        self.announcement = announcement

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            stderr.print(self.announcement, highlight=False)
