"""The `/graphql` face: Strawberry's FastAPI router (GraphiQL in a browser) over the app's store.

It speaks GraphQL over HTTP (https://graphql.github.io/graphql-over-http/draft/) in both media types: a client that
accepts `application/graphql-response+json` gets it, with 400 and no `data` entry when the request never reached
execution (a document that does not parse or validate, variables that do not coerce); every other client gets
`application/json` and 200, as before. tests/test_graphql_http_audit.py runs the spec's own audit suite.
"""

from __future__ import annotations

from fastapi import Request, Response
from fastapi.responses import HTMLResponse
from starlette import status
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from server.graphql.context import Context, get_context
from server.graphql.limits import with_code
from server.graphql.schema import create_schema
from server.settings import Settings
from server.web.ui.templating import ENVIRONMENT

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"
# A request error answered in application/graphql-response+json: the client's fault unless the code says otherwise.
_STATUS_OF_CODE = {
    "INTERNAL": status.HTTP_500_INTERNAL_SERVER_ERROR,
    "STORE_UNAVAILABLE": status.HTTP_503_SERVICE_UNAVAILABLE,
}


def preferred_media_type(accept: str | None) -> str:
    """The media type to answer in: graphql-response+json when the client ranks it at least as high as
    application/json (wildcards count for application/json), application/json otherwise and without an Accept."""
    quality: dict[str, float] = {}
    for entry in (accept or "").split(","):
        name, *parameters = (part.strip() for part in entry.split(";"))
        weight = 1.0
        for parameter in parameters:
            key, _, value = parameter.partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        name = name.lower()
        quality[name] = max(weight, quality.get(name, 0.0))
    ours = quality.get(GRAPHQL_RESPONSE, 0.0)
    plain = max(quality.get(JSON, 0.0), quality.get("application/*", 0.0), quality.get("*/*", 0.0))
    return GRAPHQL_RESPONSE if ours > 0 and ours >= plain else JSON


def is_request_error(result: ExecutionResult) -> bool:
    """Whether the request failed before execution: no data, and no error that a field raised (those have a path)."""
    return result.data is None and bool(result.errors) and all(error.path is None for error in result.errors or ())


# What the editor opens with when the URL names no query.
EXAMPLE_QUERY = """# GraphiQL over the valuemesh catalog.
#
# Type a query on this side; the schema (Docs, or the Explorer on the left) says what can be asked.
# Run it with Ctrl-Enter or the play button. A token goes in Headers: {"Authorization": "Bearer ..."}
#
{
  dataProducts(first: 5) {
    edges {
      node {
        name
        domain { name }
      }
    }
  }
}
"""


class CatalogRouter(GraphQLRouter[Context, None]):
    @property
    def graphql_ide_html(self) -> str:
        """GraphiQL from this package's files (server/web/static/vendor/graphiql/): Strawberry's page loads them from
        a CDN, so it stays blank offline. Its only script code is static/graphiql.js; the page carries no inline
        script (see hardening.graphiql_policy)."""
        return ENVIRONMENT.get_template("graphiql.html").render(config={"exampleQuery": EXAMPLE_QUERY})

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(self.graphql_ide_html)

    async def get_sub_response(self, request: Request) -> Response:
        """The response this request's answer is built on, carrying the media type the client accepts."""
        sub_response = await super().get_sub_response(request)
        sub_response.media_type = preferred_media_type(request.headers.get("accept"))
        request.state.graphql_sub_response = sub_response
        return sub_response

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        """Every error leaves with `extensions.code` and without internals; a request error answered in
        graphql-response+json leaves with a 4xx or 5xx status and without `data`."""
        if result.errors:
            result.errors = [with_code(error) for error in result.errors]
        response = await super().process_result(request, result)
        sub_response: Response = request.state.graphql_sub_response
        if sub_response.media_type == GRAPHQL_RESPONSE and is_request_error(result):
            del response["data"]
            codes = [(error.extensions or {}).get("code") for error in result.errors or ()]
            sub_response.status_code = max(
                _STATUS_OF_CODE.get(str(code), status.HTTP_400_BAD_REQUEST) for code in codes
            )
        return response

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        media_type = sub_response.media_type or JSON
        response = Response(
            self.encode_json(response_data),
            media_type=media_type if media_type == JSON else f"{media_type}; charset=utf-8",
            status_code=sub_response.status_code or status.HTTP_200_OK,
        )
        response.headers.raw.extend(sub_response.headers.raw)
        return response


def graphql_router(settings: Settings) -> GraphQLRouter[Context, None]:
    # No subscriptions, so no WebSockets: a WebSocket is outside CORS and would be a way in around Identify.
    return CatalogRouter(
        create_schema(settings), context_getter=get_context, graphql_ide="graphiql", subscription_protocols=()
    )
