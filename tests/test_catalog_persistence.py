"""The embedded store keeps the catalog on disk: what one process wrote, the next one reads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from rdflib import URIRef

from server.catalog.seeding import ONTOLOGY_GRAPH
from server.store import open_store
from tests.conftest import DATA

DOMAIN = "https://valuemesh.example/domain/finance"


def run_valuemesh(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli.main", *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_data_survives_a_restart_of_the_process(tmp_path: Path) -> None:
    location = str(tmp_path / "catalog")
    written = run_valuemesh("load", str(DATA / "extra-domain.ttl"), "--store", location, "--no-seed")
    assert written.returncode == 0, written.stderr

    # The writing process has exited; this one opens the same directory afresh.
    store = open_store(location)
    try:
        assert store.ask("ASK { ?d a <https://w3id.org/valuemesh/ontology#Domain> }")
        assert set(store.record_iris()) == {DOMAIN, ONTOLOGY_GRAPH}
        assert (URIRef(DOMAIN), None, None) in store.record(DOMAIN)
    finally:
        store.close()


def test_a_store_held_by_another_process_is_still_readable(tmp_path: Path) -> None:
    location = str(tmp_path / "catalog")
    holder = open_store(location)  # as `valuemesh serve` would hold it
    try:
        holder.replace_records(
            {DOMAIN: [(URIRef(DOMAIN), URIRef("http://www.w3.org/2000/01/rdf-schema#label"), URIRef(DOMAIN))]}
        )
        reader = run_valuemesh("query", "SELECT ?g WHERE { GRAPH ?g {} }", "--format", "csv", "--store", location)
        assert reader.returncode == 0, reader.stderr
        assert DOMAIN in reader.stdout

        writer = run_valuemesh("load", str(DATA / "extra-agent.jsonld"), "--store", location)
        assert writer.returncode == 2
        assert "another valuemesh process" in writer.stderr
    finally:
        holder.close()
