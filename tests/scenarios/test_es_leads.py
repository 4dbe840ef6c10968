"""es-leads: a prospect from first entry to an opportunity (seeds/004)."""

from __future__ import annotations

from domain.history import BACKWARD, SAME
from tests.helpers.deal_story import Story


def test_lead_pauses_resumes_and_converts_into_an_opportunity() -> None:
    story = Story("es-leads")
    # Step 1: a web form creates the lead.
    assert story.log("lead_created").phase_after == "new"
    # Step 2: two calls without an answer.
    assert story.log("contact_attempted").phase_after == "contact_attempt"
    assert story.log("contact_attempted", days=2).effect == SAME
    # Step 3: she picks up; she is interested but not ready.
    assert story.log("contact_made").phase_after == "contact_established"
    assert story.log("interest_shown").phase_after == "interested_undecided"
    # Step 4: she asks to be called again after the summer.
    step = story.log("contact_later_requested", follow_up_on="2024-09-02")
    assert step.phase_after == "contact_later"
    # Step 5: on the agreed date contact resumes where it stopped.
    assert story.log("contact_resumed", days=180).phase_after == "interested_undecided"
    # Step 6: needs and budget are assessed.
    step = story.log("qualification_started")
    assert step.phase_after == "qualification_in_progress"
    # Step 7: she asks for a quote: converted, which opens an opportunity.
    step = story.log("quote_requested")
    assert step.phase_after == "converted"
    assert step.chain is not None
    assert (step.chain.pipeline, step.chain.action) == (
        "es-opportunities",
        "quote_requested",
    )


def test_contact_later_needs_a_follow_up_date() -> None:
    story = Story("es-leads")
    story.log("lead_created")
    assert story.rejects("contact_later_requested").field == "fields.follow_up_on"
    assert (
        story.rejects("contact_later_requested", follow_up_on="after the summer").field
        == "fields.follow_up_on"
    )


def test_forward_action_leaves_the_pause_directly() -> None:
    story = Story("es-leads")
    story.log("lead_created")
    story.log("contact_made")
    story.log("contact_later_requested", follow_up_on="2024-05-01")
    assert story.log("interest_shown").phase_after == "interested_undecided"


def test_earlier_stage_action_leaves_the_lead_paused() -> None:
    story = Story("es-leads")
    for action in ("lead_created", "contact_made", "qualification_started"):
        story.log(action)
    story.log("contact_later_requested", follow_up_on="2024-05-01")
    step = story.log("contact_made")
    assert (step.phase_after, step.effect) == ("contact_later", BACKWARD)
    assert story.log("contact_resumed").phase_after == "qualification_in_progress"


def test_not_interested_needs_a_reason() -> None:
    story = Story("es-leads")
    story.log("lead_created")
    story.log("contact_made")
    assert story.rejects("marked_not_interested").field == "fields.reason"
    step = story.log("marked_not_interested", reason="needs are incompatible")
    assert step.phase_after == "not_interested"


def test_junk_from_a_web_campaign_is_marked_spam() -> None:
    story = Story("es-leads")
    story.log("lead_created")
    assert story.log("marked_spam").phase_after == "spam"
    assert story.state.kind == "lost"
