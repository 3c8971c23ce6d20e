"""A checked OpenLineage run event, reduced to what the catalog keeps of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from server.formats.description import DatasetName
from server.openlineage.validation import VALUEMESH_FACET

# Event types that end a run, and those of them that end it badly.
FINAL = frozenset({"COMPLETE", "FAIL", "ABORT"})
FAILED = frozenset({"FAIL", "ABORT"})


@dataclass(frozen=True)
class RunEvent:
    """One run event: the run, its job, the transition, when, and the datasets it read and wrote."""

    run_id: str
    event_type: str
    event_time: datetime  # in UTC
    job: DatasetName  # a job is named like a dataset: namespace + name
    inputs: tuple[DatasetName, ...]
    outputs: tuple[DatasetName, ...]
    explicit_product: str | None  # the `valuemesh` run facet's dataProduct
    document: dict[str, Any] = field(compare=False, repr=False)  # the event as sent (facets feed measurements)

    @property
    def time_text(self) -> str:
        """The event time as stored and as part of the event's key: UTC, microseconds, `Z`."""
        return self.event_time.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _datasets(entries: list[dict[str, Any]] | None) -> tuple[DatasetName, ...]:
    return tuple(sorted({DatasetName(e["namespace"], e["name"]) for e in entries or []}))


def run_event(document: dict[str, Any]) -> RunEvent:
    """The run event of a document validation.check_event accepted as a RunEvent."""
    run = document["run"]
    facet = (run.get("facets") or {}).get(VALUEMESH_FACET) or {}
    return RunEvent(
        run_id=run["runId"].lower(),
        event_type=document.get("eventType") or "OTHER",
        event_time=datetime.fromisoformat(document["eventTime"]).astimezone(UTC),
        job=DatasetName(document["job"]["namespace"], document["job"]["name"]),
        inputs=_datasets(document.get("inputs")),
        outputs=_datasets(document.get("outputs")),
        explicit_product=facet.get("dataProduct"),
        document=document,
    )


__all__ = ["FAILED", "FINAL", "RunEvent", "run_event"]
