"""The catalog's error types; each face (GraphQL, HTTP, CLI) maps them once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from server.validation import ValidationReport


class ValuemeshError(Exception):
    """Base of every error the catalog raises on purpose."""

    code = "INTERNAL"


class NotFound(ValuemeshError):
    code = "NOT_FOUND"


class BadInput(ValuemeshError):
    """Input that cannot be used: malformed files, unknown formats, hostile queries."""

    code = "BAD_INPUT"

    def __init__(
        self, message: str, *, source: str | None = None, line: int | None = None, column: int | None = None
    ) -> None:
        self.source = source
        self.line = line
        self.column = column
        where = source or ""
        if line is not None:
            where += f":{line}" + (f":{column}" if column is not None else "")
        super().__init__(f"{where}: {message}" if where else message)
        self.detail = message

    def location(self) -> dict[str, Any]:
        return {"source": self.source, "line": self.line, "column": self.column}


class BadItems(BadInput):
    """A batch refused because some of its items are unusable: each with its index in the batch and the reason."""

    def __init__(self, what: str, problems: list[tuple[int, str]], *, shown: int = 100) -> None:
        self.problems = problems[:shown]  # enough for a client to fix a batch; the count says how many in all
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{what} [{first[0]}]: {first[1]}{more}; nothing of this batch was stored")
        self.total = len(problems)


class ValidationRefused(ValuemeshError):
    """A write that fails the MVP checklist; nothing was stored."""

    code = "VALIDATION_REFUSED"

    def __init__(self, report: ValidationReport) -> None:
        self.report = report
        super().__init__(f"refused: {len(report.violations)} checklist violation(s); nothing was stored")


class Conflict(ValuemeshError):
    """A write that would break what others rely on, e.g. removing a product that is still consumed."""

    code = "CONFLICT"


class Unauthenticated(ValuemeshError):
    """No credentials where some are needed, or credentials that do not hold (expired, forged, revoked)."""

    code = "UNAUTHENTICATED"


class Forbidden(ValuemeshError):
    """An identity without the right it needs; the message names the right."""

    code = "FORBIDDEN"


class StoreUnavailable(ValuemeshError):
    code = "STORE_UNAVAILABLE"


class StoreClosed(StoreUnavailable):
    """The store was closed by its owner: nothing asked of it afterwards can be answered, now or later."""


class StoreNotPutBack(StoreUnavailable):
    """A bulk write failed and so did putting the store back: it may hold part of the batch until an operator puts it
    back (not a wait-and-retry: a retry would write onto the half-written store)."""

    code = "STORE_NOT_PUT_BACK"


class LimitExceeded(ValuemeshError):
    """A query that ran past the time limit or would answer more rows than allowed; nothing was returned."""

    code = "LIMIT_EXCEEDED"

    def __init__(self, message: str, *, limit: str) -> None:
        self.limit = limit  # "time" or "rows": which limit was hit
        super().__init__(message)
