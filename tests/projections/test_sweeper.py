"""The expiry sweeper closes idle HubSpot deals by writing Expired events."""

from __future__ import annotations

from typing import TYPE_CHECKING

from projections.runner import Projector
from projections.sweeper import sweep_expired
from tests.projections.conftest import day, log

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable

    from domain.application import PhaseTracker


class FakeClock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


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
