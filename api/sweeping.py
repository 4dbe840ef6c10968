"""The expiry sweeper: closes idle deals by writing Expired events.

The read model only proposes candidates (`expires_at <= now`); the tracker re-checks
each deal with the engine and writes the event with a deterministic id, so two
sweepers, or one sweeping twice, write it once, and replays never depend on when the
sweep ran.

The sweeper writes events, so it is no part of the projector (which reads the log
and writes read models only): it runs beside it, started by whoever starts the
projector (the server's lifespan, `phaselog project`), and sweeps only while that
projector leads the projection, so one process sweeps, from current read models.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Protocol

from domain.errors import PhaselogError

if TYPE_CHECKING:
    import datetime as dt
    import uuid

    from domain.service import PhaseTracker
    from projections.runner import Projector

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


class Sweeper:
    """Sweeps every `interval` seconds, on a thread of its own, while `projector`
    leads the projection."""

    def __init__(
        self, tracker: PhaseTracker, projector: Projector, interval: float
    ) -> None:
        self.tracker = tracker
        self.projector = projector
        self.interval = interval
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep(self) -> int | None:
        """Expire the deals due now if this process leads the projection: the
        number expired, or None when another process leads (and sweeps)."""
        if not self.projector.leads(0):
            return None
        now = self.tracker.clock()
        return sweep_expired(self.tracker, self.projector, now, self._stopping)

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        # A thread of its own: the first sweep of a big log expires thousands of
        # deals, one transaction each, and the projection must not wait for it
        # (inline, it stalled the read models for the whole of a 1,000/s burst).
        self._thread = threading.Thread(
            target=self._loop, name="phaselog-sweep", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()  # it stops between two chunks of deals
            self._thread = None

    def _loop(self) -> None:
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                swept = self.sweep()
            except Exception:
                logger.exception("expiry sweep failed; next interval")
                swept = 0
            if swept is None:
                # Not leading: ask again as often as the projector asks for the
                # projection, so a standby that takes over sweeps soon after.
                wait = min(self.interval, self.projector.poll_interval)
            else:
                wait = self.interval - (time.monotonic() - started)
            self._stopping.wait(max(wait, 0.0))
