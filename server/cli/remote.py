"""The CLI against a running catalog (`--server URL`): GraphQL over HTTP with an API token (`VALUEMESH_TOKEN`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from server.cli.common import EXIT_UNUSABLE, EXIT_VIOLATIONS, stderr, stdout
from server.errors import BadInput

# httpx and the descriptor formats are imported where they are used: only a command run with --server needs them,
# and they take a quarter of a second to import, which `valuemesh load FILE` into a local store has no use for.

ServerOption = Annotated[
    str | None,
    typer.Option(
        "--server",
        envvar="VALUEMESH_SERVER",
        help="A running catalog's URL (e.g. https://catalog.example.org): write through its API instead of a store "
        "on this machine, identified by the API token in VALUEMESH_TOKEN.",
        show_default=False,
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="VALUEMESH_TOKEN",
        help="The API token sent to --server (better given as VALUEMESH_TOKEN than on the command line).",
        show_default=False,
    ),
]

REGISTER = """mutation Register($document: String!) {
  registerDataProduct(document: $document, format: YAML) {
    __typename
    ... on DataProduct { id name }
    ... on RegistrationRefused { report { results { severity message focusNode path } } }
  }
}"""


def post_graphql(server: str, token: str | None, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """One GraphQL operation; errors of transport and of the API become BadInput / exit codes here."""
    import httpx

    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    url = server.rstrip("/") + "/graphql"
    try:
        response = httpx.post(url, json={"query": query, "variables": variables}, headers=headers, timeout=120)
    except httpx.HTTPError as error:
        raise BadInput(f"cannot reach the catalog at {url}: {error}") from None
    try:
        answer: dict[str, Any] = response.json()
    except ValueError:
        raise BadInput(f"{url} answered {response.status_code} without JSON; is it a valuemesh server?") from None
    errors = answer.get("errors") or []
    if errors:
        first = errors[0]
        code = (first.get("extensions") or {}).get("code", "ERROR")
        hint = (
            " (set VALUEMESH_TOKEN to an API token of the catalog)" if code == "UNAUTHENTICATED" and not token else ""
        )
        stderr.print(f"[bold red]error:[/] {code}: {first.get('message')}{hint}", highlight=False)
        raise typer.Exit(EXIT_UNUSABLE)
    return answer.get("data") or {}


def register_remotely(server: str, token: str | None, paths: list[Path]) -> None:
    """Each descriptor file registered through the server's GraphQL API, one product per request, in order; the
    first refusal stops the run (products registered before it stay registered)."""
    from server.formats.conversion import descriptor_files

    named, found = descriptor_files(paths)
    files = named + found
    if not files:
        raise BadInput("no descriptor files (.yaml, .yml, .json) found in " + ", ".join(map(str, paths)))
    for number, path in enumerate(files, 1):
        data = post_graphql(server, token, REGISTER, {"document": path.read_text(encoding="utf-8")})
        result = data["registerDataProduct"]
        if result["__typename"] == "RegistrationRefused":
            violations = [r for r in result["report"]["results"] if r["severity"] == "VIOLATION"]
            stderr.print(
                f"[bold red]refused:[/] {path}: {len(violations)} checklist violation(s); it was not stored"
                + (f" ({number - 1} file(s) before it were)" if number > 1 else ""),
                highlight=False,
            )
            for violation in violations:
                where = f" ({violation['path']})" if violation.get("path") else ""
                stderr.print(f"  - {violation['focusNode']}: {violation['message']}{where}", highlight=False)
            raise typer.Exit(EXIT_VIOLATIONS)
        stdout.print(f"stored    {result['id']}", highlight=False)
    stderr.print(f"registered {len(files)} product descriptor(s) at {server}", highlight=False)


def load_remotely(server: str, token: str | None, nquads: Path) -> dict[str, Any]:
    """A batch (read and checked here) sent to the server's load endpoint as N-Quads, streamed from the file."""
    import httpx

    headers = {"Content-Type": "application/n-quads", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    url = server.rstrip("/") + "/api/v1/load"
    try:
        with nquads.open("rb") as body:
            response = httpx.post(url, content=_chunks(body), headers=headers, timeout=None)
    except httpx.HTTPError as error:
        raise BadInput(f"cannot reach the catalog at {url}: {error}") from None
    try:
        answer: dict[str, Any] = response.json()
    except ValueError:
        raise BadInput(f"{url} answered {response.status_code} without JSON; is it a valuemesh server?") from None
    if response.status_code == 422 and "violations" in answer:
        stderr.print(f"[bold red]refused:[/] {answer['detail']}", highlight=False)
        for violation in answer["violations"]:
            where = f" ({violation['path']})" if violation.get("path") else ""
            stderr.print(f"  - {violation['focusNode']}: {violation['message']}{where}", highlight=False)
        raise typer.Exit(EXIT_VIOLATIONS)
    if response.status_code != 200:
        code = answer.get("code", response.status_code)
        hint = (
            " (set VALUEMESH_TOKEN to an API token of the catalog)" if response.status_code == 401 and not token else ""
        )
        stderr.print(f"[bold red]error:[/] {code}: {answer.get('detail')}{hint}", highlight=False)
        raise typer.Exit(EXIT_UNUSABLE)
    return answer


def _chunks(body: Any, size: int = 1 << 20) -> Any:
    while chunk := body.read(size):
        yield chunk
