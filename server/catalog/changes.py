"""Which records changed, for replicas sharing one SPARQL server: each keeps its derived index current from it.

Every write through a replica's Catalog service appends one entry per record it wrote or dropped to a small graph
of the server (`urn:valuemesh:changes`), stamped with the server's own clock (`NOW()`), so that replicas need not
agree on the time. Each replica polls the entries newer than the last it saw (a cheap query on a small graph) every
`POLL_S` and re-reads only those records into its index, so a write made through another replica reaches this
one's lineage, listing and search within about `POLL_S` plus one round trip. Entries older than `KEEP_S` are
pruned; a replica that could not poll for that long rebuilds its index from scratch.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from rdflib import Literal

from server.catalog.lineage_index import LineageIndex
from server.errors import StoreClosed
from server.sparql_text import iri_ref
from server.store.base import CHANGES_GRAPH, Store

log = logging.getLogger(__name__)

CHANGE = "urn:valuemesh:change#"
# Noted for a write whose records are not known one by one (a SPARQL update, a bulk load): read everything again.
EVERYTHING = "urn:valuemesh:everything"
POLL_S = 0.5
# Entries a little older than the last one seen are asked again: writes stamped just before it may land after it.
OVERLAP_S = 5.0
KEEP_S = 3600.0
PRUNE_EVERY_S = 600.0


def _moment(value: datetime) -> str:
    return f'"{value.isoformat()}"^^<http://www.w3.org/2001/XMLSchema#dateTime>'


class ChangeLog:
    """The changes graph of one server."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def written(self, records: Iterable[str]) -> None:
        """Note that these records were written or dropped (after the write has committed)."""
        batch = uuid.uuid4().hex
        lines = []
        for number, iri in enumerate(records):
            try:
                lines.append(f"<{CHANGE}{batch}-{number}> <{CHANGE}record> {iri_ref(iri)} ; <{CHANGE}at> ?now .")
            except ValueError:
                continue
        if lines:
            body = "\n".join(lines)
            self.store.update(f"INSERT {{ GRAPH <{CHANGES_GRAPH}> {{\n{body}\n}} }} WHERE {{ BIND (NOW() AS ?now) }}")

    def since(self, moment: datetime | None) -> list[tuple[str, str, datetime]]:
        """(entry, record, when) of the entries stamped after `moment` less the overlap, oldest first."""
        after = "" if moment is None else f"FILTER (?at > {_moment(moment)})"
        answer = self.store.select(
            f"""SELECT ?entry ?record ?at WHERE {{
                GRAPH <{CHANGES_GRAPH}> {{ ?entry <{CHANGE}record> ?record ; <{CHANGE}at> ?at }} {after}
            }} ORDER BY ?at"""
        )
        rows = []
        for entry, record, at in answer.rows:
            if isinstance(at, Literal) and isinstance(at.value, datetime):
                rows.append((str(entry), str(record), at.value))
        return rows

    def latest(self) -> datetime | None:
        """When the newest entry was stamped (None when there is none)."""
        rows = self.since(None)
        return rows[-1][2] if rows else None

    def prune(self, before: datetime) -> None:
        self.store.update(
            f"""DELETE {{ GRAPH <{CHANGES_GRAPH}> {{ ?entry ?p ?o }} }}
                WHERE {{ GRAPH <{CHANGES_GRAPH}> {{ ?entry <{CHANGE}at> ?at ; ?p ?o }} FILTER (?at < {_moment(before)}) }}"""
        )


class ChangeFollower:
    """A thread that applies other replicas' writes to this replica's index (see the module docstring)."""

    def __init__(self, log_: ChangeLog, index: LineageIndex) -> None:
        self.changes = log_
        self.index = index
        self._stop = threading.Event()
        self._seen: set[str] = set()
        self._last: datetime | None = None
        self._last_poll = time.monotonic()
        self._last_prune = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="change-follower", daemon=True)

    def start(self) -> None:
        try:
            self._last = self.changes.latest()  # what came before is in the index's first build
        except Exception as error:
            log.warning("cannot read the changes graph yet (%s); the index follows once it can", error)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(POLL_S):
            try:
                self.poll()
            except StoreClosed:
                return  # the store's owner closed it: there is nothing left to follow
            except Exception as error:  # the server may be away: try again at the next poll
                log.warning("cannot follow the changes of other replicas now: %s", error)

    def poll(self) -> list[str]:
        """Apply what changed since the last poll; the records re-read."""
        now = time.monotonic()
        if now - self._last_poll > KEEP_S:
            self.index.store_changed(write=lambda: None)  # entries may be gone: read everything again
        self._last_poll = now
        asked = None if self._last is None else self._last - timedelta(seconds=OVERLAP_S)
        fresh = [(entry, record, at) for entry, record, at in self.changes.since(asked) if entry not in self._seen]
        if not fresh:
            return []
        for entry, _, at in fresh:
            self._seen.add(entry)
            if self._last is None or at > self._last:
                self._last = at
        records = sorted({record for _, record, _ in fresh})
        if EVERYTHING in records:
            self.index.store_changed(write=lambda: None)
        else:
            self.index.records_reread(records)
        if self._last is not None and now - self._last_prune > PRUNE_EVERY_S:
            self._last_prune = now
            self.changes.prune(self._last - timedelta(seconds=KEEP_S))
        if len(self._seen) > 100_000:
            self._seen.clear()  # entries older than the overlap are never asked again
        return records
