"""One page of folded deals and the new tracking position, in ONE transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from psycopg.sql import SQL, Identifier

from projections.schema import (
    DEAL_COLUMNS,
    DEAL_PHASES,
    INTERVAL_COLUMNS,
    PHASE_INTERVALS,
    TIME_COLUMNS,
)
from projections.store import chunks

if TYPE_CHECKING:
    from collections.abc import Sequence

    from projections.fold import Folded
    from projections.schema import Schema
    from projections.store import Store, Tx


class PageWriter:
    """Replaces the touched deals' rows and moves the position, all or nothing.

    The tracking row is locked first and its position compared with the one the
    page was read after: if another writer got there first, nothing is written, so
    a page can never be applied twice.
    """

    def __init__(self, store: Store, schema: Schema) -> None:
        self.store = store
        self.schema = schema
        self._bind_deal, self._bind_interval = (
            store.row_binder(
                [i for i, c in enumerate(columns) if c == "deal_id"],
                [i for i, c in enumerate(columns) if c in TIME_COLUMNS],
            )
            for columns in (DEAL_COLUMNS, INTERVAL_COLUMNS)
        )

    def write(
        self,
        generation: int,
        *,
        state: str,
        expected: int,
        position: int,
        folded: Sequence[Folded],
        replace: bool = True,
        progress: float | None = None,
    ) -> bool:
        """Write `folded` into `generation` if it is still at `expected`."""
        rows = self._rows(folded)
        with self.store.write() as tx:
            if self.schema.lock(tx, generation) != (state, expected):
                return False
            if replace:
                self._delete(tx, generation, [f.deal_id for f in folded])
            self._insert(tx, generation, rows)
            self.on_rows_written()
            self.schema.advance(tx, generation, position, progress)
        return True

    def load(self, generation: int, folded: Sequence[Folded]) -> None:
        """Bulk-load rows of deals not yet in a building generation; no position.

        The rebuild alone writes there (under its lock) and moves the position
        when the whole scan is in, so concurrent loaders need no tracking row.
        """
        rows = self._rows(folded)
        with self.store.write() as tx:
            self._insert(tx, generation, rows)

    def _rows(
        self, folded: Sequence[Folded]
    ) -> tuple[list[Sequence[Any]], list[Sequence[Any]]]:
        """Deal rows and interval rows, bound before any transaction opens."""
        bind_deal, bind_interval = self._bind_deal, self._bind_interval
        deals = [bind_deal(f.deal) for f in folded]
        intervals = [bind_interval(row) for f in folded for row in f.intervals]
        return deals, intervals

    def _insert(
        self,
        tx: Tx,
        generation: int,
        rows: tuple[list[Sequence[Any]], list[Sequence[Any]]],
    ) -> None:
        deals, intervals = rows
        tx.insert(self.schema.table(DEAL_PHASES, generation), DEAL_COLUMNS, deals)
        tx.insert(
            self.schema.table(PHASE_INTERVALS, generation), INTERVAL_COLUMNS, intervals
        )

    def on_rows_written(self) -> None:
        """Runs in the transaction before the position moves: a seam for tests."""

    def _delete(self, tx: Tx, generation: int, deal_ids: Sequence[object]) -> None:
        for name in (DEAL_PHASES, PHASE_INTERVALS):
            table = self.schema.table(name, generation)
            for chunk in chunks(deal_ids):
                condition, params = self.store.any_of(Identifier("deal_id"), chunk)
                tx.execute(
                    SQL("DELETE FROM {} WHERE {}").format(table, condition), params
                )
