"""`phaselog demo`: the synthetic history of `bench.generator` logged for real."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bench.generator import batches, history
from domain.commands import LogAction, VoidAction
from domain.errors import PhaselogError

if TYPE_CHECKING:
    from collections.abc import Callable

    from domain.application import PhaseTracker


@dataclass
class DemoSummary:
    stored: int = 0
    replayed: int = 0
    rejected: int = 0
    voided: int = 0
    deals: int = 0


def load_demo(
    tracker: PhaseTracker,
    actions: int,
    seed: int,
    progress: Callable[[int], None] = lambda done: None,
    *,
    batch_size: int = 1000,
) -> DemoSummary:
    """Log `actions` synthetic actions (and their voids); the same seed, same data.

    The history ends at the tracker's clock, so stale deals and ages are current.
    Running it twice stores nothing new: every action carries its own action_id.
    """
    summary = DemoSummary()
    deals = set()
    for batch in batches(history(actions, seed=seed, now=tracker.clock()), batch_size):
        logs = [c for c in batch if isinstance(c, LogAction)]
        for answer in tracker.log_actions(logs):
            if isinstance(answer, PhaselogError):
                summary.rejected += 1
            elif answer.replayed:
                summary.replayed += 1
            else:
                summary.stored += 1
                deals.add(answer.deal_id)
        for void in (c for c in batch if isinstance(c, VoidAction)):
            try:
                if not tracker.void(void).replayed:
                    summary.voided += 1
            except PhaselogError:
                summary.rejected += 1
        progress(len(logs))
    summary.deals = len(deals)
    return summary
