"""Observed lineage: OpenLineage run events taken in, attributed to data products, and compared with the ports.

The Catalog service owns one `ObservedLineage` (with its run table); every method is blocking store work, called
through `catalog.run`. A request's events are checked, attributed and authorised first; then all are stored in one
transaction of the run table, and the summary record of each product whose runs changed is rewritten through the
catalog's store (which tells the index and the public view), so nothing of a refused request is stored.

A run belongs to a product named explicitly in its `valuemesh` run facet (`{"dataProduct": IRI}`), else to the one
product whose output ports publish the datasets it writes, else to the product an earlier event of the same run
was attributed to. Events of no known product are kept all the same (their datasets may be declared later).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from server.catalog.nodes import select_each, with_values
from server.catalog.restrictions import Visibility
from server.errors import Forbidden, NotFound
from server.formats.description import DatasetName
from server.identity.policy import authorize_run_report, require_writer
from server.identity.principal import Principal
from server.namespaces import sparql_prefixes
from server.openlineage.events import RunEvent, run_event
from server.openlineage.measurements import SloIndicator, measurement_points
from server.openlineage.runs import RunTable
from server.openlineage.summary import summary_iri, summary_triples
from server.openlineage.validation import VALUEMESH_FACET, EventRefused, check_event
from server.sparql_text import string_literal
from server.store.base import Store

# The products whose output ports publish some datasets ($pairs: `("namespace" "name")` rows).
PUBLISHERS = (
    sparql_prefixes()
    + """
SELECT DISTINCT ?namespace ?name ?product WHERE {
  VALUES (?namespace ?name) { $pairs }
  ?dataset vm:datasetNamespace ?namespace ; vm:datasetName ?name .
  GRAPH ?product { ?product a dprod:DataProduct ; dprod:outputPort ?port . ?port vm:dataset ?dataset }
}
"""
)

# Some products, with what deciding who may report their runs needs.
PRODUCTS = (
    sparql_prefixes()
    + """
SELECT ?product ?domain ?owner WHERE {
  VALUES ?product { $nodes }
  GRAPH ?product {
    ?product a dprod:DataProduct .
    OPTIONAL { ?product dprod:domain ?domain }
    OPTIONAL { ?product dprod:dataProductOwner ?owner }
  }
}
"""
)

# A product's input ports, each with the datasets it declares: its own, and those of the output ports or sources it
# consumes.
DECLARED_INPUTS = (
    sparql_prefixes()
    + """
SELECT ?port ?namespace ?name WHERE {
  VALUES ?product { $nodes }
  GRAPH ?product { ?product a dprod:DataProduct ; dprod:inputPort ?port }
  OPTIONAL {
    { GRAPH ?product { ?port vm:dataset ?dataset } }
    UNION
    { GRAPH ?product { ?port vm:consumes ?upstream } GRAPH ?other { ?upstream vm:dataset ?dataset } }
    ?dataset vm:datasetNamespace ?namespace ; vm:datasetName ?name .
  }
}
"""
)

# The SLOs of some products with their indicators, and the datasets their output ports publish.
SLOS = (
    sparql_prefixes()
    + """
SELECT ?product ?slo ?indicator WHERE {
  VALUES ?product { $nodes }
  GRAPH ?product { ?product odrl:hasPolicy/vm:serviceLevelObjective ?slo . ?slo vm:serviceLevelIndicator ?indicator }
}
"""
)
PUBLISHED = (
    sparql_prefixes()
    + """
