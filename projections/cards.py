"""The board's cards: per phase, the deals now in it, longest there first.

A column shows its first cards only (the board says how many more there are
and links to all of them as CSV): at 70,000 deals a pipeline, a column of every
card is neither fast nor readable. One statement reads every column:

- the whole pipeline: a branch per phase walks that phase's `current` interval
  index (the deals now in it, by when they entered it) for its first `limit`,
  so a column costs the same whatever the pipeline's size;
- one owner's or one object's deals: they are few, found by their own index,
  and numbered per phase (`row_number()`), keeping each phase's first `limit`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from psycopg.sql import SQL, Composable, Identifier

from projections.deal_rows import ROW_COLUMNS, DealRows
from projections.dialect import where
from projections.schema import DEAL_PHASES, PHASE_INTERVALS

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence

    from projections.dialect import Store
    from projections.models import DealRow


class BoardCards:
    """`cards`: each phase's deals for the board; `owners`: who owns deals."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.rows = DealRows(store)
        self.columns = SQL(", ").join(map(Identifier, ROW_COLUMNS))

    def cards(
        self,
        pipeline: str,
        phases: Sequence[tuple[str, int]],
        *,
        now: dt.datetime,
        owner: str | None = None,
        object_id: str | None = None,
    ) -> dict[str, list[DealRow]]:
        """phase -> up to its limit of the deals now in it, the longest first,
        for each (phase, limit) of `phases` with a limit above 0."""
        wanted = [(phase, limit) for phase, limit in phases if limit > 0]
        if not wanted:
            return {}
        if owner is None and object_id is None:
            query, params = self._first_of_each(pipeline, wanted)
        else:
            query, params = self._numbered(pipeline, wanted, owner, object_id)
        found: dict[str, list[DealRow]] = {phase: [] for phase, _ in wanted}
        for row in self.store.query(query, params):
            deal = self.rows.row(row, now)
            if deal.phase in found:
                found[deal.phase].append(deal)
        return found

    def _first_of_each(
        self, pipeline: str, wanted: list[tuple[str, int]]
    ) -> tuple[Composable, list[Any]]:
        branch = SQL(
            "SELECT * FROM (SELECT deal_id FROM {} WHERE pipeline = %s AND phase = %s "
            "AND exited_at IS NULL ORDER BY entered_at, deal_id LIMIT %s) AS b"
        ).format(self.store.table(PHASE_INTERVALS))
        params: list[Any] = []
        for phase, limit in wanted:
            params += [pipeline, phase, limit]
        query = (
            self.rows.select
            + SQL(" WHERE deal_id IN (")
            + SQL(" UNION ALL ").join([branch] * len(wanted))
            + SQL(") ORDER BY phase_since, deal_id")
        )
        return query, params

    def _numbered(
        self,
        pipeline: str,
        wanted: list[tuple[str, int]],
        owner: str | None,
        object_id: str | None,
    ) -> tuple[Composable, list[Any]]:
        conditions: list[Composable] = [SQL("pipeline = %s")]
        params: list[Any] = [pipeline]
        for column, value in (("owner", owner), ("object_id", object_id)):
            if value is not None:
                conditions.append(SQL("{} = %s").format(Identifier(column)))
                params.append(value)
        limits = SQL(" OR ").join([SQL("(phase = %s AND n <= %s)")] * len(wanted))
        for phase, limit in wanted:
            params += [phase, limit]
        query = SQL(
            "SELECT {columns} FROM (SELECT {columns}, row_number() OVER "
            "(PARTITION BY phase ORDER BY phase_since, deal_id) AS n "
            "FROM {table}{where}) AS numbered WHERE {limits} "
            "ORDER BY phase_since, deal_id"
        ).format(
            columns=self.columns,
            table=self.store.table(DEAL_PHASES),
            where=where(conditions),
            limits=limits,
        )
        return query, params

    def owners(self, pipeline: str, limit: int = 500) -> list[str]:
        """The owners of the pipeline's deals, by name (for the owner filter).

        One index probe an owner (a loose index scan: the next name after the
        last, `owner` index), not a read of every deal: a pipeline has
        thousands of deals and a few dozen owners.
        """
        query = SQL(
            "WITH RECURSIVE named(owner) AS ("
            "SELECT min(owner) FROM {deals} WHERE pipeline = %s "
            "UNION ALL SELECT (SELECT min(owner) FROM {deals} WHERE pipeline = %s "
            "AND owner > named.owner) FROM named WHERE named.owner IS NOT NULL"
            ") SELECT owner FROM named WHERE owner IS NOT NULL LIMIT %s"
        ).format(deals=self.store.table(DEAL_PHASES))
        found = self.store.query(query, [pipeline, pipeline, limit])
        return [row[0] for row in found]
