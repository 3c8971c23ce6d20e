"""The `validation` query's report: the whole stored catalog, or the results about chosen nodes."""

from __future__ import annotations

from server.namespaces import sparql_prefixes
from server.sparql_text import iri_ref
from server.store.base import Store
from server.validation import ValidationReport, check_write, validate_store

# The records that state something about each chosen node (as subject): what the results about it come from (never
# the catalog's own graphs, such as the versions the history keeps).
RECORDS_OF = sparql_prefixes() + (
    "SELECT DISTINCT ?record WHERE { VALUES ?node { #NODES } GRAPH ?record { ?node ?p ?o } "
    'FILTER (!STRSTARTS(STR(?record), "urn:valuemesh:")) }'
)


def validation_report(store: Store, ids: list[str] | None) -> ValidationReport:
    """The checklist report of the stored catalog; with `ids`, the results about those nodes or their records,
    judged on their records and the neighbourhood the checks read (as a write is), not the whole catalog."""
    if ids is None:
        return validate_store(store)
    nodes = [iri_ref(iri) for iri in ids]
    found = store.select(RECORDS_OF.replace("#NODES", " ".join(nodes))) if nodes else None
    records = {str(record): store.record(str(record)) for record in (found.column("record") if found else [])}
    chosen = set(ids)
    report = check_write(store, records) if records else ValidationReport([])
    return ValidationReport([r for r in report.results if r.focus_node in chosen or r.record in chosen])
