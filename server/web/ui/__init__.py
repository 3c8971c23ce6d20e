"""The web UI: server-rendered pages for people, over the same Catalog service GraphQL answers from."""
