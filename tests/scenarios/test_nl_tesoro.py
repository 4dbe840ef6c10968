"""nl-tesoro: a Tesoro CRM buyer from first contact to a signed contract (seeds/000)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from domain.engine import is_stale
from domain.history import BACKWARD, NO_RULE
from tests.helpers.deal_story import Story, at_day, preset
from tests.scenarios.api_story import ApiDeal

if TYPE_CHECKING:
    from fastapi.testclient import TestClient


def test_buyer_goes_from_lead_through_a_hold_to_won() -> None:
    story = Story("nl-tesoro")
    # Step 1: the website form captures name and phone: a lead.
    assert story.log("contact_captured", source="website").phase_after == "lead"
    # Step 2: budget and timeline are verified.
    assert story.log("budget_confirmed").phase_after == "qualification"
    # Step 3: a viewing is scheduled, then held; both belong to the viewing stage.
    assert story.log("viewing_scheduled").phase_after == "viewing"
    assert not story.log("viewing", days=3).moved
    # Step 4: the buyer makes an offer.
    assert story.log("offer_made").phase_after == "negotiation"
    # Step 5: financing is delayed: the deal is put on hold ("Wachtend").
    assert story.log("put_on_hold").phase_after == "on_hold"
    # Step 6: the bank comes through; the deal returns to negotiation.
    assert story.log("reactivated", days=20).phase_after == "negotiation"
    # Step 7: the seller accepts, the notary prepares the contract.
    assert story.log("offer_accepted").phase_after == "closing"
    # Step 8: everyone signs.
    assert story.log("contract_signed", days=14).phase_after == "won"
    assert story.visited() == [
        "lead", "qualification", "viewing", "negotiation",
        "on_hold", "negotiation", "closing", "won",
    ]  # fmt: skip


def test_viewing_logged_during_negotiation_does_not_move_back() -> None:
    story = Story("nl-tesoro")
    for action in ("contact_captured", "budget_confirmed", "viewing", "offer_made"):
        story.log(action)
    step = story.log("viewing")
    assert (step.phase_after, step.effect) == ("negotiation", BACKWARD)


def test_lost_needs_a_reason_from_the_list() -> None:
    story = Story("nl-tesoro")
    story.log("contact_captured")
    assert story.rejects("deal_lost").field == "fields.lost_reason"
    assert (
        story.rejects("deal_lost", lost_reason="weather").field == "fields.lost_reason"
    )
    assert story.log("deal_lost", lost_reason="financing").phase_after == "lost"


def test_lost_reason_other_needs_a_detail() -> None:
    story = Story("nl-tesoro")
    story.log("contact_captured")
    assert (
        story.rejects("deal_lost", lost_reason="other").field
        == "fields.lost_reason_detail"
    )
    step = story.log("deal_lost", lost_reason="other", lost_reason_detail="emigrated")
    assert step.phase_after == "lost"
    assert story.state.phase_fields["lost_reason_detail"] == "emigrated"


def test_lost_is_final_even_for_reactivated() -> None:
    story = Story("nl-tesoro")
    for action in ("contact_captured", "budget_confirmed", "viewing_scheduled"):
        story.log(action)
    story.log("deal_lost", lost_reason="timing")
    # Step: further actions on a lost deal are history only.
    assert not story.log("offer_made").moved
    # Step: `reactivated` resumes a Wachtend deal only; a lost one stays lost.
    step = story.log("reactivated", days=60)
    assert (step.phase_after, step.effect) == ("lost", NO_RULE)
    # Step: nor can a manual move take it out of lost.
    error = story.rejects_move("viewing", reason="buyer came back")
    assert (error.field, story.phase) == ("phase", "lost")
    assert "final" in error.reason


def test_manual_move_skipping_stages_needs_a_reason() -> None:
    story = Story("nl-tesoro")
    story.log("contact_captured")
    # Step: a returning client goes straight to negotiation; without a reason, no.
    error = story.rejects_move("negotiation")
    assert error.field == "reason"
    assert "qualification, viewing" in error.reason
    # Step: with the reason documented the move is kept.
    step = story.move("negotiation", reason="returning client, bought with us in 2021")
    assert step.phase_after == "negotiation"
    # Step: moving one stage on, or back, skips nothing and needs no reason.
    assert story.move("closing").phase_after == "closing"
    assert story.move("viewing").phase_after == "viewing"


def test_manual_move_into_lost_needs_the_lost_reason() -> None:
    story = Story("nl-tesoro")
    story.log("contact_captured")
    assert story.rejects_move("lost").field == "fields.lost_reason"
    assert story.move("lost", fields={"lost_reason": "price"}).phase_after == "lost"


def test_wachtend_label_stale_thresholds_and_probabilities() -> None:
    pipeline = preset("nl-tesoro")
    assert pipeline.label_of("on_hold") == "Wachtend"
    assert pipeline.label_of("on_hold", "en") == "On hold"
    open_phases = [p for p in pipeline.phases if p.kind == "open"]
    assert all(p.stale_after_days for p in open_phases)
    assert all(p.probability is not None for p in pipeline.phases)
    story = Story("nl-tesoro")
    story.log("contact_captured", days=0)
    assert not is_stale(pipeline, story.state, at_day(7))
    assert is_stale(pipeline, story.state, at_day(8))


def test_action_skipping_stages_needs_a_skip_reason() -> None:
    story = Story("nl-tesoro")
    story.log("contact_captured")
    # Step: a returning client makes an offer straight away: the offer skips
    # qualification and viewing, so it must say why ("documenteer altijd de reason").
    error = story.rejects("offer_made")
    assert error.field == "fields.skip_reason"
    assert "qualification, viewing" in error.reason
    step = story.log("offer_made", skip_reason="returning client, bought in 2021")
    assert step.phase_after == "negotiation"
    # Step: the next stage in order skips nothing and needs no reason.
    assert story.log("offer_accepted").phase_after == "closing"


def test_first_action_of_a_deal_skipping_stages_needs_a_skip_reason() -> None:
    story = Story("nl-tesoro")
    assert story.rejects("viewing").field == "fields.skip_reason"
    assert story.log("viewing", skip_reason="walk-in at the open house").moved


def test_back_dated_action_is_checked_where_it_lands_in_time() -> None:
    story = Story("nl-tesoro")
    story.log("contact_captured", days=0)
    story.log("budget_confirmed", days=5)
    # Step: a viewing on day 3, logged late, skips qualification at its own time.
    assert story.rejects("viewing", at=at_day(3)).field == "fields.skip_reason"
    # Step: on day 6 (after the qualification) it skips nothing.
    assert story.log("viewing", at=at_day(6)).phase_after == "viewing"


def test_losing_pausing_and_resuming_skip_nothing() -> None:
    story = Story("nl-tesoro")
    story.log("contact_captured")
    assert story.log("put_on_hold").phase_after == "on_hold"
    assert story.log("reactivated").phase_after == "lead"
    assert story.log("deal_lost", lost_reason="price").phase_after == "lost"


def test_reactivated_resumes_only_a_wachtend_deal() -> None:
    story = Story("nl-tesoro")
    story.log("contact_captured")
    step = story.log("reactivated")
    assert (step.phase_after, step.effect) == ("lead", NO_RULE)


# -- through the API, on both databases --------------------------------------------


def test_api_an_offer_that_skips_stages_is_refused_without_a_skip_reason(
    client: TestClient,
) -> None:
    deal = ApiDeal(client, "nl-tesoro", "returning-buyer")
    deal.log("contact_captured")
    # Step: the returning client makes an offer at once; no reason: 422, nothing kept.
    problem = deal.refused("offer_made")
    assert problem["field"] == "fields.skip_reason"
    assert "qualification, viewing" in problem["detail"]
    assert deal.phase == "lead"
    # Step: with the reason documented, the offer is kept and the deal negotiates.
    answer = deal.log("offer_made", skip_reason="bought a flat with us in 2021")
    assert (answer["previous_phase"], answer["phase"]) == ("lead", "negotiation")
    # Step: the next stage in order needs no reason.
    assert deal.log("offer_accepted")["phase"] == "closing"


def test_api_a_manual_move_that_skips_stages_still_needs_its_reason(
    client: TestClient,
) -> None:
    deal = ApiDeal(client, "nl-tesoro", "walk-in")
    deal.log("contact_captured")
    assert deal.move_refused("negotiation")["field"] == "reason"
    assert deal.move("negotiation", reason="returning client")["phase"] == "negotiation"


def test_api_reactivated_resumes_a_wachtend_deal_but_not_a_lost_one(
    client: TestClient,
) -> None:
    paused = ApiDeal(client, "nl-tesoro", "waiting-for-the-bank")
    for action in ("contact_captured", "budget_confirmed", "viewing_scheduled"):
        paused.log(action)
    assert paused.log("put_on_hold")["phase"] == "on_hold"
    assert paused.log("reactivated", days=20)["phase"] == "viewing"

    lost = ApiDeal(client, "nl-tesoro", "bought-elsewhere")
    lost.log("contact_captured")
    lost.log("deal_lost", lost_reason="competition")
    # Step: reactivating a lost deal is history only: it stays lost.
    answer = lost.log("reactivated", days=30)
    assert (answer["phase"], answer["effect"]) == ("lost", "no_matching_rule")


def test_api_lost_is_final_a_manual_move_cannot_reopen_it(client: TestClient) -> None:
    deal = ApiDeal(client, "nl-tesoro", "lost-for-good")
    deal.log("contact_captured")
    deal.log("deal_lost", lost_reason="other", lost_reason_detail="emigrated")
    problem = deal.move_refused("lead", reason="she is back")
    assert problem["field"] == "phase"
    assert "final" in problem["detail"]
    assert deal.deal()["phase"] == "lost"
    assert deal.deal()["lost_reason"] == "other"


def test_api_a_void_that_would_make_a_later_action_skip_is_refused(
    client: TestClient,
) -> None:
    deal = ApiDeal(client, "nl-tesoro", "typed-in-order")
    deal.log("contact_captured")
    budget = deal.log("budget_confirmed")
    deal.log("viewing_scheduled")
    # Step: without the budget, the viewing would skip qualification unexplained:
    # refused as the same history typed in order would be, nothing stored.
    response = client.post(
        f"/v1/actions/{budget['action_id']}/void", json={"reason": "wrong deal"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "fields.skip_reason"
    assert deal.phase == "viewing"


def test_a_void_is_checked_as_the_corrected_history_typed_in_order() -> None:
    story = Story("nl-tesoro")
    story.log("contact_captured")
    budget = story.log("budget_confirmed")
    story.log("viewing_scheduled")
    error = story.rejected(lambda: story.void(budget))
    assert error.field == "fields.skip_reason"
    # With the reason given at the time, the same void is kept.
    other = Story("nl-tesoro")
    other.log("contact_captured")
    budget = other.log("budget_confirmed")
    other.log("viewing_scheduled", skip_reason="in case the budget goes")
    assert other.void(budget).phase_after == "viewing"
