"""No page of the catalog loads anything from another host: every HTML page a person reaches from home (the UI's
pages, the records they link, GraphiQL, the API docs) names its scripts, stylesheets, images and frames by paths of
this server. (A link a person may follow elsewhere, `<a href>`, loads nothing and may name any host.)"""

from __future__ import annotations

from collections import deque
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from fastapi.testclient import TestClient

from server.web.linked_data import RECORD_KINDS
from server.web.ui.templating import STATIC_DIR

HTML = {"accept": "text/html"}
# Where the crawl starts: home, the faces for people that home links only in its footer or not at all, a product.
START = ("/", "/graphql", "/docs", "/data-product/hcp-360")
# Not pages: the files pages load, the sign-in redirects, the API's machine-readable description.
NOT_PAGES = ("/static/", "/auth/", "/openapi.json")
MOST_PAGES = 400  # the seed's pages number well under this; more means the crawl is following endless links
# What a browser fetches by itself when it reads the page (and `<form action>`, which the page sends data to).
LOADED = {"src", "srcset", "data", "poster", "action", "formaction", "background"}


class _Page(HTMLParser):
    """The URLs a page makes the browser load, and the links it offers."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name == "srcset":
                self.loads += [part.strip().split(" ")[0] for part in value.split(",")]
            elif name in LOADED or (name == "href" and tag in ("link", "base", "image", "use")):
                self.loads.append(value)
            elif name == "href" and tag == "a":
                self.links.append(value)


def _elsewhere(url: str) -> bool:
    """Whether a URL names a host: absolute or scheme-relative, and not data: (which is the page's own bytes)."""
    parts = urlsplit(url.strip())
    return parts.scheme not in ("", "data") or bool(parts.netloc)


def _local(page_path: str, href: str) -> str | None:
    """The path (and query) of this server a link leads to, or None for a link elsewhere or to a fragment."""
    parts = urlsplit(urljoin("http://localhost" + page_path, href.strip()))
    if parts.netloc != "localhost" or parts.path.startswith(NOT_PAGES) or "format=" in parts.query:
        return None  # elsewhere, not a page, or a record's RDF
    return parts.path + (f"?{parts.query}" if parts.query else "")


def test_no_page_loads_anything_from_another_host(client: TestClient) -> None:
    queue, seen, checked = deque(START), set(START), []
    while queue:
        path = queue.popleft()
        response = client.get(path, headers=HTML)
        if response.status_code != 200 or not response.headers["content-type"].startswith("text/html"):
            continue  # not a page (a link to RDF, a page still to come in the navigation)
        page = _Page()
        page.feed(response.text)
        elsewhere = [url for url in page.loads if _elsewhere(url)]
        assert not elsewhere, f"{path} loads from other hosts: {elsewhere}"
        checked.append(path)
        for link in page.links:
            target = _local(path, link)
            if target is not None and target not in seen:
                seen.add(target)
                queue.append(target)
        assert len(seen) < MOST_PAGES, "the crawl found more pages than the seed has: a link loops"
    assert set(START) <= set(checked)
    assert {path.split("/")[1] for path in checked} >= set(RECORD_KINDS)  # a record of every kind, reached by links


def test_graphiql_and_the_api_docs_are_vendored_with_their_licences() -> None:
    vendor = STATIC_DIR / "vendor"
    listed = (vendor / "README.md").read_text()
    for package, folder in [
        ("react", "react"),
        ("react-dom", "react-dom"),
        ("graphiql", "graphiql"),
        ("@graphiql/plugin-explorer", "graphiql-plugin-explorer"),
        ("swagger-ui-dist", "swagger-ui"),
    ]:
        assert f"| {package} |" in listed
        assert (vendor / folder / "LICENSE").is_file()
    assert (vendor / "swagger-ui" / "NOTICE").is_file()  # Apache-2.0: its NOTICE travels with it
