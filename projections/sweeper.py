"""The expiry sweeper: closes idle deals by writing Expired events.

The read model only proposes candidates (`expires_at <= now`); the tracker re-checks
each deal with the engine and writes the event with a deterministic id, so two
sweepers, or one sweeping twice, write it once, and replays never depend on when the
sweep ran.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from domain.errors import PhaselogError

if TYPE_CHECKING:
    import datetime as dt
    import threading
    import uuid

    from domain.service import PhaseTracker

logger = logging.getLogger(__name__)
SWEEP_CHUNK = 500  # deals per transaction, and between two looks at `stopping`


class ExpiringDeals(Protocol):
    """Reports and Projector both answer this."""

    def expiring(self, now: dt.datetime) -> list[uuid.UUID]: ...


def sweep_expired(
    tracker: PhaseTracker,
    source: ExpiringDeals,
    now: dt.datetime,
    stopping: threading.Event | None = None,
    chunk: int = SWEEP_CHUNK,
) -> int:
    """Expire every due deal, `chunk` deals per transaction, until `stopping`
    is set (checked between chunks); the number expired.

    One transaction per deal took minutes on a big imported log, loading the
    server all that time; a deal that cannot be expired now (a concurrent
    write kept winning, or it is gone) waits for the next sweep.
    """
    expired = 0
    candidates = source.expiring(now)
    for start in range(0, len(candidates), chunk):
        if stopping is not None and stopping.is_set():
            break
        deal_ids = candidates[start : start + chunk]
        for deal_id, answer in zip(
            deal_ids, tracker.expire_many(deal_ids), strict=True
        ):
            if isinstance(answer, PhaselogError):
                logger.warning(
                    "could not expire deal %s (%r); next sweep", deal_id, answer
                )
            elif answer is not None and not answer.replayed:
                expired += 1
    return expired
