"""`phaselog demo`: the synthetic history of `api.synthetic` logged for real.

The history ends at a moment `now` and is otherwise fixed by the seed: every
time in it is `now` plus an offset the seed decides. The first run takes the
clock's `now` (whole seconds); a later run finds it again from where the demo's
first action is stored, so it regenerates the same actions, each one replays
("already there") and the data stays as it was: the README's run command may be
run again. A run cut short is completed the same way.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from api.synthetic.generator import batches, history
from domain.commands import LogAction, VoidAction, digest_of
from domain.errors import PhaselogError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from domain.service import PhaseTracker

# Any moment in whole seconds: the demo's times are this plus the seed's offsets.
_REFERENCE = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


@dataclass
class DemoSummary:
    now: dt.datetime  # where the history ends
    stored: int = 0
    replayed: int = 0
    voided: int = 0
    deals: int = 0
    # (action id, reason) of each line the service refused
    rejected: list[tuple[str, str]] = field(default_factory=list)


def load_demo(
    tracker: PhaseTracker,
    actions: int,
    seed: int,
    progress: Callable[[int], None] = lambda done: None,
    *,
    batch_size: int = 1000,
    recorded_by: Mapping[str, str] | None = None,
) -> DemoSummary:
    """Log `actions` synthetic actions (and their voids); the same seed, same data.

    A first run ends the history at the tracker's clock, so stale deals and
    ages are current; a later one reuses that end (see the module's docstring).
    """
    now = loaded_until(tracker, seed) or tracker.clock().replace(microsecond=0)
    summary = DemoSummary(now=now)
    deals = set()
    for batch in batches(history(actions, seed=seed, now=now), batch_size):
        batch = [dataclasses.replace(c, recorded_by=recorded_by) for c in batch]
        logs = [c for c in batch if isinstance(c, LogAction)]
        # What is stored already, as it would be stored, needs no deal loaded:
        # replaying 300,000 through `log_actions` took 4 minutes (PostgreSQL).
        stored = tracker.store.find_actions([str(c.action_id) for c in logs])
        fresh = [
            c
            for c in logs
            if stored.get(str(c.action_id), (None, None))[1] != digest_of(c)
        ]
        summary.replayed += len(logs) - len(fresh)
        for command, answer in zip(fresh, tracker.log_actions(fresh), strict=True):
            if isinstance(answer, PhaselogError):
                summary.rejected.append((str(command.action_id), str(answer)))
            elif answer.replayed:
                summary.replayed += 1
            else:
                summary.stored += 1
                deals.add(answer.deal_id)
        for void in (c for c in batch if isinstance(c, VoidAction)):
            try:
                if not tracker.void(void).replayed:
                    summary.voided += 1
            except PhaselogError as error:
                summary.rejected.append((f"void of {void.action_id}", str(error)))
        progress(len(logs))
    summary.deals = len(deals)
    return summary


def loaded_until(tracker: PhaseTracker, seed: int) -> dt.datetime | None:
    """The `now` the demo of `seed` was first loaded with, if its first action
    is stored: that action's stored time less its offset."""
    first = next(iter(history(1, seed=seed, now=_REFERENCE)))
    assert isinstance(first, LogAction)
    assert first.action_id is not None and first.occurred_at is not None
    found = tracker.store.find_actions([first.action_id]).get(first.action_id)
    if found is None:
        return None
    deal_id, _ = found
    for entry in tracker.get_deal(deal_id).entries:
        if entry.entry_id == first.action_id:
            return _REFERENCE + (entry.occurred_at - first.occurred_at)
    return None
