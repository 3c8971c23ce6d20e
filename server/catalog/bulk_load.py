"""The bulk write path of `valuemesh load`: files of many records, checked set-at-a-time, stored all or nothing.

`write_records` judges a batch with SPARQL keyed on the batch's IRIs, which is right for a few records and grows
with the square of a large batch. Here the batch is parsed into a scratch Oxigraph store, one per document, and
every check `write_records` makes runs as a few queries over the whole batch: a statement about another record's
nodes (candidates found by SPARQL, each confirmed by `records.check_named_graph` so the refusal reads the same),
blank nodes skolemised and name keys derived as `records.normalised` does, a node described by two records or by
a stored record the batch does not replace, and the compiled shapes with the rest of the catalog as context. Only
then is the target written, with the store's bulk loader; a failure while writing puts the stored versions back
(and when that fails too, keeps their copy for `valuemesh load --put-back`: put_back.py).

The bulk path is used when the batch is at least as large as the rest of the catalog (it copies that rest into the
scratch store as context); a small batch into a large catalog goes through `write_records`, whose cost does not
depend on the catalog's size. Remote stores always use `write_records`.
"""

from __future__ import annotations

import io
import itertools
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO

import pyoxigraph as ox
from rdflib import Graph
from rdflib.compare import isomorphic
from rdflib.term import Node

from server.catalog.access_requests import REQUESTS_ON_PRODUCTS, announce_closed, closed_with_dropped_ports
from server.catalog.batch_boundaries import describing_a_node_twice, foreign_candidates
from server.catalog.events import COUNTER_GRAPH, counter_graph, numbering
from server.catalog.history import RECORD_KINDS, Action, Change, refuse_service_names, version_quads
from server.catalog.ownership import check_ownership
from server.catalog.put_back import (
    clear_pending,
    drop_stored_graphs,
    kept_if_not_put_back,
    mark_pending,
    put_back_replaced,
    to_drop_nquads,
)
from server.catalog.records import (
    Records,
    check_named_graph,
    foreign_statement,
    name_key,
    normalised,
    records_of,
    serves_a_product,
)
from server.catalog.seeding import ONTOLOGY_GRAPH, shipped_ontology
from server.catalog.writes import WriteOutcome, write_lock, write_records
from server.errors import BadInput, StoreUnavailable, ValidationRefused
from server.governance.neighbourhood import dependents
from server.governance.shapes import Shapes
from server.identity.principal import Principal, Role
from server.namespaces import VM, sparql_prefixes
from server.rdf_io import format_for, read_rdf_file
from server.sparql_text import iri_chunks
from server.store.base import Store, Triple
from server.store.memory import MemoryStore
from server.store.oxigraph import OxigraphStore, write_failure_reason
from server.store.terms import to_oxigraph
from server.validation import ValidationReport, judge_records, run_shapes, shapes_in_force

__all__ = ["BulkProgress", "ScratchStore", "bulk_applies", "load_files", "read_batch", "write_batch"]

NQUADS = "application/n-quads"

# Inputs larger than this are staged in a temporary on-disk store rather than in memory (about 600 bytes a quad).
IN_MEMORY_LIMIT_BYTES = 400_000_000

# How much is read from a file at a time while the engine parses it.
READ_BUFFER_BYTES = 1 << 20

# How a blank node's label starts in N-Quads.
BLANK_LABEL = b"_:"

# Formats that hold only triples: a document in one of them is split into records by its main nodes (rdflib).
TRIPLE_FORMATS = {ox.RdfFormat.TURTLE, ox.RdfFormat.N_TRIPLES, ox.RdfFormat.RDF_XML}

RECORD_TYPES = "SELECT ?g ?type WHERE { GRAPH ?g { ?g a ?type } }"

GRAPHS_WITH_BLANK_NODES = "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o FILTER (isBlank(?s) || isBlank(?o)) } }"

PRODUCT_NAMES = (
    sparql_prefixes()
    + "SELECT ?g ?product ?name WHERE { GRAPH ?g { ?product a dprod:DataProduct ; rdfs:label ?name } }"
)

DROP_NAME_KEYS = sparql_prefixes() + "DELETE WHERE { GRAPH ?g { ?s vm:nameKey ?key } }"

# #GRAPHS: stored records the batch does not replace; what they describe (vm:servedBy aside, as ownership.py).
DESCRIBED_BY_GRAPHS = (
    sparql_prefixes()
    + "SELECT DISTINCT ?node ?g WHERE { VALUES ?g { #GRAPHS } GRAPH ?g { ?node ?p ?o FILTER (?p != vm:servedBy) } }"
)

