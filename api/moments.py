"""Moments as people write them, the same in a query and on the command line.

ISO 8601 with a timezone (`2026-03-16T09:30:00+01:00`, `...Z`), or a date alone
where a day is meant: `since=2026-03-01` from the start of that day, `until=`
before the next one, `as_of=` and `known_at=` through its end (UTC days). A time
without a timezone is refused everywhere with the same words: a server cannot
guess the zone it was written in. A number is refused too, not read as Unix time.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from typing import Any

from domain.limits import time_problem

NEEDS_ZONE = "needs a timezone (e.g. 2026-01-31T10:00:00Z)"
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")
_LAST = dt.timedelta(days=1, microseconds=-1)


class Day(enum.Enum):
    """What a date alone stands for, or that it is not enough (a business time)."""

    START = "from the start of that day"
    THROUGH = "through the end of that day"
    BEFORE = "up to the end of that day"
    REFUSED = ""


def moment(value: Any, day: Day = Day.REFUSED) -> dt.datetime:
    """`value` as a moment in the range phaselog accepts; ValueError saying why not."""
    if isinstance(value, dt.datetime):
        found = value
    elif isinstance(value, str):
        found = _parsed(value.strip(), day)
    elif isinstance(value, int | float):
        raise ValueError("must be an ISO 8601 time with a timezone, not a number")
    else:
        raise ValueError("must be an ISO 8601 time with a timezone")
    problem = time_problem(found)
    if problem is not None:
        raise ValueError(problem)
    return found


def _parsed(text: str, day: Day) -> dt.datetime:
    if _DAY.fullmatch(text):
        if day is Day.REFUSED:
            raise ValueError(f"{NEEDS_ZONE}: a date alone is not a time")
        start = dt.datetime.combine(_date(text), dt.time(), dt.UTC)
        if day is Day.START or time_problem(start) is not None:
            return start  # a day out of range is refused as such by the caller
        return start + (_LAST if day is Day.THROUGH else dt.timedelta(days=1))
    if _NUMBER.fullmatch(text):
        raise ValueError("must be an ISO 8601 time with a timezone, not a number")
    try:
        found = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 time") from None
    if found.tzinfo is None or found.utcoffset() is None:
        raise ValueError(NEEDS_ZONE)
    return found


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date") from None
