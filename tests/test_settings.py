"""Settings come from VALUEMESH_* variables; a bad value is a clear message, not a traceback."""

from __future__ import annotations

import pytest

from server.errors import BadInput
from server.settings import Settings


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VALUEMESH_SPARQL_TIMEOUT", "2.5")
    monkeypatch.setenv("VALUEMESH_MAX_PAGE_SIZE", "40")
    monkeypatch.setenv("VALUEMESH_SLO_SUMMARY_INTERVAL", "0.5")
    settings = Settings.from_env()
    assert settings.sparql_timeout_s == 2.5
    assert settings.max_page_size == 40
    assert settings.slo_summary_interval_s == 0.5


@pytest.mark.parametrize("value", ["abc", "-1", "0"])
def test_a_bad_limit_is_refused_by_name(monkeypatch: pytest.MonkeyPatch, cli, value: str) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("VALUEMESH_SPARQL_MAX_ROWS", value)
    with pytest.raises(BadInput, match="VALUEMESH_SPARQL_MAX_ROWS"):
        Settings.from_env()
    result = cli("query", "ASK {}", "--store", "memory:")
    assert result.exit_code == 2
    assert "VALUEMESH_SPARQL_MAX_ROWS" in result.stderr
