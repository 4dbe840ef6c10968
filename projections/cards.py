"""The board's cards: the deals now in one phase, longest there first.

A column shows its first cards only (the board says how many more there are
and links to all of them as CSV): at 70,000 deals a pipeline, a column of every
card is neither fast nor readable. Without an object filter the cards come off
the `current` interval index (the deals now in a phase, by when they entered
it), so a column costs the same whatever the pipeline's size; an object has
few deals, found by its own index.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from psycopg.sql import SQL, Composable

from projections.deal_rows import DealRows
from projections.dialect import where
from projections.schema import DEAL_PHASES, PHASE_INTERVALS

if TYPE_CHECKING:
    import datetime as dt

    from projections.dialect import Store
    from projections.models import DealRow


class BoardCards:
    """`cards`: a phase's deals for the board; `owners`: who owns deals."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.rows = DealRows(store)

    def cards(
        self,
        pipeline: str,
        phase: str,
        *,
        now: dt.datetime,
        owner: str | None = None,
        object_id: str | None = None,
        limit: int = 50,
    ) -> list[DealRow]:
        """Up to `limit` deals now in `phase`, the longest in it first."""
        conditions: list[Composable] = [SQL("pipeline = %s"), SQL("phase = %s")]
        params: list[Any] = [pipeline, phase]
        if owner is not None:
            conditions.append(SQL("owner = %s"))
            params.append(owner)
        if object_id is not None:
            conditions.append(SQL("object_id = %s"))
            params.append(object_id)
        else:
            # The longest-standing deals of the phase, off its `current` index.
            inner: list[Composable] = [
                SQL("pipeline = %s"),
                SQL("phase = %s"),
                SQL("exited_at IS NULL"),
            ]
            inner_params: list[Any] = [pipeline, phase]
            if owner is not None:
                inner.append(SQL("owner = %s"))
                inner_params.append(owner)
            conditions.append(
                SQL("deal_id IN (SELECT deal_id FROM {}").format(
                    self.store.table(PHASE_INTERVALS)
                )
                + where(inner)
                + SQL(" ORDER BY entered_at, deal_id LIMIT %s)")
            )
            params += [*inner_params, limit]
        query = (
            self.rows.select
            + where(conditions)
            + SQL(" ORDER BY phase_since, deal_id LIMIT %s")
        )
        found = self.store.query(query, [*params, limit])
        return [self.rows.row(row, now) for row in found]

    def owners(self, pipeline: str, limit: int = 500) -> list[str]:
        """The owners of the pipeline's deals, by name (for the owner filter)."""
        query = SQL(
            "SELECT DISTINCT owner FROM {} WHERE pipeline = %s AND owner IS NOT NULL "
            "ORDER BY owner LIMIT %s"
        ).format(self.store.table(DEAL_PHASES))
        return [row[0] for row in self.store.query(query, [pipeline, limit])]
