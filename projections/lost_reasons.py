"""Lost reasons: a pipeline's lost deals counted by the reason they were lost for."""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg.sql import SQL

from projections.filters import deal_filters
from projections.models import LostReason, LostReasons
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
        """Lost deals counted by the reason their lost phase asked for."""
        condition, params = deal_filters(pipeline, since, until, owner)
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
