"""Time-in-stage statistics per phase: count, mean, median and p90 of completed
intervals, and the count and median entry time of the deals now in the phase.

All figures are exact, on every path. A report over a whole pipeline reads ranks
instead of sorting, on both databases: the counts come first (an index-only scan of
`(pipeline, phase, duration_seconds)`), then, per phase, only the one or two values
around each wanted rank (`ORDER BY ... OFFSET rank LIMIT 2` on the same index), and
the interpolation between them is `percentile_cont`'s own. Filtered reports (period,
owner) are rarer and smaller: PostgreSQL keeps `percentile_cont`; SQLite, which has
no percentiles, gets the durations back sorted and takes the ranks in Python.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Any

from psycopg.sql import SQL, Composable

from projections.aggregates import DURATION_STEP, ENTRY_STEP, JULIAN_1970

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from projections.dialect import Lookup, Row, Stats, Store

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_DAY = dt.timedelta(days=1)
MEDIAN, P90 = 0.5, 0.9


class StageStats:
    """Per-phase interval statistics from `phase_intervals`."""

    def __init__(
        self, store: Store, phase_intervals: Composable, stage_counts: Composable
    ) -> None:
        self.store = store
        self.intervals = phase_intervals
        self.counts = stage_counts

    def whole(self, pipeline: str) -> dict[str, Stats]:
        """phase -> Stats over a whole pipeline's intervals (from the counts)."""
        return self._by_rank(pipeline)

    def filtered(
        self, source: Composable, condition: Composable, params: list[Any]
    ) -> dict[str, Stats]:
        """phase -> Stats over the intervals of `source` matching `condition`.

        `source` is the intervals table or a derived table of some of them (its
        parameters lead `params`).
        """
        return self.store.interval_stats(source, condition, params)

    # -- a whole pipeline: counts, then the values at the ranks ----------------------

    def _by_rank(self, pipeline: str) -> dict[str, Stats]:
        rows = self.store.query(
            SQL(
                "SELECT phase, open, bucket, intervals, total_us FROM {} "
                "WHERE pipeline = %s AND intervals <> 0 ORDER BY phase, open, bucket"
            ).format(self.counts),
            [pipeline],
        )
        buckets: dict[tuple[str, bool], list[tuple[int, int]]] = {}
        total_us: dict[str, int] = {}
        for phase, is_open, bucket, count, micros in rows:
            buckets.setdefault((phase, bool(is_open)), []).append((bucket, count))
            total_us[phase] = total_us.get(phase, 0) + int(micros)
        done = {p: sum(n for _, n in buckets.get((p, False), ())) for p in total_us}
        current = {p: sum(n for _, n in buckets.get((p, True), ())) for p in total_us}
        durations = self._at_ranks(
            pipeline,
            (SQL("duration_seconds"), SQL("duration_seconds")),
            SQL("duration_seconds IS NOT NULL"),
            _starts(buckets, False, (MEDIAN, P90), lambda b: float(b * DURATION_STEP)),
        )
        entered = self._at_ranks(
            pipeline,
            (SQL("extract(epoch FROM entered_at)::float8"), SQL("entered_at")),
            SQL("exited_at IS NULL"),
            _starts(buckets, True, (MEDIAN,), _entry_start),
        )
        return {
            phase: (
                done[phase],
                mean_of_micros(total_us[phase], done[phase]),
                _interpolate(durations, phase, done[phase], MEDIAN),
                _interpolate(durations, phase, done[phase], P90),
                current[phase],
                _interpolate(entered, phase, current[phase], MEDIAN),
            )
            for phase in total_us
        }

    def _at_ranks(
        self,
        pipeline: str,
        value: tuple[Composable, Composable],
        condition: Composable,
        wanted: list[Lookup],
    ) -> dict[tuple[str, int], list[float]]:
        """(phase, rank) -> the values at rank and rank + 1 (`value` is (what, order)).

        The order is an index's (durations; entry times of current intervals), so
        each lookup seeks its bucket's start and walks on from there to its rank.
        """
        if not wanted:
            return {}
        return self.store.values_at_ranks(
            self.intervals, pipeline, value, condition, wanted
        )


def ranked_in_python(
    rows: Iterable[Row], load_time: Callable[[Any], dt.datetime | None]
) -> dict[str, Stats]:
    """phase -> Stats of intervals given as (phase, duration_seconds, entered_at)
    rows, ranked here (where the database has no percentiles)."""
    durations: dict[str, list[float]] = {}
    entered: dict[str, list[float]] = {}
    for phase, duration, entered_at in rows:
        durations.setdefault(phase, [])
        entered.setdefault(phase, [])
        if duration is None:
            moment = load_time(entered_at)
            assert moment is not None
            entered[phase].append(moment.timestamp())
        else:
            durations[phase].append(duration)
    for values in durations.values():
        values.sort()
    return {
        phase: (
            len(values),
            mean_of_micros(sum(round(v * 1e6) for v in values), len(values)),
            percentile(values, MEDIAN),
            percentile(values, P90),
            len(entered[phase]),
            percentile(sorted(entered[phase]), MEDIAN),
        )
        for phase, values in durations.items()
    }


def _starts(
    buckets: dict[tuple[str, bool], list[tuple[int, int]]],
    is_open: bool,
    fractions: tuple[float, ...],
    low: Callable[[int], Any],
) -> list[Lookup]:
    """A lookup per wanted rank: from the start of the bucket holding it, skip
    the phase's values in it that come before the rank."""
    lookups: list[Lookup] = []
    for (phase, kind), counted in buckets.items():
        if kind != is_open:
            continue
        count = sum(n for _, n in counted)
        for rank in sorted({math.floor((count - 1) * f) for f in fractions}):
            before = 0
            for bucket, n in counted:
                if before + n > rank:
                    lookups.append((phase, rank, low(bucket), rank - before))
                    break
                before += n
    return lookups


def _entry_start(bucket: int) -> dt.datetime:
    return _EPOCH + (bucket * ENTRY_STEP - JULIAN_1970) * _DAY


def mean_of_micros(total_us: int, count: int) -> float | None:
    """The mean duration in seconds from the exact sum of whole microseconds."""
    return total_us / count / 1e6 if count else None


def _interpolate(
    found: dict[tuple[str, int], list[float]], phase: str, count: int, fraction: float
) -> float | None:
    """`percentile_cont(fraction)` from the values at the two ranks around it."""
    if not count:
        return None
    position = (count - 1) * fraction
    low = math.floor(position)
    values = found[(phase, low)]
    high = values[1] if len(values) > 1 and position > low else values[0]
    return _lerp(float(values[0]), float(high), position - low)


def percentile(ordered: list[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks, as PostgreSQL's percentile_cont."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return _lerp(ordered[low], ordered[high], position - low)


def _lerp(low: float, high: float, proportion: float) -> float:
    return low + (high - low) * proportion