SELECT ?product ?namespace ?name WHERE {
  VALUES ?product { $nodes }
  GRAPH ?product { ?product dprod:outputPort/vm:dataset ?dataset . ?dataset vm:datasetNamespace ?namespace ; vm:datasetName ?name }
}
"""
)

IS_PRODUCT = sparql_prefixes() + "ASK { VALUES ?product { $nodes } GRAPH ?product { ?product a dprod:DataProduct } }"

BATCH = 500  # rows per VALUES block

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ingested:
    """What one request did: events received, stored anew, already known, not run events, and unattributed."""

    received: int
    stored: int
    duplicates: int
    ignored: int
    unattributed: int
    products: list[str]
    expired: int = 0  # run events older than the retention, not kept
    # SLI points the events give (measurements.py), for the measurements service to record (idempotent by id).
    points: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Drift:
    """Declared against observed lineage of one product over a window."""

    product: str
    since: datetime
    runs: int
    undeclared_reads: list[DatasetName]
    unobserved_inputs: list[str]  # input port IRIs
    observed_reads: list[DatasetName] = field(default_factory=list)


@dataclass
class _Product:
    domains: set[str] = field(default_factory=set)
    owners: set[str] = field(default_factory=set)


class ObservedLineage:
    """See the module docstring. `store` is the catalog's store (writes through it reach the index)."""

    def __init__(
        self,
        store: Store,
        runs: RunTable,
        *,
        max_events: int,
        drift_days: int,
        retention_days: int | None = None,
        summary_every_s: float = 5.0,
    ) -> None:
        self.store = store
        self.runs = runs
        self.max_events = max_events
        self.drift_days = drift_days
        self.retention_days = retention_days  # events older than this many days are let go (None: kept for good)
        # One request at a time stores runs and rewrites summaries, so no summary is written from an older count.
        self._lock = threading.Lock()
        # A product's summary is rewritten at once, then at most every `summary_every_s` while its runs keep coming
        # (each rewrite is a store transaction of its own, bench/bench_lineage_ingest.py): later changes wait for
        # the flusher thread, which `close` stops after writing what is still pending.
        self.summary_every_s = summary_every_s
        self._written_at: dict[str, float] = {}
        self._pending: set[str] = set()
        self._wake = threading.Condition(self._lock)
        self._flusher: threading.Thread | None = None
        self._closed = False

    # --- taking events in ----------------------------------------------------------------------------------

    def record(self, documents: list[Any], principal: Principal, visibility: Visibility) -> Ingested:
        """Check, attribute, authorise and store a request's events, all or nothing (blocking)."""
        require_writer(principal)
        if len(documents) > self.max_events:
            raise EventRefused(
                self.max_events,
                "",
                f"a request holds at most {self.max_events} events; this one holds {len(documents)}",
            )
        events: list[tuple[int, RunEvent]] = []
        for index, document in enumerate(documents):
            if check_event(index, document) == "RunEvent":
                events.append((index, run_event(document)))
        with self._lock:
            attributed = self._attribute(events, principal, visibility)
            keep_after = None
            if self.retention_days is not None:
                keep_after = datetime.now(UTC) - timedelta(days=self.retention_days)
            recorded = self.runs.record(attributed, keep_after=keep_after)
            now = time.monotonic()
            for product in sorted(recorded.products):
                if now - self._written_at.get(product, -math.inf) < self.summary_every_s:
                    self._pending.add(product)
                    continue
                try:
                    self._write_summary(product, now)
                except Exception:  # the runs are stored: the flusher writes their summary once the store answers
                    log.exception("cannot write the observed lineage of %s; retrying later", product)
                    self._written_at[product] = now
                    self._pending.add(product)
            if self._pending:
                self._start_flusher()
                self._wake.notify()
        current = [(e, p) for e, p in attributed if keep_after is None or e.event_time >= keep_after]
        return Ingested(
            points=self._points(current),
            received=len(documents),
            stored=recorded.stored,
            duplicates=recorded.duplicates,
            expired=recorded.expired,
            ignored=len(documents) - len(events),
            unattributed=sum(1 for _, product in attributed if product is None),
            products=sorted({p for _, p in attributed if p is not None}),
        )

    def _write_summary(self, product: str, now: float) -> None:
        """Rewrite the product's observed-lineage record from the run table (holding `_lock`)."""
        self.store.replace_records({summary_iri(product): summary_triples(self.runs.summary(product))})
        self._written_at[product] = now
        self._pending.discard(product)

    def _start_flusher(self) -> None:
        if self._flusher is None and not self._closed:
            self._flusher = threading.Thread(target=self._flush_loop, name="observed-lineage-summaries", daemon=True)
            self._flusher.start()

    def _flush_loop(self) -> None:
        with self._lock:
            while not self._closed:
                now = time.monotonic()
                due = [p for p in sorted(self._pending) if now - self._written_at[p] >= self.summary_every_s]
                for product in due:
                    try:
                        self._write_summary(product, now)
                    except Exception:
                        log.exception("cannot write the observed lineage of %s; retrying later", product)
                        self._written_at[product] = now
                waits = [self._written_at[p] + self.summary_every_s - now for p in self._pending]
                self._wake.wait(timeout=max(min(waits), 0.05) if waits else None)

    def flush(self) -> None:
        """Write every pending summary now (blocking)."""
        with self._lock:
            now = time.monotonic()
            for product in sorted(self._pending):
                self._write_summary(product, now)

    def close(self) -> None:
        """Write what is pending, stop the flusher, close the run table."""
        self.flush()
        with self._lock:
            self._closed = True
            self._wake.notify()
        if self._flusher is not None:
            self._flusher.join(timeout=10)
        self.runs.close()

    def _attribute(
        self, events: list[tuple[int, RunEvent]], principal: Principal, visibility: Visibility
    ) -> list[tuple[RunEvent, str | None]]:
        """Each event with its product (or None), once the caller's right to report runs of each is checked."""
        explicit = sorted({e.explicit_product for _, e in events if e.explicit_product})
        publishers = self._publishers({d for _, e in events if not e.explicit_product for d in e.outputs})
        earlier = self.runs.products_of_runs(e.run_id for _, e in events)
        products = self._products([*explicit, *{p for ps in publishers.values() for p in ps}, *earlier.values()])
        attributed: list[tuple[RunEvent, str | None]] = []
        decided: dict[str, str] = {}
        for index, event in events:
            if event.explicit_product is not None:
                if event.explicit_product not in products or visibility.hidden(event.explicit_product):
                    raise EventRefused(
                        index,
                        f"/run/facets/{VALUEMESH_FACET}/dataProduct",
                        f"the catalog holds no data product <{event.explicit_product}>",
                    )
                product: str | None = event.explicit_product
            else:
                writers = {p for d in event.outputs for p in publishers.get(d, ())}
                product = next(iter(writers)) if len(writers) == 1 else None
            product = product or decided.get(event.run_id) or earlier.get(event.run_id)
            if product is not None:
                decided.setdefault(event.run_id, product)
                self._authorise(index, principal, product, products.get(product, _Product()), visibility)
            attributed.append((event, product))
        return attributed

    @staticmethod
    def _authorise(index: int, principal: Principal, product: str, facts: _Product, visibility: Visibility) -> None:
        name = f"the product of event {index}" if visibility.hidden(product) else f"<{product}>"
        try:
            authorize_run_report(principal, name, facts.domains, facts.owners)
        except Forbidden as refusal:
            raise Forbidden(f"event {index}: {refusal}; nothing of this request was stored") from None

    def _publishers(self, datasets: set[DatasetName]) -> dict[DatasetName, set[str]]:
        rows: list[str] = []
        for dataset in sorted(datasets):
            try:
                rows.append(f"({string_literal(dataset.namespace)} {string_literal(dataset.name)})")
            except ValueError:
                continue  # no product can publish a name no store can hold
        found: dict[DatasetName, set[str]] = defaultdict(set)
        for start in range(0, len(rows), BATCH):
            query = PUBLISHERS.replace("$pairs", " ".join(rows[start : start + BATCH]))
            for row in self.store.select(query):
                found[DatasetName(str(row["namespace"]), str(row["name"]))].add(str(row["product"]))
        return found

    def _products(self, iris: list[str]) -> dict[str, _Product]:
        found: dict[str, _Product] = {}
        for row in select_each(self.store, PRODUCTS, sorted(set(iris))):
            facts = found.setdefault(str(row["product"]), _Product())
            if row["domain"] is not None:
                facts.domains.add(str(row["domain"]))
            if row["owner"] is not None:
                facts.owners.add(str(row["owner"]))
        return found

    def _points(self, attributed: list[tuple[RunEvent, str | None]]) -> list[dict[str, Any]]:
        """The SLI points of the attributed events, from their products' SLOs and published datasets."""
        products = sorted({p for _, p in attributed if p is not None})
        if not products:
            return []
        slos: dict[str, list[SloIndicator]] = defaultdict(list)
        published: dict[str, set[DatasetName]] = defaultdict(set)
        for row in select_each(self.store, SLOS, products):
            slos[str(row["product"])].append(SloIndicator(str(row["slo"]), str(row["indicator"])))
        for row in select_each(self.store, PUBLISHED, products):
            published[str(row["product"])].add(DatasetName(str(row["namespace"]), str(row["name"])))
        points: list[dict[str, Any]] = []
        for event, product in attributed:
            if product is not None and slos.get(product):
                points += measurement_points(event, slos[product], published.get(product) or None)
        return points

    # --- drift ---------------------------------------------------------------------------------------------

    def drift(self, product: str, now: datetime | None = None) -> Drift:
        """The product's declared inputs against what its runs read in the last `drift_days` days (NotFound when
        the catalog holds no such product)."""
        rows = list(self.store.select(with_values(DECLARED_INPUTS, [product])))
        if not rows and not self.store.ask(with_values(IS_PRODUCT, [product])):
            raise NotFound(f"no data product {product}")
        declared: dict[str, set[DatasetName]] = defaultdict(set)
        for row in rows:
            port = declared[str(row["port"])]
            if row["namespace"] is not None and row["name"] is not None:
                port.add(DatasetName(str(row["namespace"]), str(row["name"])))
        since = (now or datetime.now(UTC)) - timedelta(days=self.drift_days)
        runs, read = self.runs.reads_since(product, since)
        every_declared = {d for datasets in declared.values() for d in datasets}
        # A port that declares no dataset cannot be checked: only ports naming datasets count as unobserved.
        unobserved = sorted(port for port, datasets in declared.items() if datasets and runs and not datasets & read)
        return Drift(product, since, runs, sorted(read - every_declared), unobserved, sorted(read))


__all__ = ["Drift", "Ingested", "ObservedLineage"]
