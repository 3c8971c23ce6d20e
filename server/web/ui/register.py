"""`/register`: paste or upload a descriptor, preview what would be stored and what the checklist says, then store it.

- `GET /register` is the form; `?product=<IRI>` fills it with that product's record as Turtle, for editing.
- `POST /register/preview` judges the document through the write path as a dry run (nothing is committed). htmx
  posts the form here and swaps the answer into the page; without JavaScript the whole page comes back.
- `POST /register/store` stores it through the same path as `registerDataProduct`, as the caller
  (`request.state.principal`), so the policy decides; then the browser goes to the product's page.

A store is a write a browser makes with its ambient credentials, so it must prove it comes from this catalog's own
page: with browser sessions, the session's CSRF token; without them, the `Origin` (or `Sec-Fetch-Site`) of this
catalog. A request with an `Authorization` header carries credentials a browser never adds on its own, so it needs
neither; any request naming another origin is refused all the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from server.errors import BadInput, Conflict, Forbidden, NotFound, Unauthenticated, ValidationRefused, ValuemeshError
from server.identity.principal import Principal
from server.web.linked_data import CatalogLinks
from server.web.sessions import check_csrf
from server.web.ui import descriptor
from server.web.ui.context import catalog_of, visibility_of
from server.web.ui.descriptor import FORMAT_CHOICES, MAX_DOCUMENT_BYTES, Preview
from server.web.ui.templating import principal_of, render

router = APIRouter()


class _Entered:
    """The form as the person filled it: the text (typed, pasted or read from the chosen file) and the format."""

    def __init__(self, text: str = "", fmt: str = "detect", filename: str | None = None) -> None:
        self.text = text
        self.format = fmt
        self.filename = filename


async def _form(request: Request) -> FormData:
    """The posted form, read once (Starlette keeps it); BadInput for a body that is no usable form."""
    # Parts as large as the request body may be, so an oversized descriptor meets checked_text's clear message.
    limit = catalog_of(request).settings.max_body_bytes
    try:
        return await request.form(max_part_size=limit)
    except (HTTPException, MultiPartException) as error:  # a malformed multipart body
        raise BadInput(f"the form could not be read: {getattr(error, 'detail', error)}", source="document") from None


async def _entered(request: Request) -> _Entered:
    """The descriptor as the form carries it; BadInput for one that cannot be used (too large, not text, unknown
    format, empty)."""
    form = await _form(request)
    fmt = str(form.get("format") or "detect")
    if fmt not in {choice for choice, _ in FORMAT_CHOICES}:
        raise BadInput(f"unknown format {fmt!r}; choose one of the list", source="format")
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read(MAX_DOCUMENT_BYTES + 1)
        return _Entered(descriptor.checked_text(data, f"the file {upload.filename}"), fmt, upload.filename)
    text = str(form.get("document") or "")
    return _Entered(descriptor.checked_text(text.encode("utf-8", "surrogatepass"), "the document"), fmt)


@dataclass(frozen=True)
class Problem:
    """An error as the page shows it: what is wrong and where (the line and column of the document)."""

    message: str
    line: int | None = None
    column: int | None = None
    code: str = "BAD_INPUT"

    @staticmethod
    def of(error: ValuemeshError) -> Problem:
        if isinstance(error, BadInput):
            return Problem(error.detail, error.line, error.column, error.code)
        return Problem(str(error), code=error.code)


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _page(request: Request, status: int = 200, **context: Any) -> HTMLResponse:
    values: dict[str, Any] = {
        "entered": _Entered(),
        "preview": None,
        "error": None,
        "editing": None,
        "stored": None,
        "formats": FORMAT_CHOICES,
        "max_bytes": MAX_DOCUMENT_BYTES,
        "can_write": _may_write(principal_of(request)),
    }
    values.update(context)
    if isinstance(values["error"], ValuemeshError):
        values["error"] = Problem.of(values["error"])
    if _is_htmx(request) and request.method == "POST":
        # htmx swaps only 2xx answers into the page: the preview's outcome is told by the fragment itself
        return render(request, "register_result.html", **values)
    return render(request, "register.html", status_code=status, **values)


def _may_write(principal: Principal) -> bool:
    return principal.via != "anonymous"


@router.get("/register", response_class=HTMLResponse)
async def register_form(request: Request, product: str | None = None, stored: str | None = None) -> HTMLResponse:
    catalog = catalog_of(request)
    visibility = await visibility_of(request)
    if stored and not visibility.hidden(stored):
        # Where a store lands when the product's IRI is not under this server's base (so it has no page here)
        named = await catalog.run(descriptor.product_name, catalog.store, stored)
        if named is not None:
            return _page(request, stored=descriptor.Named(stored, named))
    if not product:
        return _page(request)
    text = (
        None
        if visibility.hidden(product)
        else await catalog.run(descriptor.product_turtle, catalog.store, product, catalog.settings.base)
    )
    if text is None:
        error = BadInput(f"the catalog has no data product {product} to edit", source="product")
        return _page(request, status=404, error=error)
    return _page(request, entered=_Entered(text, "TURTLE"), editing=product)


async def _preview(request: Request, entered: _Entered) -> Preview:
    catalog = catalog_of(request)
    fmt = entered.format if entered.format != "detect" else descriptor.detect_format(entered.text, entered.filename)
    return await catalog.run(
        descriptor.preview, catalog.store, entered.text, fmt, catalog.settings.base, principal_of(request)
    )


@router.post("/register/preview", response_class=HTMLResponse)
async def register_preview(request: Request) -> HTMLResponse:
    """A dry run: what would be stored, and the checklist's verdict. Nothing is written, whoever asks."""
    entered = _Entered()
    try:
        entered = await _entered(request)
        shown = await _preview(request, entered)
    except BadInput as error:
        return _page(request, status=400, entered=entered, error=error)
    except (Conflict, NotFound) as error:  # e.g. a port the document claims belongs to another product
        return _page(request, status=409, entered=entered, error=error)
    return _page(request, entered=entered, preview=shown)


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _refuse_other_sites(request: Request) -> None:
    """Forbidden unless the form was posted by this catalog's own page (see the module's docstring).

    The catalog's pages say `Referrer-Policy: no-referrer`, under which a browser posts a form with `Origin: null`;
    `Sec-Fetch-Site` (sent by every current browser, never settable by a page) then tells where the form was."""
    origin = request.headers.get("origin")
    fetch_site = request.headers.get("sec-fetch-site")
    ours = {_origin_of(str(request.base_url)), _origin_of(catalog_of(request).settings.base)}
    if origin not in (None, "null") and origin.lower() not in ours:
        raise Forbidden(f"a form posted from another site ({origin}) may not store anything here")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        raise Forbidden(f"a form posted from another site (Sec-Fetch-Site: {fetch_site}) may not store anything here")
    if request.headers.get("authorization") is not None:
        return  # a program's credentials, never sent by a browser on its own
    if "session" in request.scope:
        return  # the CSRF token is checked with the form
    if origin in (None, "null") and fetch_site != "same-origin":
        raise Forbidden("the form must be posted from this catalog's register page (its origin is not known)")


