"""How SQLite keeps UUIDs and times: as text, times in UTC of fixed width.

Fixed-width UTC text compares as the times do, so SQLite's indexes and
comparisons on it order times as PostgreSQL's timestamptz does.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


def bind(value: Any) -> Any:
    """A value as SQLite keeps it."""
    if isinstance(value, dt.datetime):
        return utc_text(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def row_binder(
    uuids: Sequence[int], times: Sequence[int]
) -> Callable[[Sequence[Any]], Sequence[Any]]:
    """`bind` for rows whose UUIDs and datetimes stand at these positions."""
    # A deal's rows follow one another and share its id: its text is made once.
    last: list[Any] = [None, None]  # (the UUID, its text)

    def bind_row(row: Sequence[Any]) -> Sequence[Any]:
        # The same values as `bind`, without asking each value its type.
        values = list(row)
        for i in uuids:
            value = values[i]
            if value is not None:
                if value is not last[0]:
                    last[:] = value, str(value)
                values[i] = last[1]
        for i in times:
            if values[i] is not None:
                values[i] = utc_text(values[i])
        return values

    return bind_row


_DAYS_KEPT = 100_000  # UTC days whose text `utc_text` remembers
_DAYS: dict[dt.date, str] = {}


def utc_text(moment: dt.datetime) -> str:
    """How SQLite keeps a time: `moment.astimezone(UTC).isoformat(timespec=
    "microseconds")`, in half its time.

    `isoformat` asks the tzinfo for its offset and formats every field again; a
    day's text repeats across the rows of a page, so it is looked up (the text of a
    bulk load's 1.3 M times took ~2 s of its ~34 s of CPU).
    """
    if moment.tzinfo is not dt.UTC:
        moment = moment.astimezone(dt.UTC)
    day = moment.date()
    text = _DAYS.get(day)
    if text is None:
        if len(_DAYS) > _DAYS_KEPT:
            _DAYS.clear()
        text = _DAYS[day] = f"{day.isoformat()}T"
    return f"{text}{moment.time().isoformat(timespec='microseconds')}+00:00"
