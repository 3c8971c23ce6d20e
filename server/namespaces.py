"""The RDF namespaces of the catalog, each defined once (see docs/model.md)."""

from rdflib import Namespace
from rdflib.namespace import OWL, RDF, RDFS, SKOS, XSD

VM = Namespace("https://w3id.org/valuemesh/ontology#")
DEFAULT_BASE = "https://valuemesh.example/"

DPROD = Namespace("https://ekgf.github.io/dprod/")
# DPROD's namespace has moved; descriptors written against older drafts are read with these and rewritten.
DPROD_OLD = ("https://www.omg.org/spec/DPROD/", "https://ekgf.org/dprod/", "http://ekgf.org/dprod/")
DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCT = Namespace("http://purl.org/dc/terms/")
PROV = Namespace("http://www.w3.org/ns/prov#")
ODRL = Namespace("http://www.w3.org/ns/odrl/2/")
DQV = Namespace("http://www.w3.org/ns/dqv#")
DPV = Namespace("https://w3id.org/dpv#")
ORG = Namespace("http://www.w3.org/ns/org#")
FOAF = Namespace("http://xmlns.com/foaf/0.1/")
SH = Namespace("http://www.w3.org/ns/shacl#")

PREFIXES: dict[str, str] = {
    "vm": str(VM),
    "dprod": str(DPROD),
    "dcat": str(DCAT),
    "dct": str(DCT),
    "prov": str(PROV),
    "odrl": str(ODRL),
    "dqv": str(DQV),
    "dpv": str(DPV),
    "org": str(ORG),
    "foaf": str(FOAF),
    "skos": str(SKOS),
    "rdf": str(RDF),
    "rdfs": str(RDFS),
    "owl": str(OWL),
    "xsd": str(XSD),
    "sh": str(SH),
}


def sparql_prefixes() -> str:
    """The PREFIX lines every catalog query starts with."""
    return "".join(f"PREFIX {name}: <{iri}>\n" for name, iri in PREFIXES.items())
