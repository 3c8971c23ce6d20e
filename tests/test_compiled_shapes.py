"""The packaged shapes compiled at one start are used at the next while no byte of them (or of valuemesh) changes; a
changed file is compiled afresh, and a cache that cannot be used is simply ignored."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from server.governance.compiled_shapes import CACHE_NAME, compiled_key, remembered
from server.governance.shapes import Shapes, read_shapes
from server.resources import shape_files

OWNER_MESSAGE = "a data product needs exactly one owner (Owner / Steward)"


def _copied(tmp_path: Path) -> list[Path]:
    return [Path(shutil.copy(path, tmp_path / path.name)) for path in shape_files()]


def _texts(shapes: Shapes) -> list[str]:
    return [q.sparql(focus_in_records=False, subclasses={}, lookups=False) for q in shapes.queries]


def _compiled(files: list[Path], compiled: list[int]) -> Shapes:
    def compile_files() -> Shapes:
        compiled.append(1)
        return read_shapes(files)

    return remembered(files, compile_files, Shapes)


def test_unchanged_shapes_are_not_compiled_again(tmp_path: Path, own_cache_home: Path) -> None:
    files, compiled = _copied(tmp_path), []
    first = _compiled(files, compiled)
    assert (own_cache_home / "valuemesh" / CACHE_NAME).is_file()
    second = _compiled(files, compiled)
    assert compiled == [1]
    assert _texts(second) == _texts(first) and second.checks == first.checks and second.items == first.items
    assert set(second.graph) == set(first.graph)


def test_a_changed_byte_compiles_afresh(tmp_path: Path) -> None:
    files, compiled = _copied(tmp_path), []
    _compiled(files, compiled)
    checklist = next(path for path in files if OWNER_MESSAGE in path.read_text(encoding="utf-8"))
    checklist.write_text(checklist.read_text(encoding="utf-8").replace(OWNER_MESSAGE, "one owner, please"))
    changed = _compiled(files, compiled)
    assert compiled == [1, 1]
    messages = {check.message for check in changed.checks}
    assert "one owner, please" in messages and OWNER_MESSAGE not in messages
    assert _compiled(files, compiled).checks == changed.checks and compiled == [1, 1]


@pytest.mark.parametrize("kept", ["", "not a key\n", "{key}\nnot a pickle", "{key}\n"])
def test_a_cache_that_cannot_be_used_is_ignored(
    tmp_path: Path, own_cache_home: Path, monkeypatch: pytest.MonkeyPatch, kept: str
) -> None:
    files, compiled = _copied(tmp_path), []
    cache = own_cache_home / "valuemesh" / CACHE_NAME
    cache.parent.mkdir()
    cache.write_text(kept.format(key=compiled_key(files)))
    expected = _texts(_compiled(files, compiled))
    assert _texts(_compiled(files, compiled)) == expected and compiled == [1]  # the bad file was replaced

    not_a_directory = tmp_path / "cache-home"
    not_a_directory.write_text("a file where the cache directory would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(not_a_directory))
    assert _texts(_compiled(files, compiled)) == expected and compiled == [1, 1]
