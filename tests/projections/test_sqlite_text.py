"""SQLite keeps a time as its UTC ISO text; `utc_text` writes the very same text."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from projections.sqlite_text import utc_text

OFFSETS = st.builds(
    dt.timezone,
    st.timedeltas(
        min_value=dt.timedelta(hours=-23, minutes=-59),
        max_value=dt.timedelta(hours=23, minutes=59),
    ),
)
MOMENTS = st.datetimes(
    min_value=dt.datetime(2, 1, 1),  # a day's offset from year 1 or 9999 overflows
    max_value=dt.datetime(9998, 12, 31),
    timezones=st.one_of(st.just(dt.UTC), OFFSETS),
)


@given(MOMENTS)
def test_utc_text_is_the_isoformat_of_the_utc_time(moment: dt.datetime) -> None:
    expected = moment.astimezone(dt.UTC).isoformat(timespec="microseconds")

    assert utc_text(moment) == expected
    assert utc_text(moment) == expected  # the day's text now remembered


def test_equal_instants_have_equal_text() -> None:
    utc = dt.datetime(2026, 11, 24, 1, 30, tzinfo=dt.UTC)
    amsterdam = utc.astimezone(dt.timezone(dt.timedelta(hours=1)))

    assert utc_text(amsterdam) == utc_text(utc) == "2026-11-24T01:30:00.000000+00:00"
