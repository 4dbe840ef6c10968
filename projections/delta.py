"""What the live runner remembers between pages, and the smallest write of a page.

A live page touches a few dozen deals of a large log, each of which usually just
got one more action. Re-reading and re-writing whole deals made the page cost
grow with the deals' histories; instead the runner keeps, for recently touched
deals, their decoded history (`Folder`) and the rows it last wrote (`PageWriter`),
both in a bounded `Recent`. Forgetting is always safe: a deal that is not
remembered is read, or replaced, whole, as before.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

from projections.dialect import Row

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

    from projections.fold import Folded

K = TypeVar("K")
V = TypeVar("V")
REMEMBERED = 20_000  # deals: ~5 kB each at 4 actions a deal (history 4, rows 1.4)


class Recent(Generic[K, V]):
    """A mapping that keeps only its `size` most recently stored keys.

    Thread-safe: a rebuild's catch-up and the live runner share a `Folder`.
    """

    def __init__(self, size: int = REMEMBERED) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        return self._items.get(key)

    def __len__(self) -> int:
        return len(self._items)

    def put(self, key: K, value: V) -> None:
        with self._lock:
            items = self._items
            items[key] = value
            items.move_to_end(key)
            while len(items) > self.size:
                items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


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
