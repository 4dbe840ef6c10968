"""The expiry sweeper closes idle HubSpot deals by writing Expired events, in
the process that leads the projection."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from api.sweeping import Sweeper, sweep_expired
from projections.runner import Projector
from tests.helpers.clock import FakeClock
from tests.projections.conftest import day, log

if TYPE_CHECKING:
    from collections.abc import Callable

    import pytest

    from domain.service import PhaseTracker


def test_a_hubspot_deal_idle_for_90_days_is_closed_lost_with_no_response(
    make_tracker: Callable[..., PhaseTracker],
) -> None:
    clock = FakeClock(day(0))
    tracker = make_tracker(clock=clock)
    projector = Projector(tracker)
    idle = log(tracker, "idle", "meeting_booked", 0, pipeline="hubspot-default")
    log(tracker, "busy", "meeting_booked", 0, pipeline="hubspot-default")
    clock.now = day(50)
    log(tracker, "busy", "presentation_booked", 50, pipeline="hubspot-default")
    log(tracker, "dutch", "contact_captured", 0)  # nl-tesoro has no expiry
    projector.catch_up()

    clock.now = day(89)
    assert sweep_expired(tracker, projector, clock.now) == 0
    clock.now = day(91)
    assert sweep_expired(tracker, projector, clock.now) == 1
    projector.catch_up()

    [deal] = projector.reports.deals(contact_id="idle", now=clock.now).rows
    assert (deal.deal_id, deal.phase, deal.lost_reason) == (
        idle.deal_id,
        "closed_lost",
        "no_response",
    )
    assert deal.phase_since == day(90)
    assert sweep_expired(tracker, projector, clock.now) == 0  # nothing due any more
    assert sweep_expired(tracker, projector.reports, day(200)) == 0  # not due yet
    assert projector.verify() == []


def test_the_sweep_expires_many_deals_per_transaction_and_stops_between_chunks(
    make_tracker: Callable[..., PhaseTracker], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock(day(0))
    tracker = make_tracker(clock=clock)
    projector = Projector(tracker)
    for n in range(5):
        log(tracker, f"idle-{n}", "meeting_booked", 0, pipeline="hubspot-default")
    projector.catch_up()
    clock.now = day(91)
    stopping = threading.Event()
    saves: list[int] = []
    real_save = tracker.store.save

    def save_then_stop(deals: Any, keys: Any = ()) -> Any:
        saves.append(len(deals))
        stopping.set()  # the server shuts down during the first chunk
        return real_save(deals, keys)

    monkeypatch.setattr(tracker.store, "save", save_then_stop)

    # Step: the first chunk is written whole; the sweep stops before the next.
    assert sweep_expired(tracker, projector, clock.now, stopping, chunk=2) == 2
    assert saves == [2]

    # Step: the next sweep picks up the rest, two deals per transaction.
    stopping.clear()
    monkeypatch.setattr(tracker.store, "save", real_save)
    projector.catch_up()
    saves.clear()
    monkeypatch.setattr(
        tracker.store, "save", lambda d, k=(): saves.append(len(d)) or real_save(d, k)
    )
    assert sweep_expired(tracker, projector, clock.now, chunk=2) == 3
    assert saves == [2, 1]
    projector.catch_up()
    assert projector.verify() == []


def test_only_the_process_that_leads_the_projection_sweeps(
    make_tracker: Callable[..., PhaseTracker],
) -> None:
    clock = FakeClock(day(0))
    tracker, other = make_tracker(clock=clock), make_tracker(clock=clock)
    log(tracker, "idle", "meeting_booked", 0, pipeline="hubspot-default")
    leader = Projector(tracker, poll_interval=0.05)
    standby = Projector(other, poll_interval=0.05)
    try:
        # Step: one projector leads the projection, the other stands by.
        leader.start()
        assert leader.leads(timeout=30)
        standby.start()
        assert standby.leads(timeout=30) is False
        assert leader.wait_for(tracker.store.recorder.max_notification_id() or 0, 30)
        clock.now = day(91)

        # Step: the standby's sweeper leaves the due deal to the leader's.
        assert Sweeper(other, standby, interval=60).sweep() is None
        assert Sweeper(tracker, leader, interval=60).sweep() == 1
    finally:
        standby.stop()
        leader.stop()
