"""Governance: the article's Data Product MVP checklist (shapes/) compiled to SPARQL and run by the store's engine.

`shapes` reads the standard SHACL files and compiles each constraint into one SPARQL query; `engine` runs those
queries over a whole store or over a write's neighbourhood; `neighbourhood` fetches what a write needs to be
judged; `report` prints the verdict for people and machines. The public entry points are in `server.validation`.
"""
