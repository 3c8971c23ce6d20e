"""Where the ontology, shapes and seed live: inside the wheel when installed, at the repository top otherwise."""

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """The directory `ontology`, `shapes`, `seed` or `queries`, wherever this installation keeps it."""
    for candidate in (_PACKAGE_DIR / "_resources" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"valuemesh cannot find its '{name}' directory; the installation is incomplete")


def ontology_file() -> Path:
    return resource_dir("ontology") / "valuemesh.ttl"


def seed_files() -> list[Path]:
    """The seed's RDF files, in a stable order."""
    return sorted(p for p in resource_dir("seed").iterdir() if p.suffix in {".ttl", ".trig", ".nq", ".nt", ".jsonld"})


def queries_dir() -> Path:
    """The architects' query library: one documented `.rq` file per question."""
    return resource_dir("queries")


def shape_files() -> list[Path]:
    return sorted(resource_dir("shapes").glob("*.ttl"))
