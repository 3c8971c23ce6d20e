"""An organisation's shapes that passed the start checks are not judged again while no byte of them changes; a
changed file is judged again and refused with its reasons, and a cache that cannot be used is simply ignored."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from server.governance import sources
from server.governance.sources import ShapesRefused, load_shapes
from server.governance.verdicts import CACHE_NAME
from tests.conftest import DATA

SHAPES = DATA / "shapes"
ORGANISATION = SHAPES / "organisation-rules.ttl"


def _validate_with(rules: Path) -> set[str]:
    """`valuemesh validate` with the packaged shapes and `rules`, as a user runs it: the modules it imported."""
    command = [sys.executable, "-X", "importtime", "-m", "server.cli.main", "validate"]
    done = subprocess.run(
        [*command, "--shapes", "builtin", "--shapes", str(rules), str(DATA / "conforming-product.ttl")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr[-2000:]
    return {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}


def _remembered(cache_home: Path) -> list[str]:
    return list(json.loads((cache_home / "valuemesh" / CACHE_NAME).read_text())["passed"])


def test_unchanged_shapes_are_not_judged_again(tmp_path: Path, own_cache_home: Path) -> None:
    rules = tmp_path / "rules.ttl"
    rules.write_bytes(ORGANISATION.read_bytes())
    assert "pyshacl" in _validate_with(rules)  # judged against SHACL-for-SHACL at the first start
    assert len(_remembered(own_cache_home)) == 1
    imported = _validate_with(rules)
    assert "pyshacl" not in imported and "rdflib.plugins.sparql.parser" not in imported
    rules.write_bytes(ORGANISATION.read_bytes() + b"\n# a comment is a change too\n")
    assert "pyshacl" in _validate_with(rules)


@pytest.mark.parametrize(
    ("bad", "said"),
    [
        ("not-shacl.ttl", ["shape org:owner-count", "not valid SHACL", "sh:minCount", "xsd:integer"]),
        ("sparql-with-service.ttl", ["shape org:RegistryShape", "uses SERVICE"]),
    ],
)
def test_a_changed_file_is_judged_again_and_refused(tmp_path: Path, bad: str, said: list[str]) -> None:
    rules = tmp_path / "rules.ttl"
    rules.write_bytes(ORGANISATION.read_bytes())
    load_shapes(["builtin", str(rules)])
    rules.write_bytes((SHAPES / bad).read_bytes())  # same name, other bytes
    with pytest.raises(ShapesRefused) as refused:
        load_shapes(["builtin", str(rules)])
    for part in [str(rules), *said]:
        assert part in str(refused.value), str(refused.value)


def test_a_remembered_file_beside_a_new_bad_one_is_refused(tmp_path: Path) -> None:
    load_shapes(["builtin", str(ORGANISATION)])
    with pytest.raises(ShapesRefused, match=r"not-shacl\.ttl: shape org:owner-count: not valid SHACL"):
        load_shapes(["builtin", str(ORGANISATION), str(SHAPES / "not-shacl.ttl")])


def test_a_refusal_is_not_remembered(own_cache_home: Path) -> None:
    for _ in range(2):
        with pytest.raises(ShapesRefused, match="not valid SHACL: sh:minCount"):
            load_shapes(["builtin", str(SHAPES / "not-shacl.ttl")])
    assert not (own_cache_home / "valuemesh" / CACHE_NAME).exists()


def test_a_cache_that_cannot_be_read_or_written_is_ignored(
    tmp_path: Path, own_cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = own_cache_home / "valuemesh" / CACHE_NAME
    cache.parent.mkdir()
    cache.write_text("{ not json")
    expected = len(load_shapes(["builtin", str(ORGANISATION)]).checks)
    assert len(_remembered(own_cache_home)) == 1  # the unreadable cache was replaced
    cache.write_text('{"passed": "not a list"}')
    with pytest.raises(ShapesRefused, match="not valid SHACL"):
        load_shapes(["builtin", str(SHAPES / "not-shacl.ttl")])

    not_a_directory = tmp_path / "cache-home"
    not_a_directory.write_text("a file where the cache directory would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(not_a_directory))
    assert len(load_shapes(["builtin", str(ORGANISATION)]).checks) == expected
    with pytest.raises(ShapesRefused, match="not valid SHACL"):
        load_shapes(["builtin", str(SHAPES / "not-shacl.ttl")])


def test_shapes_that_passed_are_remembered_compiled_and_a_change_compiles_them_again(
    tmp_path: Path, own_cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = tmp_path / "rules.ttl"
    rules.write_bytes(ORGANISATION.read_bytes())
    first = load_shapes(["builtin", str(rules)])
    assert list((own_cache_home / "valuemesh").glob("shapes-*.pickle"))

    def compiled_again(graph: object) -> None:
        raise AssertionError("compiled again")

    with monkeypatch.context() as patched:
        patched.setattr(sources, "shapes_from_graph", compiled_again)
        again = load_shapes(["builtin", str(rules)])
    assert again.checks == first.checks and again.items == first.items

    # The same bytes under a changed message: compiled afresh, and the new message is the one in force.
    message = "a data product needs at least one keyword (dcat:keyword) so people can find it"
    assert message in {check.message for check in first.checks}
    rules.write_text(rules.read_text(encoding="utf-8").replace(message, "said otherwise"), encoding="utf-8")
    changed = load_shapes(["builtin", str(rules)])
    messages = {check.message for check in changed.checks}
    assert "said otherwise" in messages and message not in messages

    # A file the checks refuse is refused every time, never served from what was remembered before.
    rules.write_bytes((SHAPES / "not-shacl.ttl").read_bytes())
    for _ in range(2):
        with pytest.raises(ShapesRefused, match="not valid SHACL"):
            load_shapes(["builtin", str(rules)])
