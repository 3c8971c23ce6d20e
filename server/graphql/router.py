"""The `/graphql` face: Strawberry's FastAPI router (GraphiQL in a browser) over the app's store."""

from __future__ import annotations

from strawberry.fastapi import GraphQLRouter

from server.graphql.context import Context, get_context
from server.graphql.schema import create_schema
from server.settings import Settings


def graphql_router(settings: Settings) -> GraphQLRouter[Context, None]:
    return GraphQLRouter(create_schema(settings), context_getter=get_context, graphql_ide="graphiql")
