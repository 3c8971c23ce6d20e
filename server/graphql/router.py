"""The `/graphql` face: Strawberry's FastAPI router (GraphiQL in a browser) over the app's store."""

from __future__ import annotations

from fastapi import Request
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from server.graphql.context import Context, get_context
from server.graphql.limits import with_code
from server.graphql.schema import create_schema
from server.settings import Settings


class CatalogRouter(GraphQLRouter[Context, None]):
    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        """Every error leaves with `extensions.code` and without internals."""
        if result.errors:
            result.errors = [with_code(error) for error in result.errors]
        return await super().process_result(request, result)


def graphql_router(settings: Settings) -> GraphQLRouter[Context, None]:
    return CatalogRouter(create_schema(settings), context_getter=get_context, graphql_ide="graphiql")
