"""The GraphQL face of the catalog (Strawberry on FastAPI)."""
