"""Defences and error codes: depth, token and alias limits; every error carries a code and never a stack trace."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from functools import partial

from graphql.error import GraphQLError
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter, SchemaExtension

from server.errors import BadInput, ValuemeshError
from server.settings import Settings

log = logging.getLogger("valuemesh.graphql")

MAX_TOKENS = 5_000
MAX_ALIASES = 30

# Errors graphql-core raises for documents the limits refuse, recognised by their wording.
_TOO_COMPLEX = ("exceeds maximum operation depth", "more than", "aliases found")


def _code_of(error: GraphQLError) -> tuple[str, dict[str, object]]:
    original = error.original_error
    if isinstance(original, ValuemeshError):
        extra: dict[str, object] = {}
        if isinstance(original, BadInput) and original.source is not None:
            extra["location"] = original.location()
        return original.code, extra
    if original is None:
        if any(marker in error.message for marker in _TOO_COMPLEX):
            return "QUERY_TOO_COMPLEX", {}
        if error.message.startswith("Syntax Error"):
            return "GRAPHQL_PARSE_FAILED", {}
        return "GRAPHQL_VALIDATION_FAILED", {}
    return "INTERNAL", {}


def with_code(error: GraphQLError) -> GraphQLError:
    """The error as clients see it: a message, its locations and path, and `extensions.code`."""
    code, extra = _code_of(error)
    message = error.message
    if code == "INTERNAL":
        log.error("unexpected error in a GraphQL request", exc_info=error.original_error)
        message = "internal error; the server log has the details"
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={**(error.extensions or {}), "code": code, **extra},
    )


class ErrorCodes(SchemaExtension):
    """Map the catalog's typed errors to `extensions.code` once, for every operation."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [with_code(error) for error in result.errors]


def extensions(settings: Settings) -> list[Callable[[], SchemaExtension]]:
    """Factories, so each request gets fresh extension instances."""
    return [
        partial(QueryDepthLimiter, max_depth=settings.max_query_depth),
        partial(MaxTokensLimiter, max_token_count=MAX_TOKENS),
        partial(MaxAliasesLimiter, max_alias_count=MAX_ALIASES),
        ErrorCodes,
    ]
