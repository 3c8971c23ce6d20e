"""Measurements as clients send them (HTTP JSON, JSON Lines, CSV, OpenLineage facets), checked into points.

A batch is refused whole when any point is unusable; every unusable point is named by its index in the batch and
what is wrong with it, so a client can fix the batch in one go.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import pyoxigraph as ox

from server.errors import BadInput, BadItems
from server.observations.objectives import Objective
from server.observations.table import Point, point_key

FIELDS = frozenset({"slo", "time", "good", "total", "value", "id"})
# RFC 3339's date-time: a zone is required (Z or an offset), seconds too, fractions optional.
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?(?P<zone>[Zz]|[+-]\d{2}:\d{2})?$")
# A clock a little ahead of ours is no error; a point from the future is.
CLOCK_SKEW = timedelta(minutes=5)


class _Refused(Exception):
    """Why one point is unusable (collected, then raised as one BadItems)."""


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)) and math.isfinite(value)


def parse_time(text: Any) -> datetime:
    """An RFC 3339 date-time with its zone."""
    if not isinstance(text, str):
        raise _Refused('"time" must be an RFC 3339 date-time string, e.g. "2026-11-30T09:00:00Z"')
    try:
        # Python reads RFC 3339 itself (and a few ISO 8601 forms more); the separators below hold it to RFC 3339.
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or len(text) < 19 or text[4] != "-" or text[10] not in "Tt " or text[13] != ":":
        if _RFC3339.match(text.strip()) is None:
            raise _Refused(f'"time" {text!r} is not an RFC 3339 date-time, e.g. "2026-11-30T09:00:00Z"')
        raise _Refused(f'"time" {text!r} is no real moment')
    if moment.tzinfo is None:
        raise _Refused(f'"time" {text!r} has no zone: add Z (UTC) or an offset such as +01:00')
    return moment


def _slo(item: Mapping[str, Any], checked: set[str]) -> str:
    slo = item.get("slo")
    if not isinstance(slo, str) or not slo:
        raise _Refused('"slo" is missing: give the IRI of the SLO the point measures')
    if slo in checked:
        return slo
    try:
        ox.NamedNode(slo)
    except ValueError:
        raise _Refused(f'"slo" {slo!r} is not an IRI') from None
    if ":" not in slo:
        raise _Refused(f'"slo" {slo!r} is not an absolute IRI')
    checked.add(slo)
    return slo


def _counts(item: Mapping[str, Any], objective: Objective) -> tuple[int, int]:
    has_counts = "good" in item or "total" in item
    if "value" in item:
        if has_counts:
            raise _Refused('give either "good" and "total" or "value", not both')
        value = item["value"]
        if not _is_number(value):
            raise _Refused(f'"value" must be a number, not {value!r}')
        if not objective.has_threshold:
            raise _Refused(
                f"the SLO <{objective.iri}> defines no threshold (vm:goodAtMost or vm:goodAtLeast), so a point "
                'for it needs "good" and "total" counts, not a "value"'
            )
        return (1 if objective.counts_as_good(float(value)) else 0), 1
    if not has_counts:
        raise _Refused('"good" and "total" are missing (or give "value" for an SLO with a threshold)')
    for name in ("good", "total"):
        if name not in item:
            raise _Refused(f'"{name}" is missing')
        if not _is_integer(item[name]):
            raise _Refused(f'"{name}" must be a whole number, not {item[name]!r}')
        if item[name] < 0:
            raise _Refused(f'"{name}" is negative ({item[name]})')
    good, total = int(item["good"]), int(item["total"])
    if good > total:
        raise _Refused(f'"good" ({good}) is more than "total" ({total})')
    return good, total


def _point_id(item: Mapping[str, Any]) -> str | None:
    if "id" not in item or item["id"] is None:
        return None
    value = item["id"]
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise _Refused(f'"id" must be a non-empty string, not {value!r}')
    return str(value)


def _slo_problems(slos: set[str]) -> dict[str, str]:
    """Why some of these SLO strings are no IRI (asked once per distinct string, not per point)."""
    problems: dict[str, str] = {}
    for slo in slos:
        try:
            _slo({"slo": slo}, set())
        except _Refused as reason:
            problems[slo] = str(reason)
    return problems


def _moment_ms(text: Any, now: datetime, oldest: datetime) -> int:
    """A point's time, checked (RFC 3339 with its zone, not in the future, within the retention), in ms."""
    moment = parse_time(text)
    if moment > now + CLOCK_SKEW:
        raise _Refused(f'"time" {text!r} is in the future')
    if moment < oldest:
        raise _Refused(f'"time" {text!r} is older than the retention (kept from {oldest.isoformat()})')
    return round(moment.timestamp() * 1000)


