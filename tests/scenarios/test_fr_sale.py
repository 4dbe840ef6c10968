"""fr-sale: an interested buyer through CASAONE's sale phases (seeds/002)."""

from __future__ import annotations

from domain.history import BACKWARD, TERMINAL
from tests.helpers.deal_story import Story


def test_buyer_goes_from_matching_to_signed_contract() -> None:
    story = Story("fr-sale")
    # Step 1: the object's matching writes to a saved search profile.
    assert story.log("matching_contacted").phase_after == "contacted_via_matching"
    # Step 2: the same person sends an inquiry through a portal.
    assert story.log("inquiry_received").phase_after == "inquiry_received"
    # Step 3: the agent answers and sends the documentation.
    assert story.log("inquiry_answered").phase_after == "inquiry_answered"
    assert story.log("documentation_sent").phase_after == "documentation_sent"
    # Step 4: the first viewing, then a second one a week later.
    assert story.log("viewing").phase_after == "first_viewing"
    assert story.log("viewing", days=7).phase_after == "second_viewing"
    # Step 5: price negotiation, reservation, purchase confirmation.
    assert story.log("negotiation").phase_after == "sales_negotiation"
    assert story.log("reservation").phase_after == "reservation"
    assert story.log("purchase_confirmation").phase_after == "purchase_confirmation"
    # Step 6: the bank's letter, the draft contract, the land registry and notary.
    assert story.log("financing_proof", days=10).phase_after == "financing_proof"
    assert story.log("contract_draft").phase_after == "contract_preparation"
    assert story.log("notary").phase_after == "land_registry_notary"
    # Step 7: the notary certifies the deed: the contract is signed.
    assert story.log("notarial_certification").phase_after == "contract_signed"
    assert story.state.kind == "won"


def test_third_viewing_stays_in_second_viewing() -> None:
    story = Story("fr-sale")
    story.log("inquiry_received")
    story.log("viewing")
    story.log("viewing")
    assert not story.log("viewing").moved
    assert story.phase == "second_viewing"


def test_voiding_the_second_viewing_returns_to_first_viewing() -> None:
    story = Story("fr-sale")
    story.log("inquiry_received")
    story.log("viewing")
    second = story.log("viewing")
    story.void(second, reason="logged on the wrong contact")
    assert story.phase == "first_viewing"
    # The next real viewing is the second one again.
    assert story.log("viewing").phase_after == "second_viewing"


def test_auto_reply_counts_as_inquiry_answered() -> None:
    story = Story("fr-sale")
    story.log("inquiry_received")
    assert story.log("auto_reply_sent", days=0).phase_after == "inquiry_answered"


def test_late_documentation_after_a_viewing_does_not_move_back() -> None:
    story = Story("fr-sale")
    story.log("inquiry_received")
    story.log("viewing")
    step = story.log("documentation_sent")
    assert (step.phase_after, step.effect) == ("first_viewing", BACKWARD)


def test_refusal_cancels_only_with_a_reason() -> None:
    story = Story("fr-sale")
    story.log("inquiry_received")
    story.log("viewing")
    # Step: the refusal without a reason is rejected and nothing is stored.
    assert story.rejects("refusal").field == "fields.reason"
    assert len(story.entries) == 2
    # Step: with the reason the interested party moves to cancellation.
    assert story.log("refusal", reason="too far from school").phase_after == "cancelled"
    # Step: a later viewing is history only: cancellation is terminal.
    assert story.log("viewing").effect == TERMINAL
    assert story.phase == "cancelled"


def test_manual_placement_needs_no_reason_when_skipping() -> None:
    story = Story("fr-sale")
    story.log("inquiry_received")
    # CASAONE adds a remark to the history; skipping phases is allowed.
    assert story.move("reservation").phase_after == "reservation"
