"""The product page shows observed lineage: the datasets its ports name, its runs, and lineage drift."""

from __future__ import annotations

import html as html_text
import re

from fastapi.testclient import TestClient

from tests.lineage_events import recent

HCP_360 = "/data-product/hcp-360"
HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def section(page: str, anchor: str) -> str:
    start = page.index(f'<section id="{anchor}"')
    return page[start : page.index("</section>", start)]


def text(fragment: str) -> str:
    return " ".join(html_text.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def test_before_any_run_the_page_says_how_to_report_runs(client: TestClient) -> None:
    page = client.get(HCP_360, headers=HTML).text
    assert "No OpenLineage run of this product has been reported" in text(section(page, "observed-lineage"))
    ports = text(section(page, "ports"))
    assert "postgres://warehouse.roche.example:5432/commercial.hcp360.profiles" in ports  # the API publishes it


def test_after_a_run_the_page_shows_it_and_the_drift(client: TestClient) -> None:
    answer = client.post(
        "/api/v1/lineage", content=recent("hcp-360-run.json"), headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 201
    page = client.get(HCP_360, headers=HTML).text
    observed = section(page, "observed-lineage")
    words = text(observed)
    assert "Runs seen 1 (0 failed or aborted); 1 in the last 30 days" in words
    assert "Last run airflow://commercial/hcp_360.build_profiles : COMPLETE, started" in words
    assert (
        "Read by its runs but declared on no input port: postgres://warehouse.roche.example:5432/commercial.web.sessions"
        in words
    )
    unobserved = dict(re.findall(r'<a href="([^"]*)">([^<]*)</a>', observed))
    assert unobserved == {
        "/data-product/hcp-360/port/f2f-in": "Face-to-face meetings",
        "/data-product/hcp-360/port/master-data-in": "HCP master data",
    }
    assert "style=" not in observed and "<script" not in observed  # the page's CSP allows neither inline
