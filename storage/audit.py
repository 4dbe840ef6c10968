"""The log itself proved: every event against the leaves recorded with it.

`verify`/`rebuild` compare the read models with the log; this compares the log
with what was written: each event's leaf recomputed from its stored bytes and
checked against the leaf and chain hash stored in its transaction
(`storage.ledger`). `phaselog audit verify` runs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from storage.ledger import ChainCheck, Mismatch

if TYPE_CHECKING:
    from storage.ledger import Event, Leaf

WINDOW = 10_000  # positions read at a time: memory stays flat on a long log


class Ledger(Protocol):
    def ledger_bounds(self) -> int: ...

    def ledger_window(self, low: int, high: int) -> tuple[list[Event], list[Leaf]]: ...


@dataclass(frozen=True)
class LogCheck:
    events: int  # events found intact, in log order
    head: bytes  # the chain hash after them
    mismatch: Mismatch | None  # the first place the log is not as written

    @property
    def intact(self) -> bool:
        return self.mismatch is None


def check_log(ledger: Ledger) -> LogCheck:
    """Every event of the log, in order, against what was recorded with it."""
    check = ChainCheck()
    high = ledger.ledger_bounds()
    for low in range(0, high, WINDOW):
        mismatch = check.window(*ledger.ledger_window(low, low + WINDOW))
        if mismatch is not None:
            return LogCheck(check.events, check.head, mismatch)
    return LogCheck(check.events, check.head, None)
