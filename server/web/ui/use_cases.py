"""Use cases `/use-cases`: the article's data use case prioritization table, one row per use case, the seven
criteria and their sum, sortable by any column on the server (`?sort=<column>&order=asc|desc`), so it works without
JavaScript. Read with the functions GraphQL's `useCases` and `UseCase.dataProducts` call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from server.catalog import nodes, use_cases
from server.catalog.lineage_index import LineageIndex
from server.catalog.use_cases import Prioritization, UseCaseRow
from server.namespaces import VM
from server.store.base import Store
from server.web.ui.context import catalog_of, visibility_of
from server.web.ui.templating import render
from server.web.ui.value_tree import ProductRef, named_products

router = APIRouter()


@dataclass(frozen=True)
class Column:
    key: str  # its name in `?sort=`
    label: str
    question: str  # the article's question for the criterion
    attribute: str  # the Prioritization field, or "" for the use case's title
    numeric: bool = True


# The article's criteria in its order, with its questions; then the score.
COLUMNS = (
    Column("title", "Use case", "", "", numeric=False),
    Column(
        "business-value",
        "Business value",
        "What potential value or negative impact to our business? (value from 0 to 5)",
        "business_value",
    ),
    Column(
        "time-criticality",
        "Time criticality",
        "How fast does business value decrease over time? Will users wait for us or find another option? "
        "(value from 0 to 5)",
        "time_criticality",
    ),
    Column(
        "risk-reduction",
        "Risk reduction",
        "What is the risk of delaying this initiative for our business? Will this initiative open / facilitate new "
        "business opportunities? (value from 0 to 5)",
        "risk_reduction",
    ),
    Column(
        "reach",
        "Reach",
        "How many people will be impacted by this initiative? (Consider for same period) (value from 0 to 5)",
        "reach",
    ),
    Column("impact", "Impact", "How much will this impact each of these people? (value from 0 to 5)", "impact"),
    Column("confidence", "Confidence", "How confident are you about these numbers? (value from 0 to 5)", "confidence"),
    Column("effort", "Effort", "How does this work compared to others? (lowest effort 5, highest effort 0)", "effort"),
    Column(
        "score",
        "Score",
        "Business value + Time criticality + Risk reduction + Reach + Impact + Confidence + Effort",
        "score",
    ),
)
BY_KEY = {column.key: column for column in COLUMNS}
Order = Literal["asc", "desc"]


class BadSort(Exception):
    """A sort the table has no column or direction for; the page says which ones it has."""


@dataclass(frozen=True)
class Row:
    use_case: UseCaseRow
    products: list[ProductRef]

    def value(self, column: Column) -> int | str | None:
        if not column.attribute:
            return self.use_case.title
        p = self.use_case.prioritization
        return getattr(p, column.attribute) if p is not None else None


def read_sort(sort: str | None, order: str | None) -> tuple[Column, Order]:
    column = BY_KEY.get(sort or "score")
    if column is None:
        known = ", ".join(BY_KEY)
        raise BadSort(f"The table cannot be sorted by {sort!r}: sort by one of {known}.")
    if order is None:
        return column, "desc" if column.numeric else "asc"
    if order not in ("asc", "desc"):
        raise BadSort(f"The order {order!r} is neither asc (lowest first) nor desc (highest first).")
    return column, order  # type: ignore[return-value]


def sorted_rows(rows: list[Row], column: Column, order: Order) -> list[Row]:
    """Sorted by `column`; rows without a value (a missing criterion) come last either way; ties by score, then title."""

    def tie(row: Row) -> tuple[int, str]:
        p: Prioritization | None = row.use_case.prioritization
        return (-(p.score if p is not None else -1), row.use_case.title.casefold())

    rows = sorted(rows, key=tie)
    present = [row for row in rows if row.value(column) is not None]
    missing = [row for row in rows if row.value(column) is None]

    def key(row: Row) -> int | str:
        value = row.value(column)
        return value.casefold() if isinstance(value, str) else (value or 0)

    return sorted(present, key=key, reverse=order == "desc") + missing


def table_rows(store: Store, hidden: Callable[[str], bool], index: LineageIndex | None = None) -> list[Row]:
    """Every use case with the products serving it that the caller may read."""
    ranked = use_cases.ranked_use_cases(store)
    found = use_cases.use_cases_by_iri(store, ranked)
    served = nodes.related(store, ranked, VM.servedBy)
    named = named_products(store, sorted({p for ps in served.values() for p in ps}), hidden, index)
    return [
        Row(row, sorted((named[p] for p in served[iri] if p in named), key=lambda p: p.name.casefold()))
        for iri in ranked
        if (row := found.get(iri)) is not None
    ]


def header_link(column: Column, current: Column, order: Order) -> str:
    """Where a column's header goes: the column sorted its natural way, or the other way when it is the current one."""
    if column == current:
        flipped = "asc" if order == "desc" else "desc"
        return f"?sort={column.key}&order={flipped}"
    return f"?sort={column.key}&order={'desc' if column.numeric else 'asc'}"


@router.get("/use-cases", response_class=HTMLResponse)
async def use_cases_page(request: Request, sort: str | None = None, order: str | None = None) -> HTMLResponse:
    try:
        column, direction = read_sort(sort, order)
    except BadSort as error:
        return render(request, "use_cases.html", status_code=400, error=str(error), columns=COLUMNS)
    catalog = catalog_of(request)
    visibility = await visibility_of(request)
    rows = sorted_rows(
        await catalog.run(table_rows, catalog.store, visibility.hidden, catalog.index), column, direction
    )
    return render(
        request,
        "use_cases.html",
        error=None,
        rows=rows,
        columns=COLUMNS,
        current=column,
        order=direction,
        header_link=header_link,
    )
