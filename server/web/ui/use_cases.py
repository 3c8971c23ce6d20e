"""Use cases `/use-cases`: the article's data use case prioritization table, one row per use case, the seven
criteria and their sum, sortable by any column on the server (`?sort=<column>&order=asc|desc`), so it works without
JavaScript, PAGE_SIZE rows a page (`?page=`). The store sorts and cuts the table (a catalog of 10k products has
thousands of use cases); the rows are read with the functions GraphQL's `useCases` and `UseCase.dataProducts` call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from server.catalog import nodes, use_cases
from server.catalog.lineage_index import LineageIndex
from server.catalog.use_cases import UseCaseRow
from server.namespaces import VM
from server.store.base import Store
from server.web.ui.context import catalog_of, visibility_of
from server.web.ui.templating import render
from server.web.ui.value_tree import ProductRef, named_products

router = APIRouter()
PAGE_SIZE = 100


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


def sort_key(column: Column) -> str:
    """The column's name in use_cases.SORT_KEYS: a criterion's (businessValue ...), "score" or "title"."""
    if not column.attribute:
        return "title"
    head, *rest = column.attribute.split("_")
    return head + "".join(word.title() for word in rest)


@dataclass(frozen=True)
class Table:
    rows: list[Row]
    total: int
    page: int
    pages: int


def read_page(page: str | None) -> int:
    if page is None or page == "":
        return 1
    if not page.isdigit() or int(page) < 1:
        raise BadSort(f"The page must be a whole number of 1 or more, not {page!r}.")
    return int(page)


def table_page(
    store: Store,
    hidden: Callable[[str], bool],
    column: Column,
    order: Order,
    page: int,
    index: LineageIndex | None = None,
) -> Table:
    """One page of the table sorted by `column`, with the products serving each use case that the caller may read."""
    total = use_cases.count_use_cases(store)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(page, pages)
    iris = use_cases.sorted_use_cases(store, sort_key(column), order == "desc", (page - 1) * PAGE_SIZE, PAGE_SIZE)
    found = use_cases.use_cases_by_iri(store, iris)
    served = nodes.related(store, iris, VM.servedBy)
    named = named_products(store, sorted({p for ps in served.values() for p in ps}), hidden, index)
    rows = [
        Row(row, sorted((named[p] for p in served[iri] if p in named), key=lambda p: p.name.casefold()))
        for iri in iris
        if (row := found.get(iri)) is not None
    ]
    return Table(rows, total, page, pages)


def header_link(column: Column, current: Column, order: Order) -> str:
    """Where a column's header goes: the column sorted its natural way, or the other way when it is the current one
    (from the first page)."""
    if column == current:
        flipped = "asc" if order == "desc" else "desc"
        return f"?sort={column.key}&order={flipped}"
    return f"?sort={column.key}&order={'desc' if column.numeric else 'asc'}"


def page_link(column: Column, order: Order, page: int) -> str:
    return f"?sort={column.key}&order={order}&page={page}"


@router.get("/use-cases", response_class=HTMLResponse)
async def use_cases_page(
    request: Request, sort: str | None = None, order: str | None = None, page: str | None = None
) -> HTMLResponse:
    try:
        column, direction = read_sort(sort, order)
        number = read_page(page)
    except BadSort as error:
        return render(request, "use_cases.html", status_code=400, error=str(error), columns=COLUMNS)
    catalog = catalog_of(request)
    visibility = await visibility_of(request)
    table = await catalog.run(table_page, catalog.store, visibility.hidden, column, direction, number, catalog.index)
    return render(
        request,
        "use_cases.html",
        error=None,
        table=table,
        rows=table.rows,
        columns=COLUMNS,
        current=column,
        order=direction,
        header_link=header_link,
        page_link=page_link,
        page_size=PAGE_SIZE,
    )
