"""The measured promises in the web UI: a budget gauge per SLO on the product page, and at-risk marks on exactly the
goals GraphQL's goalsAtRisk names on the value tree."""

from __future__ import annotations

import html
import re

from tests.test_access_requests import Catalog
from tests.test_measurements_http import AVAILABILITY, GOALS_AT_RISK, MASTER_DATA, measured, statuses  # noqa: F401

HTML = {"Accept": "text/html"}


def test_the_product_page_shows_a_budget_gauge_per_slo(measured: Catalog) -> None:  # noqa: F811
    page = measured.client.get("/data-product/hcp-master-data", headers=HTML).text
    known = statuses(measured, MASTER_DATA)
    rows = re.findall(r'<tr><td><a href="(/data-product/hcp-master-data/slo/[^"]+)">.*?</tr>', page, re.S)
    assert len(rows) == len(known) == page.count("<meter ")
    section = page[page.index('<table class="slos">') : page.index("</table>", page.index('<table class="slos">'))]
    spent = section[section.index('href="/data-product/hcp-master-data/slo/availability"') :]
    left = known[AVAILABILITY]["budgetRemaining"]
    assert 'value="0"' in spent.split("</tr>")[0]  # an overspent budget shows an empty gauge
    assert f"{round(left, 1)} % · exhausted" in html.unescape(spent.split("</tr>")[0])


def test_an_unmeasured_slo_says_so(measured: Catalog) -> None:  # noqa: F811
    page = measured.client.get("/data-product/medical-inquiries", headers=HTML).text
    assert "no measurements this period" in page and "<meter " not in page


def test_the_value_tree_marks_the_goals_at_risk(measured: Catalog) -> None:  # noqa: F811
    page = measured.client.get("/value-tree", headers=HTML).text
    marked = set()
    for item in re.findall(r'<li class="goal">(.*?)(?:<ul|</li>)', page, re.S):
        link = re.search(r'<a href="([^"]+)">', item)
        if link and "at-risk-mark" in item:
            marked.add("https://valuemesh.example" + link.group(1))
    answer = measured.post("admin", GOALS_AT_RISK)["data"]["goalsAtRisk"]
    assert marked == {risk["goal"]["id"] for risk in answer}
    assert "at risk: SLO budget spent at HCP master data" in page
