"""The use-case table of a big catalog comes a page at a time, sorted by the store: every use case on exactly one
page, in the table's order (a column's values, those without one last, ties by score), with links between pages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bench.generate import CatalogPlan, build_store, plan_catalog
from server.settings import Settings
from server.web.app import create_app
from server.web.ui.use_cases import PAGE_SIZE
from tests.ui_helpers import HTML
from tests.ui_reading import table_rows

N, SEED = 300, 5


@pytest.fixture(scope="module")
def plan() -> CatalogPlan:
    return plan_catalog(N, SEED)


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    store = build_store(N, SEED)
    with TestClient(create_app(Settings(store="memory:", seed=False), store=store), base_url="http://localhost") as c:
        yield c
    store.close()


def every_page(client: TestClient, query: str) -> list[list[str]]:
    rows: list[list[str]] = []
    page = 1
    while True:
        answer = client.get(f"/use-cases?{query}&page={page}", headers=HTML)
        assert answer.status_code == 200
        found = table_rows(answer.text, "prioritization")
        assert len(found) <= PAGE_SIZE
        rows += found
        if 'rel="next"' not in answer.text:
            return rows
        page += 1


def test_every_use_case_is_on_one_page_highest_score_first(client: TestClient, plan: CatalogPlan) -> None:
    assert len(plan.use_cases) > PAGE_SIZE  # the catalog needs more than one page
    first = client.get("/use-cases", headers=HTML).text
    assert f"Use cases 1 to {PAGE_SIZE} of {len(plan.use_cases)}" in first
    rows = every_page(client, "sort=score&order=desc")
    assert sorted(row[0] for row in rows) == sorted(u.name for u in plan.use_cases)
    scores = [int(row[8]) for row in rows]
    assert scores == sorted(scores, reverse=True)


def test_sorting_by_a_criterion_holds_across_pages(client: TestClient) -> None:
    rows = every_page(client, "sort=reach&order=asc")
    reach = [int(row[4]) for row in rows if row[4] != "–"]
    assert reach == sorted(reach) and len(set(reach)) > 1
    ties = [(int(row[4]), -int(row[8])) for row in rows if row[4] != "–"]
    assert ties == sorted(ties)  # equal reach: highest score first


def test_a_page_past_the_end_shows_the_last_and_a_bad_page_is_a_clear_400(client: TestClient) -> None:
    last = client.get("/use-cases?page=999", headers=HTML)
    assert last.status_code == 200 and 'rel="prev"' in last.text and 'rel="next"' not in last.text
    bad = client.get("/use-cases?page=zero", headers=HTML)
    assert bad.status_code == 400 and "The page must be a whole number of 1 or more" in bad.text
