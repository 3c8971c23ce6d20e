"""Reading the UI's pages as a person reads them, for HTTP tests: the text of a table's rows, of a list, the data of a
page's picture. The standard library's HTML parser only: what a page says, not how its markup happens to look."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any


@dataclass
class _Cell:
    text: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)


class _Tables(HTMLParser):
    """Every table with a class: its body rows as cells (text with whitespace collapsed, and the hrefs inside)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[_Cell]]] = {}
        self.headers: dict[str, list[dict[str, str]]] = {}
        self._table: str | None = None
        self._section = ""
        self._row: list[_Cell] | None = None
        self._cell: _Cell | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "table" and a.get("class"):
            self._table = a["class"]
            self.tables[self._table] = []
            self.headers[self._table] = []
        elif self._table is None:
            return
        elif tag in ("thead", "tbody"):
            self._section = tag
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = _Cell()
            if self._section == "thead":
                self.headers[self._table].append(a)
        elif tag == "a" and self._cell is not None:
            self._cell.links.append(a.get("href", ""))

    def handle_endtag(self, tag: str) -> None:
        if self._table is None:
            return
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(self._cell)
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._section == "tbody":
                self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.text.append(data)


def _text(cell: _Cell) -> str:
    return re.sub(r"\s+", " ", "".join(cell.text)).strip()


def table_rows(page: str, table_class: str) -> list[list[str]]:
    """The body rows of the table of that class, each a list of its cells' text."""
    parser = _Tables()
    parser.feed(page)
    return [[_text(cell) for cell in row] for row in parser.tables[table_class]]


def table_links(page: str, table_class: str) -> list[list[list[str]]]:
    """The body rows of the table of that class, each a list of its cells' links."""
    parser = _Tables()
    parser.feed(page)
    return [[cell.links for cell in row] for row in parser.tables[table_class]]


def header_attributes(page: str, table_class: str) -> list[dict[str, str]]:
    parser = _Tables()
    parser.feed(page)
    return parser.headers[table_class]


def picture(page: str, data_id: str) -> dict[str, Any]:
    """The graph a page gives graph.js to draw (its JSON block, or the hidden element a swapped picture uses)."""
    found = re.search(
        rf'<(script type="application/json"|div hidden) id="{re.escape(data_id)}"[^>]*>(.*?)</', page, re.S
    )
    assert found is not None, f"no picture data {data_id} on the page"
    return json.loads(found.group(2))  # type: ignore[no-any-return]


def text(page: str) -> str:
    """What the page says, markup and picture data left out."""
    body = re.sub(r"<script\b.*?</script>", " ", page, flags=re.S)
    parser = _Text()
    parser.feed(body)
    return re.sub(r"\s+", " ", "".join(parser.parts)).strip()


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def list_items(page: str, list_class: str) -> list[str]:
    """The text of each item of the list of that class (a flat list)."""
    found = re.search(rf'<ul class="{re.escape(list_class)}">(.*?)</ul>', page, re.S)
    assert found is not None, f"no list {list_class} on the page"
    return [text(item) for item in re.findall(r"<li\b[^>]*>(.*?)</li>", found.group(1), re.S)]
