"""Queries over the read models: deal lists, funnel, time-in-stage, stale, lost reasons.

Aggregates are computed by the database (GROUP BY); time-in-stage statistics come
from `projections.stages`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from typing import TYPE_CHECKING, Any

from psycopg.sql import SQL, Composable, Identifier

from domain.errors import InvalidCommand
from domain.limits import time_problem
from projections.aggregates import FUNNEL_COUNTS, STAGE_COUNTS
from projections.dialect import where
from projections.models import (
    DealRow,
    DealsPage,
    Funnel,
    FunnelPhase,
    LostReason,
    LostReasons,
    StagePhase,
    TimeInStage,
)
from projections.schema import DEAL_COLUMNS, DEAL_PHASES, PHASE_INTERVALS, Schema
from projections.stages import StageStats
from projections.store import store_for

if TYPE_CHECKING:
    from domain.application import PhaseTracker
    from domain.pipeline import Pipeline
    from projections.dialect import Row

FUNNEL_RULE = (
    "current counts deals now in the phase; reached counts deals that entered the "
    "phase; passed counts deals that entered it or any later phase (open and won "
    "phases in pipeline order; for lost and paused phases passed equals reached); "
    "conversion_to_next is passed(next phase) / passed(this phase); period and owner "
    "filters apply to the deal's opened_at and current owner."
)
STALE_CURSOR = r"^-?[0-9]+_[0-9a-f]{32}$"  # what `stale` pages hand out
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)
# A DealRow's columns: the deal row less what only the projection itself needs.
_ROW_COLUMNS = tuple(
    c
    for c in DEAL_COLUMNS
    if c not in ("stale_after_days", "expires_at", "reached_phases")
)
_STALE_AT = _ROW_COLUMNS.index("stale_at")


def stale_cursor(cursor: str) -> tuple[dt.datetime, uuid.UUID]:
    """(stale_at, deal_id) from a stale page's cursor.

    A forged one (a time no datetime holds, say) is refused as such: the
    time is checked against the range a filter may take.
    """
    micros, _, deal_id = cursor.partition("_")
    try:
        stale_at = _EPOCH + int(micros) * _MICROSECOND
        if time_problem(stale_at) is not None:
            raise ValueError(cursor)
        return stale_at, uuid.UUID(hex=deal_id)
    except (ValueError, OverflowError):
        raise InvalidCommand(
            "cursor", "is not a cursor this report handed out"
        ) from None


class Reports:
    """Read-only answers from `deal_phases` and `phase_intervals`."""

    def __init__(self, tracker: PhaseTracker) -> None:
        self.store = store_for(tracker)
        Schema(self.store).ensure()
        self.deal_phases = self.store.table(DEAL_PHASES)
        self.phase_intervals = self.store.table(PHASE_INTERVALS)
        self.funnel_counts = self.store.table(FUNNEL_COUNTS)
        self.stages = StageStats(
            self.store, self.phase_intervals, self.store.table(STAGE_COUNTS)
        )
        self._select_rows = SQL("SELECT {} FROM {}").format(
            SQL(", ").join(map(Identifier, _ROW_COLUMNS)), self.deal_phases
        )

    # -- deals ---------------------------------------------------------------------

    def deals(
        self,
        *,
        pipeline: str | None = None,
        phase: str | None = None,
        contact_id: str | None = None,
        object_id: str | None = None,
        owner: str | None = None,
        stale: bool | None = None,
        now: dt.datetime,
        limit: int = 50,
        cursor: str | None = None,
    ) -> DealsPage:
        """Deals matching every given filter, by deal_id; `cursor` continues a page."""
        filters = {
            "pipeline": pipeline,
            "phase": phase,
            "contact_id": contact_id,
            "object_id": object_id,
            "owner": owner,
        }
        conditions: list[Composable] = []
        params: list[Any] = []
        for column, value in filters.items():
            if value is not None:
                conditions.append(SQL("{} = %s").format(Identifier(column)))
                params.append(value)
        if stale is not None:
            conditions.append(
                SQL("(phase_kind = 'open' AND stale_at < %s)")
                if stale
                else SQL(
                    "(phase_kind IS NULL OR phase_kind <> 'open' "
                    "OR stale_at IS NULL OR stale_at >= %s)"
                )
            )
            params.append(now)
        if cursor is not None:
            conditions.append(SQL("deal_id > %s"))
            params.append(uuid.UUID(cursor))
        query = (
            self._select_rows + where(conditions) + SQL(" ORDER BY deal_id LIMIT %s")
        )
        rows = [
            self._row(r, now) for r in self.store.query(query, [*params, limit + 1])
        ]
        more = len(rows) > limit
        rows = rows[:limit]
        return DealsPage(rows, str(rows[-1].deal_id) if more else None)

    def stale(
        self,
        pipeline: Pipeline,
        *,
        now: dt.datetime,
        owner: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> DealsPage:
        """Open deals longer in their phase than its `stale_after_days`, the longest
        stale first, a page at a time; `cursor` continues after a page.

        A cursor is the last row's `stale_at` (epoch microseconds) and deal id:
        keyset pages walk the `stale` index, so a page costs the same at the end
        of 50,000 stale deals as at the start.
        """
        conditions: list[Composable] = [
            SQL("pipeline = %s"),
            SQL("phase_kind = 'open'"),
            SQL("stale_at < %s"),
        ]
        params: list[Any] = [pipeline.id, now]
        if owner is not None:
            conditions.append(SQL("owner = %s"))
            params.append(owner)
        if cursor is not None:
            after, deal_id = stale_cursor(cursor)
            conditions.append(SQL("(stale_at, deal_id) > (%s, %s)"))
            params += [after, deal_id]
        query = (
            self._select_rows
            + where(conditions)
            + SQL(" ORDER BY stale_at, deal_id LIMIT %s")
        )
        found = self.store.query(query, [*params, limit + 1])
        rows = [self._row(r, now) for r in found[:limit]]
        if len(found) <= limit:
            return DealsPage(rows, None)
        stale_at = self.store.load_time(found[limit - 1][_STALE_AT])
        assert stale_at is not None
        micros = (stale_at - _EPOCH) // _MICROSECOND
        return DealsPage(rows, f"{micros}_{rows[-1].deal_id.hex}")

    def expiring(self, now: dt.datetime) -> list[uuid.UUID]:
        """Deals whose pipeline's expiry policy is due by `now`."""
        query = SQL(
            "SELECT deal_id FROM {} WHERE expires_at <= %s ORDER BY expires_at"
        ).format(self.deal_phases)
        return [self.store.load_uuid(r[0]) for r in self.store.query(query, [now])]

    def _row(self, row: Row, now: dt.datetime) -> DealRow:
        (
            deal_id,
            pipeline,
            version,
            contact,
            obj,
            phase,
            kind,
            since,
            opened,
            last,
            owner,
            probability,
            stale_at,
            lost_reason,
        ) = row
        load = self.store.load_time
        stale_at = load(stale_at)
        return DealRow(
            deal_id=self.store.load_uuid(deal_id),
            pipeline=pipeline,
            pipeline_version=version,
            contact_id=contact,
            object_id=obj,
            phase=phase,
            phase_kind=kind,
            phase_since=load(since),
            opened_at=load(opened),
            last_activity_at=load(last),
            owner=owner,
            probability=probability,
            stale=kind == "open" and stale_at is not None and stale_at < now,
            lost_reason=lost_reason,
            stale_at=stale_at,
        )

    # -- aggregates ------------------------------------------------------------------

    def _deal_filters(
        self,
        pipeline: Pipeline,
        since: dt.datetime | None,
        until: dt.datetime | None,
        owner: str | None,
    ) -> tuple[Composable, list[Any]]:
        conditions, params = _period("opened_at", since, until)
        conditions.insert(0, SQL("pipeline = %s"))
        params.insert(0, pipeline.id)
        if owner is not None:
            conditions.append(SQL("owner = %s"))
            params.append(owner)
        return where(conditions), params

    def funnel(
        self,
        pipeline: Pipeline,
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        owner: str | None = None,
    ) -> Funnel:
        """Per phase: current, reached, passed, conversion; over all versions."""
        groups = self._funnel_groups(pipeline, since, until, owner)
        progression = [p.key for p in pipeline.phases if p.kind in ("open", "won")]
        rank = {key: i for i, key in enumerate(progression)}
        current: Counter[str] = Counter()
        reached: Counter[str] = Counter()
        furthest: Counter[int] = Counter()  # deals by the furthest progression rank
        kinds: Counter[str | None] = Counter()
        for phase, kind, reached_phases, count in groups:
            kinds[kind] += count
            if phase is not None:
                current[phase] += count
            keys = reached_phases.split(",") if reached_phases else []
            reached.update(dict.fromkeys(keys, count))
            ranks = [rank[k] for k in keys if k in rank]
            if ranks:
                furthest[max(ranks)] += count
        passed = {
            key: sum(n for r, n in furthest.items() if r >= rank[key])
            for key in progression
        }
        known = [p.key for p in pipeline.phases]
        keys = known + sorted(set(reached) - set(known))  # phases of older versions
        phases = []
        for key in keys:
            if key in rank:
                this = passed[key]
                following = progression[rank[key] + 1 : rank[key] + 2]
                conversion = passed[following[0]] / this if following and this else None
            else:
                this, conversion = reached[key], None
            phases.append(
                FunnelPhase(key, current[key], reached[key], this, conversion)
            )
        won, lost = kinds["won"], kinds["lost"]
        return Funnel(
            pipeline=pipeline.id,
            phases=phases,
            won=won,
            lost=lost,
            open=sum(kinds.values()) - won - lost,
            win_rate=won / (won + lost) if won + lost else None,
            rule=FUNNEL_RULE,
        )

    def _funnel_groups(
        self,
        pipeline: Pipeline,
        since: dt.datetime | None,
        until: dt.datetime | None,
        owner: str | None,
    ) -> list[Row]:
        """Deals counted by (phase, phase_kind, reached_phases).

        A whole pipeline's come from the counts the projection keeps (hundreds of
        rows); a period or an owner needs the deals themselves.
        """
        if (since, until, owner) == (None, None, None):
            query = SQL(
                "SELECT nullif(phase, ''), nullif(phase_kind, ''), reached_phases, "
                "deals FROM {} WHERE pipeline = %s AND deals <> 0"
            ).format(self.funnel_counts)
            return self.store.query(query, [pipeline.id])
        condition, params = self._deal_filters(pipeline, since, until, owner)
        query = SQL(
            "SELECT phase, phase_kind, reached_phases, count(*) FROM {}{} "
            "GROUP BY phase, phase_kind, reached_phases"
        ).format(self.deal_phases, condition)
        return self.store.query(query, params)

    def time_in_stage(
        self,
        pipeline: Pipeline,
        *,
        now: dt.datetime,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        owner: str | None = None,
    ) -> TimeInStage:
        """Completed intervals per phase (count, mean, median, p90) and current ages."""
        if (since, until, owner) == (None, None, None):
            stats = self.stages.whole(pipeline.id)
        else:
            condition, params, source = self._interval_filters(
                pipeline, since, until, owner
            )
            stats = self.stages.filtered(source, condition, params)
        phases = []
        known = [p.key for p in pipeline.phases]
        for key in known + sorted(set(stats) - set(known)):
            count, mean, median, p90, current, median_entered = stats.get(
                key, (0, None, None, None, 0, None)
            )
            age = None if median_entered is None else now.timestamp() - median_entered
            phases.append(StagePhase(key, count, mean, median, p90, current, age))
        return TimeInStage(pipeline.id, phases)

    def _interval_filters(
        self,
        pipeline: Pipeline,
        since: dt.datetime | None,
        until: dt.datetime | None,
        owner: str | None,
    ) -> tuple[Composable, list[Any], Composable]:
        """(condition, params, source): the intervals a filtered report reads.

        Left to choose, both databases walked the pipeline's every interval and
        tested each one (1 M events, SQLite: 400 ms for an owner, 440 ms for 90
        days; PostgreSQL 80 ms for an owner). An interval's owner is its deal's
        current owner, so an owner's deals come by their index, then each one's
        intervals by their key (PostgreSQL held to that order by a fenced
        LATERAL, SQLite by a CROSS JOIN).
        """
        conditions, params = _period("entered_at", since, until)
        if owner is not None:
            # No condition on the pipeline here: it gave SQLite an index on the
            # intervals other than their key to probe for each deal.
            source = self.store.owned_intervals(self.deal_phases, self.phase_intervals)
            return where(conditions), [pipeline.id, owner, *params], source
        conditions.insert(0, SQL("pipeline = %s"))
        params.insert(0, pipeline.id)
        # Where it helps, the database seeks each phase's entries in the period.
        seek, seek_params = self.store.phase_seek(self.stages.counts, pipeline.id)
        conditions += seek
        params += seek_params
        return where(conditions), params, self.phase_intervals

    def lost_reasons(
        self,
        pipeline: Pipeline,
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        owner: str | None = None,
    ) -> LostReasons:
        """Lost deals counted by the reason their lost phase asked for."""
        condition, params = self._deal_filters(pipeline, since, until, owner)
        query = SQL(
            "SELECT lost_reason, count(*) FROM {}{} AND phase_kind = 'lost' "
            "GROUP BY lost_reason"
        ).format(self.deal_phases, condition)
        counts = self.store.query(query, params)
        reasons = sorted(
            (LostReason(reason, int(count)) for reason, count in counts),
            key=lambda r: (-r.count, r.reason or ""),
        )
        return LostReasons(pipeline.id, reasons, sum(r.count for r in reasons))


def _period(
    column: str, since: dt.datetime | None, until: dt.datetime | None
) -> tuple[list[Composable], list[Any]]:
    """`column` within [since, until), each bound where given: (conditions, params)."""
    conditions: list[Composable] = []
    params: list[Any] = []
    for value, operator in ((since, ">="), (until, "<")):
        if value is not None:
            conditions.append(SQL("{} {} %s").format(Identifier(column), SQL(operator)))
            params.append(value)
    return conditions, params
