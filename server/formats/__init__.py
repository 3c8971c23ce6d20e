"""The descriptor formats teams keep in git (Bitol ODPS v1.0 with ODCS v3.1 contracts, Open Data Mesh DPDS 1.0,
valuemesh's own YAML), converted to records and back. docs/formats.md has the mapping."""

from server.formats.conversion import convert_document, convert_files, detect, records_from_yaml

__all__ = ["convert_document", "convert_files", "detect", "records_from_yaml"]
