"""hubspot-default: HubSpot's default deal stages set up as seeds/003 advises."""

from __future__ import annotations

import pytest

from domain.engine import NOT_DUE, expiry_due, replay
from tests.helpers.deal_story import Story, at_day, preset

QUALIFIED = {"budget": 25000, "timeline": "Q3", "decision_makers": "CFO, COO"}


def test_deal_goes_from_meeting_to_closed_won() -> None:
    story = Story("hubspot-default")
    # Step 1: the prospect books a discovery meeting.
    assert story.log("meeting_booked").phase_after == "appointment_scheduled"
    # Step 2: the call reveals budget, timeline and decision makers.
    assert story.log("qualified", days=7, **QUALIFIED).phase_after == "qualified_to_buy"
    # Step 3: demo for the buying committee; the decision maker buys in.
    step = story.log("presentation_booked")
    assert step.phase_after == "presentation_scheduled"
    step = story.log("decision_maker_approved", days=10)
    assert step.phase_after == "decision_maker_bought_in"
    # Step 4: the proposal goes out from HubSpot Quotes and is signed.
    assert story.log("proposal_sent").phase_after == "contract_sent"
    assert story.log("proposal_signed", days=5).phase_after == "closed_won"


def test_probabilities_are_hubspots_defaults() -> None:
    pipeline = preset("hubspot-default")
    assert [p.probability for p in pipeline.phases] == [20, 40, 60, 80, 90, 100, 0]


@pytest.mark.parametrize("missing", sorted(QUALIFIED))
def test_qualified_needs_budget_timeline_and_decision_makers(missing: str) -> None:
    story = Story("hubspot-default")
    story.log("meeting_booked")
    fields = {k: v for k, v in QUALIFIED.items() if k != missing}
    assert story.rejects("qualified", **fields).field == f"fields.{missing}"


def test_closed_lost_reason_comes_from_the_dropdown() -> None:
    story = Story("hubspot-default")
    story.log("meeting_booked")
    assert story.rejects("deal_lost").field == "fields.closed_lost_reason"
    assert (
        story.rejects("deal_lost", closed_lost_reason="no budget").field
        == "fields.closed_lost_reason"
    )
    step = story.log("deal_lost", closed_lost_reason="status_quo")
    assert step.phase_after == "closed_lost"


def test_closed_lost_reason_other_needs_details() -> None:
    story = Story("hubspot-default")
    story.log("meeting_booked")
    assert (
        story.rejects("deal_lost", closed_lost_reason="other").field
        == "fields.closed_lost_details"
    )
    step = story.log(
        "deal_lost", closed_lost_reason="other", closed_lost_details="merger froze it"
    )
    assert step.phase_after == "closed_lost"


def test_expiry_closes_a_deal_idle_for_90_days() -> None:
    story = Story("hubspot-default")
    story.log("meeting_booked", days=0)
    assert expiry_due(story.pipeline, story.state) == at_day(90)
    # Step: the sweeper writes the expiry on day 90.
    step = story.expire(days=90)
    assert step.phase_after == "closed_lost"
    assert story.state.phase_fields == {"closed_lost_reason": "no_response"}
    assert story.state.last_activity_at == at_day(0)


def test_expiry_does_not_close_a_deal_with_activity_in_between() -> None:
    story = Story("hubspot-default")
    story.log("meeting_booked", days=0)
    story.log("qualified", days=60, **QUALIFIED)
    step = story.expire(days=30)
    assert (step.phase_after, step.effect) == ("qualified_to_buy", NOT_DUE)


def test_back_dated_activity_undoes_an_expiry_on_replay() -> None:
    story = Story("hubspot-default")
    story.log("meeting_booked", days=0)
    story.expire(days=90)
    assert story.phase == "closed_lost"
    # Step: a call on day 50 is logged late; the deal was not idle after all.
    story.log("qualified", at=at_day(50), **QUALIFIED)
    assert story.phase == "qualified_to_buy"
    # As known before the late entry, the deal was closed.
    assert replay(story.pipeline, story.entries[:2]).phase == "closed_lost"
