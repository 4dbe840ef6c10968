"""The fixed business-time origin the storage and projection tests count days from."""

from __future__ import annotations

import datetime as dt

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def day(n: float) -> dt.datetime:
    return T0 + dt.timedelta(days=n)


class FakeClock:
    """A clock a test moves by hand: `clock.now = day(91)`."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now
