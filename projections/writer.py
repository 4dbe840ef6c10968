"""One page of folded deals and the new tracking position, in ONE transaction;
a page writes only what changed since the rows it last wrote."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from projections.dialect import Row
from projections.models import Unprojectable
from projections.recent import Recent
from projections.schema import (
    DEAL_COLUMNS,
    DEAL_PHASES,
    INTERVAL_COLUMNS,
    PHASE_INTERVALS,
    TIME_COLUMNS,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Sequence

    from projections.dialect import Store, Tx
    from projections.fold import Folded
    from projections.schema import Schema


class PageWriter:
    """Replaces the touched deals' rows and moves the position, all or nothing.

    The tracking row is locked first and its position compared with the one the
    page was read after: if another writer got there first, nothing is written, so
    a page can never be applied twice.

    A page writes only what changed: the writer remembers the rows it last wrote
    of recent deals and the (generation, position) its last page left. The lock
    shows whether anyone wrote since (another process took over, a rebuild
    swapped, a page failed): only if the position is still ours do the
    remembered rows stand for the stored ones; else every touched deal is
    replaced whole and the memory starts again. It changes only after a commit.
    """

    def __init__(
        self,
        store: Store,
        schema: Schema,
        position_of: Callable[[uuid.UUID, int], int | None],
    ) -> None:
        self.store = store
        self.schema = schema
        self.position_of = position_of  # names the deal whose rows fail
        self._bind_deal, self._bind_interval = (
            store.row_binder(
                [i for i, c in enumerate(columns) if c == "deal_id"],
                [i for i, c in enumerate(columns) if c in TIME_COLUMNS],
            )
            for columns in (DEAL_COLUMNS, INTERVAL_COLUMNS)
        )
        self.written: Recent[uuid.UUID, Folded] = Recent()
        self._left: tuple[int, int] | None = None  # where our last page left
        # A rebuild catches its generation up from its own thread while the live
        # runner writes pages: the memory is one, so its pages take turns.
        self._memory = threading.Lock()

    def write(
        self,
        generation: int,
        *,
        state: str,
        expected: int,
        position: int,
        folded: Sequence[Folded],
        fresh: Collection[uuid.UUID] = (),
        progress: float | None = None,
    ) -> bool:
        """Write `folded` into `generation` if it is still at `expected`.

        `fresh` deals were opened after `expected`: they have no rows to replace.
        """
        with self._memory:
            ours = self._left == (generation, expected)
            plan = changes(folded, self.written if ours else None, fresh)
            deals, intervals = self._rows(plan.deal_rows, plan.interval_rows, folded)
            with self.store.write() as tx:
                if self.schema.lock(tx, generation) != (state, expected):
                    return False
                self._remove(tx, generation, plan)
                self._insert(tx, generation, (deals, intervals))
                self.on_rows_written()
                self.schema.advance(tx, generation, position, progress)
            if not ours:
                self.written.clear()
            for deal in folded:
                self.written.put(deal.deal_id, deal)
            self._left = (generation, position)
        return True

    def load(self, generation: int, folded: Sequence[Folded]) -> None:
        """Bulk-load rows of deals not yet in a building generation; no position.

        The rebuild alone writes there (under its lock) and moves the position
        when the whole scan is in, so concurrent loaders need no tracking row.
        """
        rows = self._rows(
            [f.deal for f in folded], [r for f in folded for r in f.intervals], folded
        )
        with self.store.write() as tx:
            self._insert(tx, generation, rows)

    def _rows(
        self, deals: Sequence[Row], intervals: Sequence[Row], folded: Sequence[Folded]
    ) -> tuple[list[Sequence[Any]], list[Sequence[Any]]]:
        """Deal rows and interval rows, bound before any transaction opens."""
        bind_deal, bind_interval = self._bind_deal, self._bind_interval
        try:
            return [bind_deal(r) for r in deals], [bind_interval(r) for r in intervals]
        except Exception as error:
            raise self._unbound(deals, intervals, folded, error) from error

    def _unbound(
        self,
        deals: Sequence[Row],
        intervals: Sequence[Row],
        folded: Sequence[Folded],
        error: Exception,
    ) -> Unprojectable:
        """The deal whose rows the database cannot take (a time out of its range
        in a log older than the door's checks, say), and its last position."""
        versions = {f.deal_id: f.version for f in folded}
        for bind, rows in ((self._bind_deal, deals), (self._bind_interval, intervals)):
            for row in rows:
                try:
                    bind(row)
                except Exception as found:
                    deal_id = row[0]
                    position = self.position_of(deal_id, versions.get(deal_id, 0))
                    said = " ".join(str(found).split()) or type(found).__name__
                    reason = f"its rows cannot be stored: {said}"
                    return Unprojectable(deal_id, position, reason)
        return Unprojectable(None, None, str(error))

    def _insert(
        self,
        tx: Tx,
        generation: int,
        rows: tuple[list[Sequence[Any]], list[Sequence[Any]]],
    ) -> None:
        deals, intervals = rows
        # An empty COPY still runs the count tables' statement triggers.
        if deals:
            tx.insert(self.schema.table(DEAL_PHASES, generation), DEAL_COLUMNS, deals)
        if intervals:
            tx.insert(
                self.schema.table(PHASE_INTERVALS, generation),
                INTERVAL_COLUMNS,
                intervals,
            )

    def on_rows_written(self) -> None:
        """Runs in the transaction before the position moves: a seam for tests."""

    def _remove(self, tx: Tx, generation: int, plan: Changes) -> None:
        """Delete the deal rows `plan` replaces, and each cut deal's intervals
        from its first changed seq on."""
        self.store.remove_rows(
            tx,
            self.schema.table(DEAL_PHASES, generation),
            self.schema.table(PHASE_INTERVALS, generation),
            plan.deals,
            plan.intervals,
        )


@dataclass
class Changes:
    """A page's writes: rows to delete by key, then rows to insert."""

    deals: list[uuid.UUID] = field(default_factory=list)  # deal rows to delete
    intervals: list[tuple[uuid.UUID, int]] = field(
        default_factory=list
    )  # (deal, first seq): its interval rows from that seq on go
    deal_rows: list[Row] = field(default_factory=list)
    interval_rows: list[Row] = field(default_factory=list)


def changes(
    folded: Sequence[Folded],
    written: Recent[uuid.UUID, Folded] | None,
    fresh: Collection[uuid.UUID],
) -> Changes:
    """The writes that turn the stored rows of `folded`'s deals into theirs.

    `written` holds the rows stored now for the deals it knows (None: nothing
    is known); `fresh` deals have no rows at all (opened after the position).
    An unknown deal is replaced whole; a known one keeps its unchanged deal row
    and the intervals before the first that differs.
    """
    plan = Changes()
    for deal in folded:
        deal_id = deal.deal_id
        old = None if written is None else written.get(deal_id)
        kept = 0  # the deal's intervals stored already and still right
        if deal_id in fresh:
            plan.deal_rows.append(deal.deal)
        elif old is None:
            plan.deals.append(deal_id)
            plan.deal_rows.append(deal.deal)
            plan.intervals.append((deal_id, 0))
        else:
            if old.deal != deal.deal:
                plan.deals.append(deal_id)
                plan.deal_rows.append(deal.deal)
            for before, now in zip(old.intervals, deal.intervals, strict=False):
                if before != now:
                    break
                kept += 1
            if kept < len(old.intervals):
                plan.intervals.append((deal_id, kept))
        plan.interval_rows.extend(deal.intervals[kept:])
    return plan
