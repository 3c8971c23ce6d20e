"""The inline executor runs only on the Strawberry and graphql-core releases it was tested against, and
pyproject.toml pins exactly those: an upgrade of either fails here before it can change answers."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from server.graphql import execution
from server.graphql.execution import TESTED_VERSIONS, release_is_tested, supported

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def _dotted(release: tuple[int, ...]) -> str:
    return ".".join(map(str, release))


def test_the_installed_releases_are_the_tested_ones() -> None:
    assert supported(), "Strawberry or graphql-core is outside execution.TESTED_VERSIONS: test the inline executor"


def test_pyproject_pins_the_tested_ranges() -> None:
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    for distribution, (lowest, untested) in TESTED_VERSIONS.items():
        pins = [d for d in dependencies if d.split("[")[0].split(">")[0].split("<")[0].strip() == distribution]
        assert len(pins) == 1, distribution
        assert pins[0].endswith(f">={_dotted(lowest)},<{_dotted(untested)}"), pins[0]


@pytest.mark.parametrize(
    ("distribution", "release", "expected"),
    [
        ("strawberry-graphql", "0.341.2", True),
        ("strawberry-graphql", "0.341.9", True),
        ("strawberry-graphql", "0.341.1", False),
        ("strawberry-graphql", "0.342.0", False),
        ("strawberry-graphql", "1.0.0", False),
        ("graphql-core", "3.3.2", True),
        ("graphql-core", "3.3.10", True),
        ("graphql-core", "3.3.0", False),
        ("graphql-core", "3.3.3rc1", False),
        ("graphql-core", "3.4.0", False),
        ("graphql-core", "3.2.6", False),
    ],
)
def test_only_releases_in_the_tested_ranges_are_supported(distribution: str, release: str, expected: bool) -> None:
    assert release_is_tested(distribution, release) is expected


def test_another_release_falls_back_to_the_stock_executor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        execution, "version", lambda distribution: "0.342.0" if distribution.startswith("s") else "3.3.2"
    )
    assert not supported()
