"""The expiry sweeper: closes idle deals by writing Expired events.

The read model only proposes candidates (`expires_at <= now`); the tracker re-checks
each deal with the engine and writes the event with a deterministic id, so two
sweepers, or one sweeping twice, write it once, and replays never depend on when the
sweep ran.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from domain.application import ConcurrencyExhausted
from domain.errors import DealNotFound

if TYPE_CHECKING:
    import datetime as dt
    import threading
    import uuid

    from domain.application import PhaseTracker

logger = logging.getLogger(__name__)


class ExpiringDeals(Protocol):
    """Reports and Projector both answer this."""

    def expiring(self, now: dt.datetime) -> list[uuid.UUID]: ...


def sweep_expired(
    tracker: PhaseTracker,
    source: ExpiringDeals,
    now: dt.datetime,
    stopping: threading.Event | None = None,
) -> int:
    """Expire every due deal (until `stopping` is set); the number expired."""
    expired = 0
    for deal_id in source.expiring(now):
        if stopping is not None and stopping.is_set():
            break
        try:
            result = tracker.expire(deal_id)
        except (ConcurrencyExhausted, DealNotFound):
            logger.warning(
                "could not expire deal %s; next sweep", deal_id, exc_info=True
            )
            continue
        if result is not None and not result.replayed:
            expired += 1
    return expired
