"""Stale deals: open deals longer in their phase than its `stale_after_days`."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

from psycopg.sql import SQL, Composable

from domain.errors import InvalidCommand
from domain.limits import time_problem
from projections.deal_rows import STALE_AT, DealRows
from projections.dialect import where
from projections.models import DealsPage

if TYPE_CHECKING:
    from domain.pipeline import Pipeline
    from projections.dialect import Store

STALE_CURSOR = r"^-?[0-9]+_[0-9a-f]{32}$"  # what `stale` pages hand out
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


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


class StaleDeals:
    """A pipeline's stale deals, the longest stale first."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.rows = DealRows(store)

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
            self.rows.select
            + where(conditions)
            + SQL(" ORDER BY stale_at, deal_id LIMIT %s")
        )
        found = self.store.query(query, [*params, limit + 1])
        rows = [self.rows.row(r, now) for r in found[:limit]]
        if len(found) <= limit:
            return DealsPage(rows, None)
        stale_at = self.store.load_time(found[limit - 1][STALE_AT])
        assert stale_at is not None
        micros = (stale_at - _EPOCH) // _MICROSECOND
        return DealsPage(rows, f"{micros}_{rows[-1].deal_id.hex}")
