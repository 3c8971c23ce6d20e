"""SLI points from OpenLineage run events: what a run tells about its product's service level objectives.

Pure functions: an event and the product's SLOs in, measurement points out, shaped as the items of
`POST /api/v1/measurements` (`{"slo", "time", "good", "total", "id"}`), for the measurements service to record.

- **Correctness** (an SLO whose indicator is vm:Accuracy): the `dataQualityAssertions` facet of each dataset the
  product publishes gives one point: good = assertions that passed, total = assertions.
- **Completeness** (vm:Completeness): the `dataQualityMetrics` facet of a published dataset gives one point per
  dataset: total = rows evaluated x columns with a null count, good = that minus the nulls counted.
- **Freshness** (vm:Timeliness): a run that ends is a refresh attempt: COMPLETE counts good, FAIL and ABORT bad
  (one point each). A run still going says nothing yet.

Datasets the product publishes are those its output ports declare; without that list, the event's outputs.
Each point's `id` is derived from the event and the SLO, so an event sent twice gives the same points (the
measurements service counts a point id once).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

from server.formats.description import DatasetName
from server.namespaces import VM
from server.openlineage.events import FAILED, RunEvent

CORRECTNESS = str(VM.Accuracy)
COMPLETENESS = str(VM.Completeness)
FRESHNESS = str(VM.Timeliness)


@dataclass(frozen=True)
class SloIndicator:
    """An SLO of the product and what it measures (the IRI of its vm:serviceLevelIndicator concept)."""

    slo: str
    indicator: str


def _point(slo: str, event: RunEvent, good: int, total: int, what: str) -> dict[str, Any]:
    return {
        "slo": slo,
        "time": event.time_text,
        "good": good,
        "total": total,
        "id": f"openlineage:{event.run_id}:{event.event_type}:{event.time_text}:{slo}:{what}",
    }


def _dataset_facets(event: RunEvent, name: str, published: Collection[DatasetName]) -> Iterator[tuple[DatasetName, dict[str, Any]]]:  # fmt: skip
    """The facet `name` of each published dataset of the event, wherever the event puts it (dataset facets, or the
    input/output facets: dbt reports its tests on the models it read)."""
    for side, extra in (("inputs", "inputFacets"), ("outputs", "outputFacets")):
        for dataset in event.document.get(side) or []:
            named = DatasetName(dataset["namespace"], dataset["name"])
            if named not in published:
                continue
            for holder in (dataset.get("facets") or {}, dataset.get(extra) or {}):
                facet = holder.get(name)
                if isinstance(facet, dict):
                    yield named, facet


def measurement_points(
    event: RunEvent, slos: Collection[SloIndicator], published: Collection[DatasetName] | None = None
) -> list[dict[str, Any]]:
    """The SLI points `event` gives for `slos` (see the module docstring); `published`: the datasets the product's
    output ports declare (the event's outputs when None)."""
    datasets = set(published) if published is not None else set(event.outputs)
    points: list[dict[str, Any]] = []
    for slo in sorted(slos, key=lambda s: s.slo):
        if slo.indicator == CORRECTNESS:
            for dataset, facet in _dataset_facets(event, "dataQualityAssertions", datasets):
                results = [a.get("success") is True for a in facet.get("assertions") or []]
                if results:
                    points.append(_point(slo.slo, event, sum(results), len(results), f"assertions:{dataset}"))
        elif slo.indicator == COMPLETENESS:
            for dataset, facet in _dataset_facets(event, "dataQualityMetrics", datasets):
                rows = facet.get("rowCount")
                nulls = [c["nullCount"] for c in (facet.get("columnMetrics") or {}).values() if "nullCount" in c]
                if isinstance(rows, int) and rows > 0 and nulls:
                    total = rows * len(nulls)
                    good = max(total - sum(nulls), 0)
                    points.append(_point(slo.slo, event, good, total, f"metrics:{dataset}"))
        elif slo.indicator == FRESHNESS and (event.event_type == "COMPLETE" or event.event_type in FAILED):
            good = 1 if event.event_type == "COMPLETE" else 0
            points.append(_point(slo.slo, event, good, 1, "run"))
    return points


__all__ = ["COMPLETENESS", "CORRECTNESS", "FRESHNESS", "SloIndicator", "measurement_points"]
