"""Defences and error codes: depth, token, alias and cost limits; every error carries a code and never a stack trace.

The codes are added where results become HTTP responses (server/graphql/router.py), because errors raised while
parsing never pass through the schema extensions' result hooks."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from graphql.error import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as create_alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as create_depth_rule

from server.errors import BadInput, ValuemeshError
from server.graphql.cost import cost_rule
from server.settings import Settings

MAX_TOKENS = 5_000
MAX_ALIASES = 30
DOCUMENT_CACHE_SIZE = 256  # bounded: unique documents from clients cannot grow memory without limit

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
        code = (error.extensions or {}).get("code")
        if isinstance(code, str):  # a rule of ours that said which (the cost rule)
            return code, {}
        if any(marker in error.message for marker in _TOO_COMPLEX):
            return "QUERY_TOO_COMPLEX", {}
        if error.message.startswith("Syntax Error"):
            return "GRAPHQL_PARSE_FAILED", {}
        return "GRAPHQL_VALIDATION_FAILED", {}
    if isinstance(original, GraphQLError) and error.path is None:
        # graphql-core refusing a variable's value before execution: the client's input, not a failure of ours
        inner = original.original_error
        return (inner.code if isinstance(inner, ValuemeshError) else BadInput.code), {}
    return "INTERNAL", {}


def with_code(error: GraphQLError) -> GraphQLError:
    """The error as clients see it: a message, its locations and path, and `extensions.code`."""
    code, extra = _code_of(error)
    message = error.message
    if code == "INTERNAL":  # the schema logged it with its traceback; the client gets no internals
        message = "internal error; the server log has the details"
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={**(error.extensions or {}), "code": code, **extra},
    )


def extensions(settings: Settings) -> list[Callable[[], SchemaExtension]]:
    """Factories, so each request gets fresh extension instances.

    The depth, alias and cost rules are built once (what QueryDepthLimiter and MaxAliasesLimiter build per request),
    so that the validation cache, keyed by the document and the rules, can recognise them: parsing and validating a
    document cost several milliseconds, more than answering most questions, and frontends send the same few
    documents again and again. None of the rules depends on variables, so a cached verdict holds for every request.
    """
    rules = (
        create_depth_rule(settings.max_query_depth, None),
        create_alias_rule(MAX_ALIASES),
        cost_rule(settings.max_query_cost, settings.max_page_size),
    )
    return [
        partial(MaxTokensLimiter, max_token_count=MAX_TOKENS),
        partial(AddValidationRules, list(rules)),
        partial(ParserCache, maxsize=DOCUMENT_CACHE_SIZE),
        partial(ValidationCache, maxsize=DOCUMENT_CACHE_SIZE),
    ]
