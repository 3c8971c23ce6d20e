"""An SLO's period (an xsd:duration such as P1D, P7D, P1M, P3M) as a rolling window ending at a given moment.

Years and months are calendar ones (P1M before 31 March is 28 or 29 February, the day clamped to the month's
length), days and smaller are fixed lengths, so "99.9 % every month" covers exactly the last month.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from server.errors import BadInput

_DURATION = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


@dataclass(frozen=True)
class Period:
    """A positive xsd:duration, split into calendar months and a fixed length."""

    text: str
    months: int
    fixed: timedelta

    def start(self, end: datetime) -> datetime:
        """Where the window of this length that ends at `end` begins."""
        return _months_before(end, self.months) - self.fixed


def parse_period(text: str) -> Period:
    """The period an SLO states; BadInput for anything but a positive xsd:duration."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise BadInput(f"{text!r} is not a positive xsd:duration such as P1D, P7D, P1M or P3M")
    part = {name: float(value) if value else 0.0 for name, value in match.groupdict().items()}
    months = int(part["years"]) * 12 + int(part["months"])
    fixed = timedelta(
        weeks=part["weeks"], days=part["days"], hours=part["hours"], minutes=part["minutes"], seconds=part["seconds"]
    )
    if months == 0 and fixed <= timedelta(0):
        raise BadInput(f"{text!r} is an empty period; an SLO's period must be longer than nothing")
    return Period(text.strip(), months, fixed)


def _months_before(moment: datetime, months: int) -> datetime:
    if months == 0:
        return moment
    index = moment.year * 12 + (moment.month - 1) - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)