# #NODES: nodes stored records describe; which records of the batch describe them too.
DESCRIBED_IN_BATCH = (
    sparql_prefixes()
    + """
SELECT ?node ?g WHERE {
    VALUES ?node { #NODES }
    GRAPH ?g { ?node ?p ?o FILTER (!(?p = vm:servedBy && isIRI(?o))) }
} ORDER BY ?g ?node LIMIT 1"""
)

REGULATED_DOMAINS = sparql_prefixes() + "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?domain vm:regulated true } }"


@dataclass
class BulkProgress:
    """Where the load reports its phases: `start(phase, total)` then `advance(amount)` as the phase goes. A phase
    counts bytes unless `counting(unit)` named another unit just before it started."""

    start: Callable[[str, float | None], None]
    advance: Callable[[float], None]
    counting: Callable[[str], None] = lambda unit: None


def _silent() -> BulkProgress:
    return BulkProgress(start=lambda phase, total: None, advance=lambda amount: None)


class CountingReader(io.RawIOBase):
    """A binary file that reports how many bytes have been read, so a progress bar can follow the parser, and
    whether a blank node's label (`_:`) was among them (`blank_label_seen`)."""

    def __init__(self, raw: IO[bytes], advance: Callable[[float], None]) -> None:
        self._raw = raw
        self._advance = advance
        self._last = b""  # the last byte read, for a label split between two reads
        self.blank_label_seen = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        count = int(self._raw.readinto(buffer))  # type: ignore[attr-defined]
        self._advance(count)
        if count and not self.blank_label_seen:
            read = bytes(buffer[:count])
            self.blank_label_seen = BLANK_LABEL in self._last + read[:1] or BLANK_LABEL in read
            self._last = read[-1:]
        return count


def counting(reader: CountingReader) -> io.BufferedReader:
    """`reader` read a megabyte at a time: the engine's parser asks for about 2 KB a read, and each read that
    reaches Python code (and the progress bar) costs more than the bytes it brings."""
    return io.BufferedReader(reader, buffer_size=READ_BUFFER_BYTES)


def may_hold_blank_nodes(fmt: ox.RdfFormat, reader: CountingReader) -> bool:
    """Whether a document that `reader` read whole may hold blank nodes: in N-Quads a blank node is written only
    as `_:label`, so a file without those two bytes holds none and the query looking for them (a scan of every
    quad) is not needed; other formats have other ways to write one."""
    return fmt != ox.RdfFormat.N_QUADS or reader.blank_label_seen


class ScratchStore(OxigraphStore):
    """A throwaway Oxigraph store holding a batch while it is checked: in memory, or in a temporary directory."""

    def __init__(self, on_disk: bool) -> None:
        self._tmp = tempfile.mkdtemp(prefix="valuemesh-load-") if on_disk else None
        super().__init__(self._tmp)

    def load_file(self, path: Path, fmt: ox.RdfFormat, advance: Callable[[float], None]) -> bool:
        """Load the file; whether it may hold blank nodes (`may_hold_blank_nodes`)."""
        with path.open("rb") as raw:
            reader = CountingReader(raw, advance)
            load_raw(self, counting(reader), fmt)
        return may_hold_blank_nodes(fmt, reader)

    def load_nquads(self, data: IO[bytes] | bytes) -> None:
        load_raw(self, data, ox.RdfFormat.N_QUADS)

    def holds_as_stored(self, target: OxigraphStore, iri: str) -> bool:
        """Whether the record `iri` here is the one `target` stores (isomorphic; without blank nodes, which stored
        records never hold, that is the same set of triples, compared without building rdflib graphs)."""
        name = ox.NamedNode(iri)
        mine = {(q.subject, q.predicate, q.object) for q in self._store.quads_for_pattern(None, None, None, name)}
        theirs = {(q.subject, q.predicate, q.object) for q in target._store.quads_for_pattern(None, None, None, name)}
        if any(isinstance(term, ox.BlankNode) for triples in (mine, theirs) for triple in triples for term in triple):
            return isomorphic(self.record(iri), target.record(iri))
        return mine == theirs

    def dump_nquads(self, out: IO[bytes] | str) -> None:
        dump_everything(self, out)

    def close(self) -> None:
        super().close()
        del self._store
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)


