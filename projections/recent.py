"""What the live runner remembers between pages.

A live page touches a few dozen deals of a large log, each of which usually just
got one more action. Re-reading and re-writing whole deals made the page cost
grow with the deals' histories; instead the runner keeps, for recently touched
deals, their decoded history (`Folder`) and the rows it last wrote (`PageWriter`,
which then writes only what changed), both in a bounded `Recent`. Forgetting is
always safe: a deal that is not remembered is read, or replaced, whole, as before.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

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
