"""fr-rental: a tenant through CASAONE's rental phases (seeds/002, rental note)."""

from __future__ import annotations

from tests.helpers.deal_story import Story


def test_tenant_goes_from_matching_to_signed_lease() -> None:
    story = Story("fr-rental")
    # Step 1: matching writes to the tenant; the tenant inquires on a portal.
    assert story.log("matching_contacted").phase_after == "contacted_via_matching"
    assert story.log("inquiry_received").phase_after == "inquiry_received"
    # Step 2: the auto-responder answers and the documentation goes out.
    assert story.log("auto_reply_sent", days=0).phase_after == "inquiry_answered"
    assert story.log("documentation_sent").phase_after == "documentation_sent"
    # Step 3: two viewings: the second one with the partner.
    assert story.log("viewing").phase_after == "first_viewing"
    assert story.log("viewing", days=2).phase_after == "second_viewing"
    # Step 4: the application file comes in and the solvency is checked.
    assert story.log("application_received").phase_after == "application_received"
    assert story.log("solvency_check", days=3).phase_after == "solvency_check"
    # Step 5: the lease is drafted and signed.
    assert story.log("lease_draft").phase_after == "lease_preparation"
    assert story.log("lease_signature").phase_after == "lease_signed"
    assert story.state.kind == "won"


def test_refusal_after_solvency_check_cancels_with_a_reason() -> None:
    story = Story("fr-rental")
    for action in ("inquiry_received", "viewing", "application_received"):
        story.log(action)
    story.log("solvency_check")
    assert story.rejects("refusal", reason="  ").field == "fields.reason"
    step = story.log("refusal", reason="debt collection records")
    assert step.phase_after == "cancelled"
    assert story.state.phase_fields == {"reason": "debt collection records"}


def test_documentation_before_first_viewing_is_skipped_without_harm() -> None:
    story = Story("fr-rental")
    story.log("inquiry_received")
    # The viewing comes before any answer: the deal jumps ahead, phases are skipped.
    assert story.log("viewing").phase_after == "first_viewing"
    assert story.visited() == ["inquiry_received", "first_viewing"]