def bulk_applies(store: Store) -> bool:
    """Whether the bulk path can write to `store` (the embedded Oxigraph store, on disk or in memory)."""
    return isinstance(store, OxigraphStore)


# A batch being checked is an Oxigraph store holding the batch's records as named graphs and nothing else (a scratch
# store, or the catalog's own store while only the load uses it: bulk_in_place.py). These edit it past the store's
# write path, as the checks need.


def load_raw(batch: OxigraphStore, data: IO[bytes] | io.RawIOBase | bytes, fmt: ox.RdfFormat) -> None:
    """The engine's bulk loader, without the marker `OxigraphStore.bulk_load` sets (the batch is not stored yet)."""
    batch._store.bulk_load(data, fmt)  # type: ignore[arg-type]


def dump_everything(batch: OxigraphStore, out: IO[bytes] | str) -> None:
    """Every quad as N-Quads, service graphs included (`OxigraphStore.dump` leaves those out)."""
    batch._store.dump(out, ox.RdfFormat.N_QUADS)


def has_default_graph_triples(batch: OxigraphStore) -> bool:
    default = batch._store.quads_for_pattern(None, None, None, ox.DefaultGraph())
    return next(iter(default), None) is not None


def record_kinds(batch: OxigraphStore) -> dict[str, str]:
    """What each record of the batch is (`history.record_kind`), read set-at-a-time, from the engine's TSV text of
    the answer (an IRI there is written `<...>`): a Python object per term was most of the cost (bench/README.md)."""
    by_type = {f"<{kind}>": name for kind, name in RECORD_KINDS.items()}
    kinds: dict[str, str] = {}
    for row in (
        (batch.solutions(RECORD_TYPES).serialize(format=ox.QueryResultsFormat.TSV) or b"").decode().splitlines()[1:]
    ):
        record, _, kind = row.partition("\t")
        found = by_type.get(kind)
        if found is not None and record.startswith("<"):
            kinds.setdefault(record[1:-1], found)
    return kinds


def has_named_graph(batch: OxigraphStore, iri: str) -> bool:
    """Whether the named graph `iri` is in the batch (without listing every graph, as `record_iris` does)."""
    return bool(batch._store.contains_named_graph(ox.NamedNode(iri)))


def graph_names(batch: OxigraphStore) -> list[str]:
    """Every named graph, service graphs included (`record_iris` leaves those out)."""
    return sorted(g.value for g in batch._store.named_graphs() if isinstance(g, ox.NamedNode))


def drop_graphs(batch: OxigraphStore, iris: Iterable[str]) -> None:
    for iri in iris:
        batch._store.remove_graph(ox.NamedNode(iri))


def clear_default_graph(batch: OxigraphStore) -> None:
    batch._store.clear_graph(ox.DefaultGraph())


def add_context(batch: OxigraphStore, graph: Graph) -> None:
    """Add stored facts to the default graph, where the checks read them as context, never as records."""
    if len(graph):
        add_quads(batch, [ox.Quad(to_oxigraph(s), to_oxigraph(p), to_oxigraph(o)) for s, p, o in graph])  # type: ignore[arg-type]


def add_quads(batch: OxigraphStore, quads: Iterable[ox.Quad]) -> None:
    batch._store.bulk_extend(quads)


def add_record(batch: OxigraphStore, iri: str, graph: Graph) -> None:
    name = ox.NamedNode(iri)
    add_quads(batch, (ox.Quad(to_oxigraph(s), to_oxigraph(p), to_oxigraph(o), name) for s, p, o in graph))  # type: ignore[arg-type]


def _read_document(path: Path, on_disk: bool, progress: BulkProgress) -> ScratchStore:
    """One document in its own scratch store, checked as `records_of` checks it, blank nodes skolemised."""
    fmt = format_for(path)
    scratch = ScratchStore(on_disk)
    try:
        if fmt in TRIPLE_FORMATS:
            add_records(scratch, records_of(read_rdf_file(path)))
            progress.advance(path.stat().st_size)
            return scratch
        try:
            blank_nodes = scratch.load_file(path, fmt, progress.advance)
        except (SyntaxError, ValueError, OSError):
            read_rdf_file(path)  # the reader's own refusal names the file, line and column
            raise BadInput("cannot read the file", source=str(path)) from None
        if has_default_graph_triples(scratch):
            # Triples outside named graphs are split into records by their main nodes: rdflib, as records_of does.
            scratch.close()
            scratch = ScratchStore(on_disk)
            add_records(scratch, records_of(read_rdf_file(path)))
            return scratch
        check_document(scratch, str(path), blank_nodes=blank_nodes)
        return scratch
    except BaseException:
        scratch.close()
        raise


