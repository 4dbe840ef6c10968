"""The deal list: deals by any of their keys, owner or staleness, a page at a time."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from psycopg.sql import SQL, Composable, Identifier

from projections.deal_rows import DealRows
from projections.dialect import where
from projections.models import DealsPage

if TYPE_CHECKING:
    import datetime as dt

    from projections.dialect import Store


class DealList:
    """Deals matching every given filter, in deal id order."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.rows = DealRows(store)

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
        query = self.rows.select + where(conditions) + SQL(" ORDER BY deal_id LIMIT %s")
        found = self.store.query(query, [*params, limit + 1])
        rows = [self.rows.row(r, now) for r in found]
        more = len(rows) > limit
        rows = rows[:limit]
        return DealsPage(rows, str(rows[-1].deal_id) if more else None)
