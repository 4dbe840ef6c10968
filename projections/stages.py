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

from projections.aggregates import (
    DURATION_STEP,
    ENTRY_STEP,
    JULIAN_1970,
    micros_sum,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from projections.dialect import Row, Store

# (phase, rank, the bucket's lower bound, values to skip from there)
Lookup = tuple[str, int, Any, int]
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_DAY = dt.timedelta(days=1)
# count, mean, median, p90, current, median entered_at (epoch) of current deals
Stats = tuple[int, float | None, float | None, float | None, int, float | None]
MEDIAN, P90 = 0.5, 0.9


class StageStats:
    """Per-phase interval statistics from `phase_intervals`."""

    def __init__(
        self, store: Store, phase_intervals: Composable, stage_counts: Composable
    ) -> None:
        self.store = store
        self.intervals = phase_intervals
        self.counts = stage_counts

    def _query(self, query: Composable, params: list[Any]) -> list[Row]:
        with self.store.read() as tx:
            tx.execute(query, [self.store.bind(p) for p in params])
            rows: list[Row] = tx.fetchall()
        return rows

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
        if self.store.postgres:
            return self._percentile_cont(source, condition, params)
        return self._in_python(source, condition, params)

    # -- a whole pipeline: counts, then the values at the ranks ----------------------

    def _by_rank(self, pipeline: str) -> dict[str, Stats]:
        rows = self._query(
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
        if self.store.postgres:
            return self._ranked_postgres(pipeline, value, condition, wanted)
        return self._ranked_sqlite(pipeline, value[1], condition, wanted)

    def _ranked_postgres(
        self,
        pipeline: str,
        value: tuple[Composable, Composable],
        condition: Composable,
        wanted: list[Lookup],
    ) -> dict[tuple[str, int], list[float]]:
        low = "timestamptz" if isinstance(wanted[0][2], dt.datetime) else "float8"
        query = SQL(
            "SELECT w.phase, w.rank, v.found FROM unnest(%s::text[], %s::bigint[], "
            "%s::{}[], %s::bigint[]) AS w(phase, rank, low, skip) CROSS JOIN LATERAL "
            "(SELECT array_agg(x ORDER BY x) AS found FROM (SELECT {} AS x FROM {} i "
            "WHERE i.pipeline = %s AND i.phase = w.phase AND {} AND {} >= w.low "
            "ORDER BY {} OFFSET w.skip LIMIT 2) s) v"
        ).format(SQL(low), value[0], self.intervals, condition, value[1], value[1])
        columns = [list(c) for c in zip(*wanted, strict=True)]
        rows = self._query(query, [*columns, pipeline])
        return {(phase, int(rank)): list(found) for phase, rank, found in rows}

    def _ranked_sqlite(
        self,
        pipeline: str,
        order: Composable,
        condition: Composable,
        wanted: list[Lookup],
    ) -> dict[tuple[str, int], list[float]]:
        """One `LIMIT 2 OFFSET skip` walk of the index a lookup, all in one statement.

        Times are ordered as their fixed-width UTC text, then turned into epoch
        seconds as `_in_python` does.
        """
        lookup = SQL(
            "SELECT * FROM (SELECT %s, %s, {} FROM {} WHERE pipeline = %s "
            "AND phase = %s AND {} AND {} >= %s ORDER BY {} LIMIT 2 OFFSET %s)"
        ).format(order, self.intervals, condition, order, order)
        params: list[Any] = []
        for phase, rank, low, skip in wanted:
            params += [phase, rank, pipeline, phase, low, skip]
        rows = self._query(SQL(" UNION ALL ").join([lookup] * len(wanted)), params)
        found: dict[tuple[str, int], list[Any]] = {}
        for phase, rank, x in rows:
            found.setdefault((phase, int(rank)), []).append(x)
        return {key: [self._number(x) for x in sorted(xs)] for key, xs in found.items()}

    def _number(self, value: Any) -> float:
        if isinstance(value, str):  # an entry time
            moment = self.store.load_time(value)
            assert moment is not None
            return moment.timestamp()
        return float(value)

    # -- filtered ----------------------------------------------------------------------

    def _percentile_cont(
        self, source: Composable, condition: Composable, params: list[Any]
    ) -> dict[str, Stats]:
        query = SQL(
            "SELECT phase, count(duration_seconds), {}, "
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_seconds), "
            "percentile_cont(0.9) WITHIN GROUP (ORDER BY duration_seconds), "
            "count(*) FILTER (WHERE exited_at IS NULL), "
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM "
            "entered_at)) FILTER (WHERE exited_at IS NULL) "
            "FROM {}{} GROUP BY phase"
        ).format(SQL(micros_sum(True)), source, condition)
        return {
            r[0]: (
                int(r[1]),
                mean_of_micros(int(r[2]), int(r[1])),
                _float(r[3]),
                _float(r[4]),
                int(r[5]),
                _float(r[6]),
            )
            for r in self._query(query, params)
        }

    def _in_python(
        self, source: Composable, condition: Composable, params: list[Any]
    ) -> dict[str, Stats]:
        # Sorted here, not by the query: an ORDER BY made SQLite walk the
        # pipeline's intervals in the durations index's order, whatever the filter.
        query = SQL("SELECT phase, duration_seconds, entered_at FROM {}{}").format(
            source, condition
        )
        durations: dict[str, list[float]] = {}
        entered: dict[str, list[float]] = {}
        for phase, duration, entered_at in self._query(query, params):
            durations.setdefault(phase, [])
            entered.setdefault(phase, [])
            if duration is None:
                moment = self.store.load_time(entered_at)
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


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