@router.post("/register/store", response_model=None)
async def register_store(request: Request) -> Response:
    entered = _Entered()
    try:
        _refuse_other_sites(request)
        if "session" in request.scope and request.headers.get("authorization") is None:
            form = await _form(request)
            check_csrf(request, str(form.get("csrf") or "") or None)
        entered = await _entered(request)
    except Forbidden as error:
        return _page(request, status=403, entered=entered, error=error)
    except BadInput as error:
        return _page(request, status=400, entered=entered, error=error)
    principal = principal_of(request)
    if not _may_write(principal):
        refusal = Forbidden("storing needs an identity: sign in (or use an API token); nothing was stored")
        return _page(request, status=403, entered=entered, error=refusal)
    catalog = catalog_of(request)
    try:
        fmt = entered.format if entered.format != "detect" else descriptor.detect_format(entered.text, entered.filename)
        stored = await catalog.run(
            partial(descriptor.store_document, actor=principal),
            catalog.store,
            entered.text,
            fmt,
            catalog.settings.base,
        )
    except BadInput as error:
        return _page(request, status=400, entered=entered, error=error)
    except (Forbidden, Unauthenticated) as error:
        return _page(request, status=403, entered=entered, error=error)
    except (Conflict, NotFound) as error:
        return _page(request, status=409, entered=entered, error=error)
    except ValidationRefused:
        # The checklist refused it (the catalog changed since the preview, or the form was posted without one)
        shown = await _preview(request, entered)
        return _page(request, status=422, entered=entered, preview=shown)
    target = CatalogLinks(catalog.settings.base).local_href(stored)
    if target is None or not target.startswith("/"):
        target = "/register?" + urlencode({"stored": stored})  # an IRI outside this server: never sent there
    return RedirectResponse(target, status_code=303)