def add_records(scratch: OxigraphStore, records: Records) -> None:
    for iri, graph in records.items():
        add_record(scratch, iri, graph)


def check_document(scratch: OxigraphStore, source: str, *, blank_nodes: bool = True) -> None:
    """What `records_of` does to a document's named graphs, set-at-a-time (skolemising blank nodes only when the
    document `may_hold_blank_nodes`)."""
    if has_named_graph(scratch, ONTOLOGY_GRAPH) and isomorphic(scratch.record(ONTOLOGY_GRAPH), shipped_ontology()):
        drop_graphs(scratch, [ONTOLOGY_GRAPH])  # an exported catalog holds the ontology; the catalog installs its own
    for iri in foreign_candidates(scratch):
        check_named_graph(scratch.record(iri), iri, source)
    if not blank_nodes:
        return
    with_blank_nodes = sorted(str(row[0]) for row in scratch.select(GRAPHS_WITH_BLANK_NODES).rows)
    for iri in with_blank_nodes:
        skolemised = normalised({iri: scratch.record(iri)})[iri]
        drop_graphs(scratch, [iri])
        add_record(scratch, iri, skolemised)


def derive_name_keys(scratch: OxigraphStore) -> None:
    """Each product's `vm:nameKey` from its names, as `records.normalised` derives it (a given key is replaced)."""
    scratch.update(DROP_NAME_KEYS)
    key = ox.NamedNode(str(VM.nameKey))
    quads = [
        ox.Quad(product, key, ox.Literal(name_key(name.value)), graph)  # type: ignore[arg-type]
        for graph, product, name in scratch.solutions(PRODUCT_NAMES)
    ]
    add_quads(scratch, quads)


def check_batch_ownership(scratch: OxigraphStore, target: Store, rest: list[str]) -> None:
    """No node described by two records of the batch, nor by a stored record the batch does not replace."""
    involved = describing_a_node_twice(scratch)
    if involved:
        alone = MemoryStore()  # an empty catalog: the batch is checked against itself only
        try:
            check_ownership(alone, {iri: scratch.record(iri) for iri in involved})
        finally:
            alone.close()
    described_elsewhere: dict[str, str] = {}
    for chunk in iri_chunks(rest):
        for node, graph in target.select(DESCRIBED_BY_GRAPHS.replace("#GRAPHS", chunk)).rows:
            described_elsewhere.setdefault(str(node), str(graph))
    for chunk in iri_chunks(described_elsewhere):
        found = scratch.select(DESCRIBED_IN_BATCH.replace("#NODES", chunk)).rows
        if found:
            node, record = found[0][0], str(found[0][1])
            # The refusal `write_records` gives: the record's first statement about the node, and who describes it.
            triple = min(t for t in scratch.record(record).triples((node, None, None)) if not serves_a_product(t))
            raise foreign_statement(triple, record, described_by=described_elsewhere[str(node)])


def classify(scratch: ScratchStore, target: OxigraphStore, batch: set[str], stored: set[str]) -> WriteOutcome:
    outcome = WriteOutcome()
    for iri in sorted(batch):
        if iri not in stored:
            outcome.added.append(iri)
        elif scratch.holds_as_stored(target, iri):
            outcome.unchanged.append(iri)
        else:
            outcome.replaced.append(iri)
    return outcome


def validate_batch(
    scratch: OxigraphStore,
    target: Store,
    outcome: WriteOutcome,
    rest: list[str],
    shapes: Shapes,
    progress: BulkProgress,
) -> ValidationReport:
    """The compiled shapes over the batch and the stored records it affects, with the rest of the catalog as context."""
    batch = set(outcome.added + outcome.replaced + outcome.unchanged)
    regulated = {str(row[0]) for row in scratch.select(REGULATED_DOMAINS).rows}
    # Only replaced records and newly regulated domains can change a stored record's verdict (neighbourhood.py).
    changing = {iri: scratch.record(iri) for iri in sorted(set(outcome.replaced) | (regulated & batch))}
    affected = sorted(dependents(target, changing) - batch) if changing else []
    for iri in affected:
        add_record(scratch, iri, target.record(iri))
    context = set(rest) - set(affected)
    for iri in sorted(context):
        add_context(scratch, target.record(iri))
    advance = partial(progress.advance, 1)
    if scratch.location == "memory:":
        report = run_shapes(scratch, shapes, focus_in_records=True, advance=advance)
    else:
        # On disk the whole-catalog form is the cheaper plan (validation.judge_records); the context is at most as
        # large as the batch here (write_batch), so it adds at most as many focus nodes as the batch holds.
        report = judge_records(scratch, shapes, advance=advance)
    clear_default_graph(scratch)
    drop_graphs(scratch, affected)
    return report


