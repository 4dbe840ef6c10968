"""Reports on a small history whose numbers are worked out by hand.

nl-tesoro, T0 = day 0:
  A (ann): lead d0, qualification d2, viewing d5, negotiation d9, closing d10, won d12
  B (bob): lead d0, qualification d4, lost d6 (price)
  C (ann): lead d1, viewing d3 (still there)
  D (bob): lead d2, lost d3 (timing)
  E (ann): lead d20 (still there)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from projections.models import LostReason
from tests.projections.conftest import SKIP, day, log

if TYPE_CHECKING:
    from domain.pipeline import Pipeline
    from domain.service import PhaseTracker
    from projections.runner import Projector

DAY = 86400.0


@pytest.fixture
def tesoro(tracker: PhaseTracker, projector: Projector) -> Pipeline:
    story = [
        ("a", "ann", [("contact_captured", 0), ("budget_confirmed", 2),
                      ("viewing", 5), ("offer_made", 9), ("offer_accepted", 10),
                      ("contract_signed", 12)]),
        ("b", "bob", [("contact_captured", 0), ("budget_confirmed", 4)]),
        ("c", "ann", [("contact_captured", 1), ("viewing", 3)]),
        ("d", "bob", [("contact_captured", 2)]),
        ("e", "ann", [("contact_captured", 20)]),
    ]  # fmt: skip
    for contact, owner, actions in story:
        for action, at in actions:
            log(tracker, contact, action, at, actor=owner, **SKIP)  # C skips
    log(tracker, "b", "deal_lost", 6, actor="bob", lost_reason="price")
    log(tracker, "d", "deal_lost", 3, actor="bob", lost_reason="timing")
    projector.catch_up()
    return tracker.pipeline("nl-tesoro")


def test_funnel_counts_current_reached_passed_and_conversion(
    tesoro: Pipeline, projector: Projector
) -> None:
    funnel = projector.reports.funnel(tesoro)

    table = {p.phase: (p.current, p.reached, p.passed) for p in funnel.phases}
    assert table == {
        "lead": (1, 5, 5),
        "qualification": (0, 2, 3),  # C skipped it but passed it
        "viewing": (1, 2, 2),
        "negotiation": (0, 1, 1),
        "closing": (0, 1, 1),
        "won": (1, 1, 1),
        "lost": (2, 2, 2),
        "on_hold": (0, 0, 0),
    }
    conversions = {p.phase: p.conversion_to_next for p in funnel.phases}
    assert conversions["lead"] == pytest.approx(3 / 5)
    assert conversions["qualification"] == pytest.approx(2 / 3)
    assert conversions["viewing"] == pytest.approx(1 / 2)
    assert conversions["closing"] == 1.0
    assert conversions["won"] is None and conversions["lost"] is None
    assert (funnel.won, funnel.lost, funnel.open) == (1, 2, 2)
    assert funnel.win_rate == pytest.approx(1 / 3)
    assert "reached counts deals that entered the phase" in funnel.rule
    assert "passed counts deals that entered it or any later phase" in funnel.rule


def test_funnel_filters_by_owner_and_by_the_period_deals_opened_in(
    tesoro: Pipeline, projector: Projector
) -> None:
    anns = projector.reports.funnel(tesoro, owner="ann")
    late = projector.reports.funnel(tesoro, since=day(1.5), until=day(30))

    assert [p.reached for p in anns.phases[:3]] == [3, 1, 2]
    assert (anns.won, anns.lost, anns.open) == (1, 0, 2)
    assert [p.reached for p in late.phases[:2]] == [2, 0]
    assert (late.lost, late.open, late.win_rate) == (1, 1, 0.0)


def test_time_in_stage_of_completed_intervals_and_current_deals(
    tesoro: Pipeline, projector: Projector
) -> None:
    report = projector.reports.time_in_stage(tesoro, now=day(30))

    stages = {s.phase: s for s in report.phases}
    lead = stages["lead"]  # completed: 2, 4, 2, 1 days; E there since d20
    assert (lead.count, lead.current) == (4, 1)
    assert lead.mean_seconds == pytest.approx(2.25 * DAY)
    assert lead.median_seconds == pytest.approx(2 * DAY)
    assert lead.p90_seconds == pytest.approx(3.4 * DAY)
    assert lead.current_median_age_seconds == pytest.approx(10 * DAY)
    qualification = stages["qualification"]  # 3 and 2 days
    assert qualification.median_seconds == pytest.approx(2.5 * DAY)
    assert qualification.p90_seconds == pytest.approx(2.9 * DAY)
    viewing = stages["viewing"]
    assert (viewing.count, viewing.mean_seconds, viewing.current) == (1, 4 * DAY, 1)
    assert viewing.current_median_age_seconds == pytest.approx(27 * DAY)
    assert stages["lost"].current_median_age_seconds == pytest.approx(25.5 * DAY)
    on_hold = stages["on_hold"]
    assert (on_hold.count, on_hold.median_seconds, on_hold.current) == (0, None, 0)


def test_time_in_stage_filters_by_entry_period_and_owner(
    tesoro: Pipeline, projector: Projector
) -> None:
    report = projector.reports.time_in_stage(
        tesoro, now=day(30), since=day(0.5), until=day(10), owner="bob"
    )

    stages = {s.phase: s for s in report.phases}
    assert (stages["lead"].count, stages["lead"].median_seconds) == (1, DAY)  # D
    assert stages["qualification"].count == 1  # B, entered d4
    assert stages["lost"].current == 2


def test_time_in_stage_by_owner_counts_a_reassigned_deal_for_its_new_owner(
    tracker: PhaseTracker, tesoro: Pipeline, projector: Projector
) -> None:
    log(tracker, "c", "viewing", 15, actor="ann", owner="bob")  # C: Ann's, now Bob's
    projector.catch_up()

    bobs = projector.reports.time_in_stage(tesoro, now=day(30), owner="bob")
    anns = projector.reports.time_in_stage(tesoro, now=day(30), owner="ann")

    bob = {s.phase: (s.count, s.current) for s in bobs.phases}
    ann = {s.phase: (s.count, s.current) for s in anns.phases}
    # Lead: B 4 days, D 1 day, C 2 days; Ann keeps A's 2 days and E's open stay.
    assert (bob["lead"], ann["lead"]) == ((3, 0), (1, 1))
    assert (bob["viewing"], ann["viewing"]) == ((0, 1), (1, 0))  # C's, A's
    assert bob["lost"] == (0, 2)
    assert sum(s.count + s.current for s in bobs.phases) + sum(
        s.count + s.current for s in anns.phases
    ) == sum(
        s.count + s.current
        for s in projector.reports.time_in_stage(tesoro, now=day(30)).phases
    )


def test_stale_lists_open_deals_past_their_phases_threshold(
    tesoro: Pipeline, projector: Projector
) -> None:
    stale_now = projector.reports.stale(tesoro, now=day(30)).rows
    stale_earlier = projector.reports.stale(tesoro, now=day(25)).rows

    assert [(d.contact_id, d.phase) for d in stale_now] == [
        ("c", "viewing"),  # 21 days allowed, stale since d24
        ("e", "lead"),  # 7 days allowed, stale since d27
    ]
    assert all(d.stale for d in stale_now)
    assert [d.contact_id for d in stale_earlier] == ["c"]
    assert projector.reports.stale(tesoro, now=day(30), owner="bob").rows == []


def test_lost_reasons_are_counted_per_reason(
    tesoro: Pipeline, projector: Projector
) -> None:
    reasons = projector.reports.lost_reasons(tesoro)

    assert reasons.reasons == [LostReason("price", 1), LostReason("timing", 1)]
    assert reasons.total == 2
    assert projector.reports.lost_reasons(tesoro, owner="ann").total == 0
    assert projector.reports.lost_reasons(tesoro, since=day(1)).reasons == [
        LostReason("timing", 1)
    ]


def test_deals_filter_by_phase_contact_and_staleness_with_keyset_pages(
    tesoro: Pipeline, projector: Projector
) -> None:
    reports = projector.reports
    first = reports.deals(pipeline="nl-tesoro", now=day(30), limit=2)
    second = reports.deals(
        pipeline="nl-tesoro", now=day(30), limit=2, cursor=first.next_cursor
    )
    third = reports.deals(
        pipeline="nl-tesoro", now=day(30), limit=2, cursor=second.next_cursor
    )

    pages = [first.rows, second.rows, third.rows]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert third.next_cursor is None
    ids = [d.deal_id for page in pages for d in page]
    assert ids == sorted(ids)
    assert {d.contact_id for d in reports.deals(phase="lost", now=day(30)).rows} == {
        "b",
        "d",
    }
    [b] = reports.deals(contact_id="b", now=day(30)).rows
    assert (b.phase_kind, b.lost_reason, b.probability, b.owner) == (
        "lost",
        "price",
        0,
        "bob",
    )
    assert (b.opened_at, b.phase_since, b.last_activity_at) == (day(0), day(6), day(6))
    stale = reports.deals(stale=True, now=day(30)).rows
    fresh = reports.deals(stale=False, now=day(30)).rows
    assert sorted(d.contact_id for d in stale) == ["c", "e"]
    assert sorted(d.contact_id for d in fresh) == ["a", "b", "d"]
    assert reports.deals(owner="bob", object_id="nothing", now=day(30)).rows == []
