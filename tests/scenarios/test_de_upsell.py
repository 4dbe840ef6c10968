"""de-upsell: the optional upsell pipeline that a sale in de-deal-phasen opens."""

from __future__ import annotations

from tests.helpers.deal_story import Story, open_chained


def _sold_with_upsell() -> Story:
    """The new-customer deal, sold and flagged for upsell; returns the upsell deal."""
    sale = Story("de-deal-phasen")
    sale.log("inquiry", first_name="Mia", last_name="Schulz", mobile="+49 160 987")
    sale.log("setting_call", "qualified")
    sale.log("consultation_booked")
    upsell = open_chained(sale.log("consultation_held", "sold", upsell=True))
    assert upsell.phase == "candidate"
    return upsell


def test_upsell_candidate_accepts_the_offer() -> None:
    story = _sold_with_upsell()
    # Step 1: the customer success manager sends the upsell offer.
    assert story.log("upsell_offer_sent", days=14).phase_after == "offer_sent"
    # Step 2: the customer accepts.
    assert story.log("upsell_accepted", days=5).phase_after == "upsold"
    assert story.visited() == ["candidate", "offer_sent", "upsold"]


def test_upsell_candidate_declines_the_offer() -> None:
    story = _sold_with_upsell()
    story.log("upsell_offer_sent")
    assert story.log("upsell_declined").phase_after == "declined"
    assert story.state.kind == "lost"