def _closing(scratch: ScratchStore, target: Store, outcome: WriteOutcome, actor: Principal) -> tuple[Records, list]:
    """The access requests in force for output ports that the batch's new versions of stored products no longer
    offer, closed by `actor` as any product write closes them (pending ones rejected, agreements revoked). Requests
    are few: the products they target are found first, and only those products' new versions are read."""
    targeted = {str(row["product"]) for row in target.select(REQUESTS_ON_PRODUCTS.replace("#VALUES", ""))}
    hit = [iri for iri in outcome.replaced if iri in targeted]
    if not hit:
        return {}, []
    return closed_with_dropped_ports(target, {iri: scratch.record(iri) for iri in hit}, actor=actor)


def _write(
    scratch: ScratchStore,
    target: OxigraphStore,
    outcome: WriteOutcome,
    actor: Principal,
    progress: BulkProgress,
    closing: Records | None = None,
) -> None:
    """Replace the stored versions and bulk-load the batch (with the access requests it closes, `closing`) and a
    version of each record for its history; on failure, put the catalog back as it was."""
    drop_graphs(scratch, outcome.unchanged)
    if not outcome.written:
        return
    with kept_if_not_put_back() as workdir:
        _write_keeping_a_copy(scratch, target, outcome, actor, progress, closing or {}, workdir)


def _write_keeping_a_copy(
    scratch: ScratchStore,
    target: OxigraphStore,
    outcome: WriteOutcome,
    actor: Principal,
    progress: BulkProgress,
    closing: Records,
    workdir: Path,
) -> None:
    add_records(scratch, closing)
    with numbering(target, held=True) as first:
        backup = workdir / "replaced.nq"
        closed_before: dict[str, Graph] = {}
        # The events counter is rewritten with the batch's versions: it is put back like a replaced record.
        replaced = [*outcome.replaced, *closing, COUNTER_GRAPH]
        with backup.open("wb") as out:
            for iri in replaced:
                stored = target.record(iri)
                if iri in outcome.replaced:
                    outcome.before[iri] = stored
                elif iri in closing:
                    closed_before[iri] = stored
                out.write(_nquads(iri, stored))
        added, kinds = set(outcome.added), record_kinds(scratch)
        changes = [
            Change(
                iri,
                outcome.before.get(iri),
                Action.REGISTER if iri in added else Action.UPDATE,
                kind=kinds.get(iri, "record"),
            )
            for iri in outcome.written
        ]
        changes += [Change(iri, closed_before[iri], Action.UPDATE, graph) for iri, graph in closing.items()]
        versions = version_quads(target, changes, actor, first)
        history = versions.text + graphs_nquads(counter_graph(first + len(changes) - 1))
        # What a put-back drops (all the write may have added), kept with the copy: `valuemesh load --put-back`
        # reads it there when putting back fails now.
        written = [*outcome.written, *closing, *versions.graphs, COUNTER_GRAPH]
        with backup.open("ab") as out:
            out.write(to_drop_nquads(written))
        # Straight from the scratch store's quads: dumping them to a file for the engine to parse again cost a
        # quarter of the write (bench/README.md). The progress bar counts quads (a line of `history` is one).
        progress.counting("quads")
        progress.start("writing", len(scratch._store) + history.count(b"\n"))
        quads = itertools.chain(
            scratch._store.quads_for_pattern(None, None, None, None), ox.parse(history, ox.RdfFormat.N_QUADS)
        )
        try:
            mark_pending(target, backup)
            drop_stored_graphs(target, replaced)
            target.bulk_extend(counted(quads, progress.advance))
            clear_pending(target)
        except (OSError, StoreUnavailable, RuntimeError) as error:
            put_back_replaced(target, backup, written)
            if isinstance(error, StoreUnavailable):
                raise
            reason = write_failure_reason(error) if isinstance(error, OSError) else str(error)
            raise StoreUnavailable(f"the store could not write the batch ({reason}); nothing was stored") from None


