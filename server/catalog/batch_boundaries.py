"""Which records of a batch may describe a node that is not theirs, and which records describe one node together:
the record-boundary questions of bulk_load.py, asked of the whole batch at once.

They are planned for the batch on disk (the catalog's own store, bulk_in_place.py), where a pattern joined to bound
variables costs an index lookup per row (tens of microseconds), a property path over every graph costs more, a
FILTER that reads a term's kind or text (isIRI, isBlank, STR) costs a read of its text, and so does every term handed
to Python. So each pattern sits in a subquery of its own (scanned once, joined by hash), ownership is subtracted
with MINUS (an anti-join by hash), the owning properties are a VALUES list rather than a path, and only the few rows
left come back to Python, where the checks on a term's kind and text are made. The same plans are faster in memory
too (bench/README.md).
"""

from __future__ import annotations

import pyoxigraph as ox

from server.catalog.records import GENID, OWNING_PROPERTIES
from server.namespaces import sparql_prefixes
from server.sparql_text import iri_ref
from server.store.oxigraph import OxigraphStore

__all__ = ["describing_a_node_twice", "foreign_candidates"]

_OWNING = "VALUES ?owning { " + " ".join(iri_ref(str(p)) for p in sorted(OWNING_PROPERTIES)) + " }"

# (record, subject) pairs: a subject of the record's graph other than the record, not reached from it by one or two
# owning properties. Kinds and text (blank nodes, skolemised IRIs) are judged in Python on the pairs left: a FILTER
# reading them is pushed down to every quad of the scan.
UNOWNED_SUBJECTS = f"""
SELECT ?g ?s WHERE {{
    {{ SELECT DISTINCT ?g ?s WHERE {{ GRAPH ?g {{ ?s ?p ?o }} FILTER (?s != ?g) }} }}
    MINUS {{ SELECT ?g ?s WHERE {{ {_OWNING} GRAPH ?g {{ ?g ?owning ?s }} }} }}
    MINUS {{
        {{ SELECT ?g ?x WHERE {{ {_OWNING} GRAPH ?g {{ ?g ?owning ?x }} }} }}
        {{ SELECT ?g ?x ?s WHERE {{ {_OWNING} GRAPH ?g {{ ?x ?owning ?s }} }} }}
    }}
}}"""

_OWNING_PATH = "(" + "|".join(iri_ref(str(p)) for p in sorted(OWNING_PROPERTIES)) + ")"

# #PAIRS: `(<record> <subject>)` rows left by UNOWNED_SUBJECTS. The records among them where the subject is not
# reached by three owning properties either and has a statement other than `vm:servedBy <the record>` (`<use case>
# vm:servedBy <product>` is the one statement about another node a record may hold). Few rows: lookups are cheap.
FOREIGN_AMONG = (
    sparql_prefixes()
    + f"""
SELECT DISTINCT ?g WHERE {{
    VALUES (?g ?s) {{ #PAIRS }}
    GRAPH ?g {{ ?s ?p ?o }}
    FILTER (?p != vm:servedBy || !isIRI(?o) || ?o != ?g)
    FILTER NOT EXISTS {{ GRAPH ?g {{ ?g {_OWNING_PATH}/{_OWNING_PATH}/{_OWNING_PATH} ?s }} }}
}}"""
)

# Records describing a node that another record describes too (statements other than `vm:servedBy <IRI>`). The
# nodes are found without reading any text (GROUP_CONCAT of the graphs' names read it for every node), and their
# few graphs are then looked up.
DESCRIBING_A_NODE_TWICE = (
    sparql_prefixes()
    + """
SELECT DISTINCT ?g WHERE {
    { SELECT ?node WHERE {
        { SELECT DISTINCT ?node ?g WHERE { GRAPH ?g { ?node ?p ?o FILTER (?p != vm:servedBy || !isIRI(?o)) } } }
    } GROUP BY ?node HAVING (COUNT(*) > 1) }
    GRAPH ?g { ?node ?p ?o FILTER (?p != vm:servedBy || !isIRI(?o)) }
}"""
)

# Pairs to a VALUES block: enough to keep each query small, few enough that the lookups stay cheap.
PAIRS_PER_QUERY = 1000


def foreign_candidates(batch: OxigraphStore) -> list[str]:
    """The records of `batch` that may hold a statement about a node that is not theirs, approximately: a subject
    that is not the record, not reached from it by up to three owning properties, not a blank node nor skolemised
    under it. The exact rule (records.owned_by) owns a little more (deeper chains, nodes reached through blank
    nodes): each record found is to be judged again exactly (`records.check_named_graph`)."""
    candidates: set[str] = set()
    rows: list[str] = []
    for record, subject in batch.solutions(UNOWNED_SUBJECTS):
        if not isinstance(record, ox.NamedNode) or not isinstance(subject, ox.NamedNode):
            continue  # a graph named by a blank node is no record; a blank node is its record's own
        if subject.value.startswith(record.value + GENID):
            continue  # a blank node of the record, skolemised
        try:
            rows.append(f"({iri_ref(record.value)} {iri_ref(subject.value)})")
        except ValueError:
            candidates.add(record.value)  # a name no query text can carry: judged exactly
    for first in range(0, len(rows), PAIRS_PER_QUERY):
        pairs = " ".join(rows[first : first + PAIRS_PER_QUERY])
        candidates.update(row[0].value for row in batch.solutions(FOREIGN_AMONG.replace("#PAIRS", pairs)))
    return sorted(candidates)


def describing_a_node_twice(batch: OxigraphStore) -> list[str]:
    """The records of `batch` that describe a node another record of it describes too (none, most of the time)."""
    graphs = (row[0] for row in batch.solutions(DESCRIBING_A_NODE_TWICE))
    return sorted(graph.value for graph in graphs if isinstance(graph, ox.NamedNode))
