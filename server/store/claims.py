"""Writers in several processes on one SPARQL server: a write holds the keys it depends on until it has committed.

A remote store can be written by several API replicas at once. A write validates against what it reads (is this
name already taken in the domain? does the record exist?) and then commits; without coordination two replicas can
both read "free" and both commit. Before it reads, a write therefore claims its keys (the records it writes, and
the name of each product in its domain) in a small graph of the server itself:

1. it inserts one claim per key, with a token of its own and an expiry;
2. it reads the live claims on those keys: if any other token holds one of them, it withdraws its claims, waits a
   moment and tries again (up to `WAIT_S`, then Conflict); otherwise the keys are its own.

Two writers can never both win: each reads after its own insert, so the later of the two reads sees the other's
claim. Both may lose a round, and then both try again after a random pause. The server answers each request on
its own, in order, which is all this needs (Oxigraph server, Virtuoso and every SPARQL 1.1 store do). A writer
that dies holding claims blocks its keys until they expire (`TTL_S`). The embedded store needs none of this: one
process owns it (RocksDB locks its directory), and that process's write lock is enough.
"""

from __future__ import annotations

import hashlib
import random
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Protocol

from rdflib.term import Node

from server.errors import Conflict
from server.store.base import CLAIMS_GRAPH, SelectResult

CLAIM = "urn:valuemesh:claim#"
# A write holds its claims while it validates and commits; this is how long a dead writer's claims stay in force.
TTL_S = 120.0
# How long a write waits for keys other writes hold before it gives up with Conflict (writes to one domain take
# turns, each as long as its validation).
WAIT_S = 30.0
# A batch over this many keys claims the whole catalog instead (one claim, not thousands).
MAX_KEYS = 1000
WHOLE_CATALOG = "the whole catalog"


class _Server(Protocol):
    def select(self, query: str, bindings: dict[str, Node] | None = None) -> SelectResult: ...

    def update(self, sparql: str) -> None: ...


def _id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:40]


def _instant(moment: datetime) -> str:
    return f'"{moment.strftime("%Y-%m-%dT%H:%M:%S.%f")}Z"^^<http://www.w3.org/2001/XMLSchema#dateTime>'


class Claims:
    """Claims on one SPARQL server (see the module docstring)."""

    def __init__(self, server: _Server) -> None:
        self.server = server

    @contextmanager
    def exclusive(self, keys: Iterable[str]) -> Iterator[None]:
        """Hold `keys` (strings naming what a write depends on) for the block; Conflict if others hold them long."""
        named = sorted(set(keys))
        whole = len(named) > MAX_KEYS
        ids = {_id(WHOLE_CATALOG): WHOLE_CATALOG} if whole else {_id(key): key for key in named}
        token = uuid.uuid4().hex
        deadline = time.monotonic() + WAIT_S
        pause = 0.01
        while True:
            self._claim(token, list(ids))
            try:
                held = self._held_by_others(token, list(ids), whole)
            except BaseException:
                self._withdraw(token)
                raise
            if not held:
                break
            self._withdraw(token)
            self._drop_expired()
            if time.monotonic() > deadline:
                what = ", ".join(sorted(ids.get(i, "another write's keys") for i in held)[:3])
                raise Conflict(
                    f"another write is changing {what} and held it for over {WAIT_S:g} s; nothing was stored, try again"
                )
            time.sleep(random.uniform(pause, 2 * pause))
            pause = min(pause * 2, 0.5)
        try:
            yield
        finally:
            self._withdraw(token)

    def _claim(self, token: str, ids: list[str]) -> None:
        until = _instant(datetime.now(UTC) + timedelta(seconds=TTL_S))
        lines = "\n".join(
            f'<{CLAIM}{token}-{key}> <{CLAIM}key> "{key}" ; <{CLAIM}token> "{token}" ; <{CLAIM}until> {until} .'
            for key in ids
        )
        self.server.update(f"INSERT DATA {{ GRAPH <{CLAIMS_GRAPH}> {{\n{lines}\n}} }}")

    def _held_by_others(self, token: str, ids: list[str], whole: bool) -> set[str]:
        """The keys among `ids` someone else holds now; for a whole-catalog claim, any key at all."""
        now = _instant(datetime.now(UTC))
        # Every write also asks about the whole-catalog key, so a bulk load and a single write exclude each other.
        asked = "" if whole else "VALUES ?key { " + " ".join(f'"{k}"' for k in [*ids, _id(WHOLE_CATALOG)]) + " }"
        answer = self.server.select(
            f"""SELECT DISTINCT ?key WHERE {{
                {asked}
                GRAPH <{CLAIMS_GRAPH}> {{ ?claim <{CLAIM}key> ?key ; <{CLAIM}token> ?holder ; <{CLAIM}until> ?until }}
                FILTER (?holder != "{token}" && ?until > {now})
            }}"""
        )
        return {str(key) for key in answer.column("key")}

    def _drop_expired(self) -> None:
        """Claims of writers that died holding them."""
        now = _instant(datetime.now(UTC))
        self.server.update(
            f"""DELETE {{ GRAPH <{CLAIMS_GRAPH}> {{ ?claim ?p ?o }} }}
                WHERE {{ GRAPH <{CLAIMS_GRAPH}> {{ ?claim <{CLAIM}until> ?until ; ?p ?o }} FILTER (?until < {now}) }}"""
        )

    def _withdraw(self, token: str) -> None:
        self.server.update(
            f"""DELETE {{ GRAPH <{CLAIMS_GRAPH}> {{ ?claim ?p ?o }} }}
                WHERE {{ GRAPH <{CLAIMS_GRAPH}> {{ ?claim <{CLAIM}token> "{token}" ; ?p ?o }} }}"""
        )
