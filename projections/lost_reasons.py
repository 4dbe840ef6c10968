"""Lost reasons: a pipeline's lost deals counted by the reason they were lost for."""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg.sql import SQL

from projections.filters import deal_filters
from projections.models import LostDetail, LostReason, LostReasons
from projections.schema import DEAL_PHASES

if TYPE_CHECKING:
    import datetime as dt

    from domain.pipeline import Pipeline
    from projections.dialect import Store


class LostReasonsReport:
    """Lost deals by reason, read from the deals (the `lost` index)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.deal_phases = store.table(DEAL_PHASES)

    def lost_reasons(
        self,
        pipeline: Pipeline,
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        owner: str | None = None,
    ) -> LostReasons:
        """Lost deals counted by the reason their lost phase asked for, and
        within each reason by its detail where it asks for one."""
        condition, params = deal_filters(pipeline, since, until, owner)
        query = SQL(
            "SELECT lost_reason, lost_detail, count(*) FROM {}{} "
            "AND phase_kind = 'lost' GROUP BY lost_reason, lost_detail"
        ).format(self.deal_phases, condition)
        totals: dict[str | None, int] = {}
        details: dict[str | None, list[LostDetail]] = {}
        for reason, detail, count in self.store.query(query, params):
            totals[reason] = totals.get(reason, 0) + int(count)
            if detail is not None:
                details.setdefault(reason, []).append(LostDetail(detail, int(count)))
        reasons = sorted(
            (
                LostReason(
                    reason,
                    count,
                    sorted(details.get(reason, []), key=lambda d: (-d.count, d.detail)),
                )
                for reason, count in totals.items()
            ),
            key=lambda r: (-r.count, r.reason or ""),
        )
        return LostReasons(pipeline.id, reasons, sum(r.count for r in reasons))