def checked_points(
    batch: Any,
    lookup: Callable[[list[str]], Mapping[str, Objective]],
    *,
    now: datetime,
    oldest: datetime,
    max_points: int,
) -> tuple[list[Point], dict[str, Objective]]:
    """The points of a batch and the SLOs they measure, or BadItems naming every unusable point.

    `lookup` answers which of some SLO IRIs a stored product promises; `oldest` is the retention's horizon.
    What points share is checked once per batch (the SLOs, asked together; each distinct time string, since a
    collector sends many SLOs' points at the same moment); each point then costs a few dict lookups (the
    50,000 points/s of bench/bench_measurements.py). A point's first problem is the one named, in the order
    shape, SLO, time, counts, id."""
    if not isinstance(batch, Sequence) or isinstance(batch, str | bytes):
        raise BadInput('"measurements" must be a list of points')
    if len(batch) > max_points:
        raise BadInput(
            f"a batch holds at most {max_points} measurements (VALUEMESH_MAX_MEASUREMENTS), this one {len(batch)}: "
            "send it in smaller batches"
        )
    if not batch:
        raise BadInput('"measurements" is empty: send at least one point')
    named = {iri for item in batch if type(item) is dict and type(iri := item.get("slo")) is str and iri}
    problems_of_slo = _slo_problems(named)
    known = dict(lookup(sorted(named - problems_of_slo.keys())))
    times: dict[str, int] = {}  # each distinct, usable time string, in ms
    problems: list[tuple[int, str]] = []
    points: list[Point] = []
    append = points.append
    for index, item in enumerate(batch):
        try:
            if type(item) is not dict:
                raise _Refused("a point must be an object with slo, time and good/total or value")
            if not item.keys() <= FIELDS:
                unknown = sorted(item.keys() - FIELDS)
                raise _Refused(f"unknown field {unknown[0]!r}; a point has {', '.join(sorted(FIELDS))}")
            slo: Any = item.get("slo")  # a str once checked below
            objective = known.get(slo) if type(slo) is str else None
            if objective is None:
                if type(slo) is not str or not slo:
                    raise _Refused('"slo" is missing: give the IRI of the SLO the point measures')
                raise _Refused(
                    problems_of_slo.get(slo) or f"unknown SLO <{slo}>: no data product in the catalog promises it"
                )
            text: Any = item.get("time")
            time_ms = times.get(text) if type(text) is str else None
            if time_ms is None:
                if "time" not in item:
                    raise _Refused('"time" is missing: give when the point was measured, RFC 3339 with a zone')
                time_ms = times[text] = _moment_ms(text, now, oldest)  # a str: parse_time refuses others
            good = item.get("good")
            total = item.get("total")
            if not (type(good) is int and type(total) is int and 0 <= good <= total and "value" not in item):
                good, total = _counts(item, objective)
            point_id = item.get("id")
            key = "" if point_id is None else point_key(time_ms, _point_id(item))
            append(Point(slo, time_ms, key, good, total))
        except _Refused as reason:
            problems.append((index, str(reason)))
    if problems:
        raise BadItems("measurement", problems)
    return points, known
