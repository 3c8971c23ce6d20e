"""OpenLineage event fixtures (tests/data/openlineage/) as the tests send them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.conftest import DATA

EVENTS = DATA / "openlineage"


def body(name: str) -> bytes:
    return (EVENTS / name).read_bytes()


def recent(name: str) -> bytes:
    """A fixture's events moved to yesterday (same spacing), so they fall in the drift window whenever tests run."""
    return aged(name, days=1)


def aged(name: str, days: float) -> bytes:
    """A fixture's events moved to start `days` ago (same spacing)."""
    events = json.loads(body(name))
    events = events if isinstance(events, list) else [events]
    first = min(datetime.fromisoformat(e["eventTime"]) for e in events)
    shift = datetime.now(UTC) - timedelta(days=days) - first
    for event in events:
        event["eventTime"] = (datetime.fromisoformat(event["eventTime"]) + shift).isoformat()
    return json.dumps(events).encode()