def counted(quads: Iterable[ox.Quad], advance: Callable[[float], None], every: int = 10_000) -> Iterator[ox.Quad]:
    """`quads`, telling `advance` every `every` of them (a call per quad would cost more than the write)."""
    count = 0
    for count, quad in enumerate(quads, 1):
        yield quad
        if count % every == 0:
            advance(every)
    advance(count % every)


def graphs_nquads(graphs: dict[str, list[Triple]]) -> bytes:
    """Many graphs as N-Quads; a term repeated across them (a predicate, the agent, a kind) is converted once.
    Each line is put together from Oxigraph's own N-Triples text of its terms: building a Quad per line and
    serialising them cost three times as much (a load of 30k products writes about 380k of these lines)."""
    texts: dict[Node, str] = {}

    def text(term: Node) -> str:
        found = texts.get(term)
        if found is None:
            found = texts[term] = str(to_oxigraph(term))
        return found

    lines: list[str] = []
    for iri, triples in graphs.items():
        name = str(ox.NamedNode(iri))
        lines += [f"{text(s)} {text(p)} {text(o)} {name} .\n" for s, p, o in triples]
    return "".join(lines).encode()


def _nquads(iri: str, graph: Graph) -> bytes:
    name = ox.NamedNode(iri)
    quads = [ox.Quad(to_oxigraph(s), to_oxigraph(p), to_oxigraph(o), name) for s, p, o in graph]  # type: ignore[arg-type]
    return ox.serialize(quads, format=ox.RdfFormat.N_QUADS) or b""


def batch_size(files: list[Path]) -> int:
    return sum(path.stat().st_size for path in files)


def read_batch(files: list[Path], progress: BulkProgress | None = None) -> ScratchStore:
    """Every file parsed and checked into one scratch store of records (named graphs), as `records_of` and
    `merge_records` would make them; a malformed file is BadInput naming its line and column."""
    progress = progress or _silent()
    on_disk = batch_size(files) > IN_MEMORY_LIMIT_BYTES
    progress.start("reading", batch_size(files))
    batch: ScratchStore | None = None
    try:
        for path in files:
            document = _read_document(path, on_disk, progress)
            if batch is None:
                batch = document
                continue
            data = io.BytesIO()
            document.dump_nquads(data)
            document.close()
            batch.load_nquads(data.getvalue())
        batch = batch or ScratchStore(on_disk)
        derive_name_keys(batch)
        return batch
    except BaseException:
        if batch is not None:
            batch.close()
        raise


def write_batch(
    store: Store,
    batch_store: ScratchStore,
    *,
    actor: Principal,
    progress: BulkProgress | None = None,
    shapes: Shapes | None = None,
) -> WriteOutcome:
    """Validate the records `read_batch` gathered and store them all or nothing (see the module's docstring).
    Only an ADMIN loads in bulk; anyone else's records take the ordinary write path, record by record judged."""
    progress = progress or _silent()
    refuse_service_names(dict.fromkeys(graph_names(batch_store)))
    batch = set(batch_store.record_iris())
    stored = set(store.record_iris())
    rest = sorted(stored - batch)
    if not bulk_applies(store) or len(rest) > len(batch) or not actor.has(Role.ADMIN):
        progress.start("validating", None)
        records = {iri: batch_store.record(iri) for iri in sorted(batch)}
        return write_records(store, records, actor=actor, shapes=shapes)
    assert isinstance(store, OxigraphStore)
    shapes = shapes or shapes_in_force(store)
    with write_lock:
        progress.start("validating", len(shapes.queries) + 2)  # ownership, what is new, then each compiled query
        check_batch_ownership(batch_store, store, rest)
        progress.advance(1)
        outcome = classify(batch_store, store, batch, stored)
        progress.advance(1)
        outcome.report = validate_batch(batch_store, store, outcome, rest, shapes, progress)
        if not outcome.report.conforms:
            raise ValidationRefused(outcome.report)
        closing, closed = _closing(batch_store, store, outcome, actor)
        _write(batch_store, store, outcome, actor, progress, closing)
    announce_closed(store, closed, actor)
    return outcome


def load_files(
    store: Store,
    files: list[Path],
    *,
    actor: Principal,
    progress: BulkProgress | None = None,
    shapes: Shapes | None = None,
) -> WriteOutcome:
    """Add the records of `files` to `store`, validated, all or nothing."""
    batch_store = read_batch(files, progress)
    try:
        return write_batch(store, batch_store, actor=actor, progress=progress, shapes=shapes)
    finally:
        batch_store.close()
