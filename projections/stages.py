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

import math
from typing import TYPE_CHECKING, Any

from psycopg.sql import SQL, Composable

if TYPE_CHECKING:
    from projections.store import Row, Store

# count, mean, median, p90, current, median entered_at (epoch) of current deals
Stats = tuple[int, float | None, float | None, float | None, int, float | None]
MEDIAN, P90 = 0.5, 0.9


class StageStats:
    """Per-phase interval statistics from `phase_intervals`."""

    def __init__(self, store: Store, phase_intervals: Composable) -> None:
        self.store = store
        self.intervals = phase_intervals

    def _query(self, query: Composable, params: list[Any]) -> list[Row]:
        with self.store.read() as tx:
            tx.execute(query, [self.store.bind(p) for p in params])
            rows: list[Row] = tx.fetchall()
        return rows

    def stats(
        self, condition: Composable, params: list[Any], *, whole_pipeline: bool
    ) -> dict[str, Stats]:
        """phase -> Stats over the intervals matching `condition`."""
        if not whole_pipeline:
            if self.store.postgres:
                return self._percentile_cont(condition, params)
            return self._in_python(condition, params)
        return self._by_rank(params[0])

    # -- a whole pipeline: counts, then the values at the ranks ----------------------

    def _by_rank(self, pipeline: str) -> dict[str, Stats]:
        # On SQLite the mean is summed in the index's order (by duration), as
        # the sorted list `_in_python` sums: the same float to the last bit.
        counts = self._query(
            SQL(
                # An interval has a duration exactly when it has an exit, so
                # the counts need no column beyond the index's.
                "SELECT phase, count(duration_seconds), avg(duration_seconds), "
                "count(*) - count(duration_seconds) "
                "FROM {} WHERE pipeline = %s GROUP BY phase"
            ).format(self.intervals),
            [pipeline],
        )
        done = {phase: int(n) for phase, n, _, _ in counts}
        current = {phase: int(n) for phase, _, _, n in counts}
        durations = self._at_ranks(
            pipeline,
            (SQL("duration_seconds"), SQL("duration_seconds")),
            SQL("duration_seconds IS NOT NULL"),
            {p: _ranks(n, (MEDIAN, P90)) for p, n in done.items() if n},
        )
        entered = self._at_ranks(
            pipeline,
            (SQL("extract(epoch FROM entered_at)::float8"), SQL("entered_at")),
            SQL("exited_at IS NULL"),
            {p: _ranks(n, (MEDIAN,)) for p, n in current.items() if n},
        )
        return {
            phase: (
                done[phase],
                None if mean is None else float(mean),
                _interpolate(durations, phase, done[phase], MEDIAN),
                _interpolate(durations, phase, done[phase], P90),
                current[phase],
                _interpolate(entered, phase, current[phase], MEDIAN),
            )
            for phase, _, mean, _ in counts
        }

    def _at_ranks(
        self,
        pipeline: str,
        value: tuple[Composable, Composable],
        condition: Composable,
        ranks: dict[str, list[int]],
    ) -> dict[tuple[str, int], list[float]]:
        """(phase, rank) -> the values at rank and rank + 1 (`value` is (what, order)).

        The order is an index's (durations; entry times of current intervals), so
        each lookup walks the index to its rank instead of sorting the phase.
        """
        wanted = [(phase, rank) for phase, found in ranks.items() for rank in found]
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
        wanted: list[tuple[str, int]],
    ) -> dict[tuple[str, int], list[float]]:
        query = SQL(
            "SELECT w.phase, w.rank, v.found FROM unnest(%s::text[], %s::bigint[]) "
            "AS w(phase, rank) CROSS JOIN LATERAL (SELECT array_agg(x ORDER BY x) "
            "AS found FROM (SELECT {} AS x FROM {} i WHERE i.pipeline = %s "
            "AND i.phase = w.phase AND {} ORDER BY {} OFFSET w.rank LIMIT 2) s) v"
        ).format(value[0], self.intervals, condition, value[1])
        rows = self._query(
            query, [[p for p, _ in wanted], [r for _, r in wanted], pipeline]
        )
        return {(phase, int(rank)): list(found) for phase, rank, found in rows}

    def _ranked_sqlite(
        self,
        pipeline: str,
        order: Composable,
        condition: Composable,
        wanted: list[tuple[str, int]],
    ) -> dict[tuple[str, int], list[float]]:
        """One `LIMIT 2 OFFSET rank` walk of the index a lookup, all in one statement.

        Times are ordered as their fixed-width UTC text, then turned into epoch
        seconds as `_in_python` does.
        """
        lookup = SQL(
            "SELECT * FROM (SELECT %s, %s, {} FROM {} WHERE pipeline = %s "
            "AND phase = %s AND {} ORDER BY {} LIMIT 2 OFFSET %s)"
        ).format(order, self.intervals, condition, order)
        params: list[Any] = []
        for phase, rank in wanted:
            params += [phase, rank, pipeline, phase, rank]
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
        self, condition: Composable, params: list[Any]
    ) -> dict[str, Stats]:
        query = SQL(
            "SELECT phase, count(duration_seconds), avg(duration_seconds), "
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_seconds), "
            "percentile_cont(0.9) WITHIN GROUP (ORDER BY duration_seconds), "
            "count(*) FILTER (WHERE exited_at IS NULL), "
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM "
            "entered_at)) FILTER (WHERE exited_at IS NULL) "
            "FROM {}{} GROUP BY phase"
        ).format(self.intervals, condition)
        return {
            r[0]: (
                int(r[1]),
                _float(r[2]),
                _float(r[3]),
                _float(r[4]),
                int(r[5]),
                _float(r[6]),
            )
            for r in self._query(query, params)
        }

    def _in_python(self, condition: Composable, params: list[Any]) -> dict[str, Stats]:
        query = SQL(
            "SELECT phase, duration_seconds, entered_at FROM {}{} "
            "ORDER BY phase, duration_seconds"
        ).format(self.intervals, condition)
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
        return {
            phase: (
                len(values),
                sum(values) / len(values) if values else None,
                percentile(values, MEDIAN),
                percentile(values, P90),
                len(entered[phase]),
                percentile(sorted(entered[phase]), MEDIAN),
            )
            for phase, values in durations.items()
        }


def _ranks(count: int, fractions: tuple[float, ...]) -> list[int]:
    return sorted({math.floor((count - 1) * f) for f in fractions})


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
