"""One table from the catalog's errors to HTTP, for every face that answers problem JSON (RFC 9457)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi.responses import JSONResponse

from server.errors import (
    BadInput,
    BadItems,
    Conflict,
    Forbidden,
    LimitExceeded,
    NotFound,
    StoreNotPutBack,
    StoreUnavailable,
    Unauthenticated,
    ValidationRefused,
    ValuemeshError,
)
from server.openlineage.validation import EventRefused

STATUS_OF: dict[type[ValuemeshError], tuple[int, str]] = {
    BadInput: (400, "Bad request"),
    Unauthenticated: (401, "Unauthenticated"),
    Forbidden: (403, "Forbidden"),
    NotFound: (404, "Not found"),
    Conflict: (409, "Conflict"),
    ValidationRefused: (422, "Refused by the checklist"),
    LimitExceeded: (422, "Limit exceeded"),
    StoreUnavailable: (503, "Store unavailable"),
    StoreNotPutBack: (500, "Store not put back"),
}


def status_of(error: ValuemeshError) -> tuple[int, str]:
    for kind in type(error).__mro__:
        if kind in STATUS_OF:
            return STATUS_OF[kind]  # type: ignore[index]
    return 500, "Internal error"


def problem_response(
    status: int, title: str, detail: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """Problem JSON (RFC 9457) for an answer that is no catalog error (406, a sign-in refused, a SPARQL limit)."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


def problem(error: ValuemeshError) -> JSONResponse:
    """The error as problem JSON, with its code and what a client needs to act (location, violations)."""
    status, title = status_of(error)
    extra: dict[str, Any] = {"code": error.code}
    if isinstance(error, BadInput) and error.source is not None:
        extra["location"] = error.location()
    if isinstance(error, BadItems):
        extra["errors"] = [{"index": index, "reason": reason} for index, reason in error.problems]
        extra["refused"] = error.total
    if isinstance(error, EventRefused):
        extra["event"] = error.index  # its place in the request's array (0 for a single event)
        extra["pointer"] = error.pointer  # the failing field in it, as a JSON pointer (RFC 6901)
    if isinstance(error, ValidationRefused):
        extra["violations"] = [
            {"focusNode": r.focus_node, "path": r.path, "message": r.message} for r in error.report.violations
        ]
    headers = {"WWW-Authenticate": 'Bearer realm="valuemesh"'} if status == 401 else None
    return problem_response(status, title, str(error), headers, **extra)
