"""First start: the ontology is kept current in its own graph, and an empty catalog gets the article's landscape."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyoxigraph as ox
from rdflib import Graph
from rdflib.compare import isomorphic

from server.errors import BadInput, ValidationRefused
from server.governance.shapes import Shapes
from server.identity.principal import SYSTEM
from server.rdf_io import read_rdf_file
from server.resources import ontology_file, seed_files
from server.store.base import Store, backend_of
from server.store.oxigraph import OxigraphStore

if TYPE_CHECKING:
    from server.catalog.writes import WriteOutcome

ONTOLOGY_GRAPH = "https://w3id.org/valuemesh/ontology"


def shipped_ontology() -> Graph:
    """The ontology this version ships."""
    return Graph().parse(ontology_file(), format="turtle")


def install_ontology(store: Store) -> None:
    """Keep the ontology's graph equal to the ontology this version ships (labels of concepts, schemes)."""
    backend = backend_of(store)
    # Every command opening the store asks this: on the embedded store Oxigraph answers it in a few milliseconds,
    # where parsing the file and rdflib's isomorphism test take a quarter of a second.
    shipped = ox.parse(path=ontology_file(), format=ox.RdfFormat.TURTLE)
    if isinstance(backend, OxigraphStore) and backend.holds_graph(ONTOLOGY_GRAPH, shipped):
        return
    graph = shipped_ontology()
    if not isomorphic(store.record(ONTOLOGY_GRAPH), graph):
        store.replace_records({ONTOLOGY_GRAPH: graph})


def has_catalog_records(store: Store) -> bool:
    return any(iri != ONTOLOGY_GRAPH for iri in store.record_iris())


def seed(store: Store, shapes: Shapes | None = None) -> WriteOutcome:
    """Load the seed landscape through the normal, validated write path (under the shapes in force)."""
    # Imported here: the write path takes a third of a second to import, and only an empty catalog is seeded.
    from server.catalog.writes import write_documents

    documents = [read_rdf_file(path) for path in seed_files()]
    try:
        return write_documents(store, documents, actor=SYSTEM, shapes=shapes)
    except ValidationRefused as refused:
        names = sorted({r.record_name or r.focus_node for r in refused.report.violations})
        raise BadInput(
            f"the article's example landscape does not meet the shapes in force ({len(refused.report.violations)} "
            f"violation(s), e.g. {', '.join(names[:3])}), so it cannot seed this catalog; start with --no-seed "
            "(VALUEMESH_SEED=false)"
        ) from None


def prepare(store: Store, *, with_seed: bool, shapes: Shapes | None = None) -> WriteOutcome | None:
    """Install the ontology; seed the catalog when it holds no records yet and seeding is wanted."""
    install_ontology(store)
    if with_seed and not has_catalog_records(store):
        return seed(store, shapes)
    return None
