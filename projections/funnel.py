"""The funnel: per phase, the deals now in it, that reached it, that passed it."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import TYPE_CHECKING

from psycopg.sql import SQL

from projections.aggregates import FUNNEL_COUNTS
from projections.board import amount_groups, totals
from projections.filters import deal_conditions, deal_filters
from projections.models import Funnel, FunnelPhase
from projections.schema import DEAL_PHASES

if TYPE_CHECKING:
    import datetime as dt

    from domain.pipeline import Pipeline
    from projections.dialect import Row, Store

FUNNEL_RULE = (
    "current counts deals now in the phase; reached counts deals that entered the "
    "phase; passed counts deals that entered it or any later phase (open and won "
    "phases in pipeline order; for lost and paused phases passed equals reached); "
    "conversion_to_next is passed(next phase) / passed(this phase); period and owner "
    "filters apply to the deal's opened_at and current owner; a deal without a "
    "phase (every entry of it voided, e.g. a chained deal withdrawn by a "
    "correction) is counted nowhere; amounts (per phase, the deals now in it "
    "with an amount) and forecast (the open deals with one) are summed per "
    "currency, weighted by the phase's probability, under the same filters."
)


class FunnelReport:
    """A pipeline's funnel, from its counts or, filtered, from its deals."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.deal_phases = store.table(DEAL_PHASES)
        self.funnel_counts = store.table(FUNNEL_COUNTS)

    def funnel(
        self,
        pipeline: Pipeline,
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        owner: str | None = None,
    ) -> Funnel:
        """Per phase: current, reached, passed, conversion, amounts; over all
        versions; and the open deals' forecast."""
        groups = self._funnel_groups(pipeline, since, until, owner)
        filters = deal_conditions(pipeline, since, until, owner)
        money = amount_groups(self.store, *filters)
        priced: defaultdict[str, list[Row]] = defaultdict(list)
        for group in money:
            priced[group[0]].append(group)
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
            amounts = totals(priced.get(key, []))
            phases.append(
                FunnelPhase(key, current[key], reached[key], this, conversion, amounts)
            )
        won, lost = kinds["won"], kinds["lost"]
        return Funnel(
            pipeline=pipeline.id,
            phases=phases,
            won=won,
            lost=lost,
            open=kinds["open"] + kinds["paused"],
            win_rate=won / (won + lost) if won + lost else None,
            rule=FUNNEL_RULE,
            forecast=totals(g for g in money if g[1] == "open"),
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
        condition, params = deal_filters(pipeline, since, until, owner)
        query = SQL(
            "SELECT phase, phase_kind, reached_phases, count(*) FROM {}{} "
            "GROUP BY phase, phase_kind, reached_phases"
        ).format(self.deal_phases, condition)
        return self.store.query(query, params)
