"""de-deal-phasen: setter and closer phases of a consulting sale (seeds/001)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from domain.history import KEPT, NO_RULE, TERMINAL
from tests.helpers.deal_story import Story
from tests.scenarios.api_story import ApiDeal

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

LEAD = {"first_name": "Jonas", "last_name": "Becker", "mobile": "+49 151 2345678"}


def _booked_lead() -> Story:
    story = Story("de-deal-phasen")
    story.log("inquiry", **LEAD)
    story.log("setting_call", "qualified")
    story.log("consultation_booked")
    return story


def test_lead_goes_from_inquiry_through_two_consultations_to_sold() -> None:
    story = Story("de-deal-phasen")
    # Step 1: the form arrives with first name, last name and mobile.
    assert story.log("inquiry", **LEAD).phase_after == "inquiry_received"
    # Step 2: the setter calls; not yet gold standard: follow-up list.
    step = story.log("setting_call", "not_qualified_yet")
    assert step.phase_after == "follow_up"
    # Step 3: a goodwill call qualifies him, but he has no time for a consultation.
    step = story.log("setting_call", "qualified", days=5)
    assert step.phase_after == "qualified_no_appointment"
    # Step 4: the consultation is booked; postponed once, which changes nothing.
    assert story.log("consultation_booked").phase_after == "first_consultation"
    assert story.log("consultation_held", "postponed").effect == KEPT
    # Step 5: no close in the first call: the optional follow-up conversation.
    step = story.log("consultation_held", "follow_up_booked", days=2)
    assert step.phase_after == "second_consultation"
    # Step 6: sold in the second call, with an upsell candidate flagged.
    step = story.log("consultation_held", "sold", days=3, upsell=True)
    assert step.phase_after == "sold"
    assert step.chain is not None
    assert (step.chain.pipeline, step.chain.action) == (
        "de-upsell",
        "upsell_candidate_identified",
    )


def test_inquiry_needs_first_name_last_name_and_mobile() -> None:
    story = Story("de-deal-phasen")
    assert (
        story.rejects("inquiry", first_name="Jonas", last_name="Becker").field
        == "fields.mobile"
    )
    assert story.entries == []


def test_setting_call_needs_an_outcome() -> None:
    story = Story("de-deal-phasen")
    story.log("inquiry", **LEAD)
    assert story.rejects("setting_call").field == "outcome"


def test_ko_in_setting_call_disqualifies_with_the_ko_reason() -> None:
    story = Story("de-deal-phasen")
    story.log("inquiry", **LEAD)
    # Step: a KO without saying which criterion is refused.
    error = story.rejects("setting_call", "ko")
    assert error.field == "fields.disqualification_reason"
    step = story.log("setting_call", "ko", disqualification_reason="wrong_fit")
    assert step.phase_after == "disqualified"
    assert story.state.phase_fields["disqualification_reason"] == "wrong_fit"
    # Step: a disqualified lead is not called again; a booking changes nothing.
    assert story.log("consultation_booked").effect == TERMINAL


def test_cancelled_first_consultation_goes_back_to_qualified_no_appointment() -> None:
    story = _booked_lead()
    step = story.log("consultation_held", "cancelled")
    assert step.phase_after == "qualified_no_appointment"
    # Step: rebooked, it is a first consultation again.
    assert story.log("consultation_booked").phase_after == "first_consultation"


def test_cancelled_second_consultation_means_not_sold() -> None:
    story = _booked_lead()
    assert story.log("consultation_booked").phase_after == "second_consultation"
    step = story.log("consultation_held", "cancelled")
    assert step.phase_after == "not_sold"


def test_no_show_goes_back_to_follow_up() -> None:
    story = _booked_lead()
    assert story.log("consultation_held", "no_show").phase_after == "follow_up"


def test_setter_error_in_consultation_disqualifies_with_the_reason() -> None:
    story = _booked_lead()
    assert (
        story.rejects("consultation_held", "setter_error").field
        == "fields.disqualification_reason"
    )
    step = story.log(
        "consultation_held",
        "setter_error",
        disqualification_reason="other",
        disqualification_detail="sells insurance, not coaching",
    )
    assert step.phase_after == "disqualified"


def test_declined_lead_is_won_back_by_the_closers_follow_up() -> None:
    story = _booked_lead()
    assert story.log("consultation_held", "declined").phase_after == "not_sold"
    # Step: in his free time the closer books another conversation.
    step = story.log("consultation_booked", days=30)
    assert step.phase_after == "second_consultation"
    story.log("consultation_held", "declined")
    # Step: an offer with written confirmation closes him after all.
    step = story.log("written_confirmation", days=10)
    assert step.phase_after == "sold"
    assert step.chain is None  # no upsell flag: the upsell pipeline is optional


def test_repeated_inquiry_does_not_restart_a_lead_in_consultation() -> None:
    story = _booked_lead()
    assert story.log("inquiry", **LEAD).effect == KEPT
    assert story.phase == "first_consultation"


def test_free_progression_lets_the_latest_setting_call_win() -> None:
    story = _booked_lead()
    step = story.log("setting_call", "not_qualified_yet")
    assert step.phase_after == "follow_up"


def test_consultation_outcomes_apply_only_during_a_consultation() -> None:
    story = Story("de-deal-phasen")
    story.log("inquiry", **LEAD)
    story.log("setting_call", "qualified")
    # Step: an outcome logged with no consultation on is history, not a move.
    for outcome in ("sold", "declined", "no_show", "cancelled", "follow_up_booked"):
        step = story.log("consultation_held", outcome)
        assert (step.phase_after, step.effect) == ("qualified_no_appointment", NO_RULE)


def test_no_show_and_setter_error_are_first_consultation_outcomes() -> None:
    story = _booked_lead()
    assert story.log("consultation_booked").phase_after == "second_consultation"
    # Step: the seed names these for the first consultation only.
    assert story.log("consultation_held", "no_show").effect == NO_RULE
    assert story.log("consultation_held", "follow_up_booked").effect == NO_RULE
    assert story.log("consultation_held", "sold").phase_after == "sold"


def test_written_confirmation_wins_back_only_a_deal_not_sold() -> None:
    story = _booked_lead()
    step = story.log("written_confirmation")
    assert (step.phase_after, step.effect) == ("first_consultation", NO_RULE)
    story.log("consultation_held", "declined")
    assert story.log("written_confirmation").phase_after == "sold"


def test_disqualified_is_permanent_also_for_manual_moves() -> None:
    story = Story("de-deal-phasen")
    story.log("inquiry", **LEAD)
    story.log("setting_call", "ko", disqualification_reason="personal_conduct")
    # Step: "permanent ungeeignet": no action brings the lead back...
    assert story.log("inquiry", **LEAD).effect == TERMINAL
    assert story.log("setting_call", "qualified").effect == TERMINAL
    # Step: ...and no manual move either.
    error = story.rejects_move("follow_up", reason="he apologised")
    assert error.field == "phase"
    assert story.phase == "disqualified"


def test_a_not_sold_deal_may_still_be_moved_by_hand() -> None:
    story = _booked_lead()
    story.log("consultation_held", "declined")
    assert story.move("qualified_no_appointment").phase_after == (
        "qualified_no_appointment"
    )


# -- through the API, on both databases --------------------------------------------


def _api_booked_lead(client: TestClient, contact_id: str) -> ApiDeal:
    deal = ApiDeal(client, "de-deal-phasen", contact_id)
    deal.log("inquiry", **LEAD)
    deal.log("setting_call", "qualified")
    deal.log("consultation_booked")
    return deal


def test_api_consultation_outcomes_apply_from_the_consultation_phases(
    client: TestClient,
) -> None:
    deal = ApiDeal(client, "de-deal-phasen", "no-consultation-yet")
    deal.log("inquiry", **LEAD)
    deal.log("setting_call", "not_qualified_yet")
    # Step: "sold" logged with no consultation on is recorded, not a sale.
    answer = deal.log("consultation_held", "sold")
    assert (answer["phase"], answer["effect"]) == ("follow_up", "no_matching_rule")
    # Step: from Erstgespräch, a no-show goes back to Nachverfolgung.
    booked = _api_booked_lead(client, "unreliable")
    assert booked.log("consultation_held", "no_show")["phase"] == "follow_up"
    # Step: from Folgegespräch, a cancellation means Nicht verkauft.
    second = _api_booked_lead(client, "cancels-twice")
    assert second.log("consultation_held", "follow_up_booked")["phase"] == (
        "second_consultation"
    )
    assert second.log("consultation_held", "cancelled")["phase"] == "not_sold"


def test_api_written_confirmation_wins_back_only_from_not_sold(
    client: TestClient,
) -> None:
    deal = _api_booked_lead(client, "closer-follow-up")
    answer = deal.log("written_confirmation")
    assert (answer["phase"], answer["effect"]) == (
        "first_consultation",
        "no_matching_rule",
    )
    assert deal.log("consultation_held", "declined")["phase"] == "not_sold"
    # Step: the closer's offer, confirmed in writing, closes him after all.
    assert deal.log("written_confirmation", days=14)["phase"] == "sold"


def test_api_ko_and_setter_error_record_why_and_disqualified_is_permanent(
    client: TestClient,
) -> None:
    ko = ApiDeal(client, "de-deal-phasen", "wrong-industry")
    ko.log("inquiry", **LEAD)
    problem = ko.refused("setting_call", "ko")
    assert problem["field"] == "fields.disqualification_reason"
    ko.log("setting_call", "ko", disqualification_reason="wrong_fit")
    assert ko.deal()["lost_reason"] == "wrong_fit"
    # Step: "permanent ungeeignet": no manual move brings him back...
    disqualified = ko.deal_id
    assert ko.move_refused("follow_up", reason="apologised")["field"] == "phase"
    # ...nor does another inquiry by his natural keys: it opens no next sales
    # process (as it would after a deal merely lost) and is this deal's history.
    answer = ko.log("inquiry", **LEAD)
    assert (answer["deal_id"], answer["effect"]) == (
        str(disqualified),
        "terminal_phase",
    )
    deal = client.get(f"/v1/deals/{disqualified}").json()
    assert (deal["phase"], deal["lost_reason"]) == ("disqualified", "wrong_fit")

    rude = _api_booked_lead(client, "insulting-on-the-phone")
    problem = rude.refused("consultation_held", "setter_error")
    assert problem["field"] == "fields.disqualification_reason"
    rude.log(
        "consultation_held", "setter_error", disqualification_reason="personal_conduct"
    )
    report = client.get(
        "/v1/reports/lost-reasons",
        params={"pipeline": "de-deal-phasen", "after": rude.position},
    ).json()
    assert {r["reason"]: r["count"] for r in report["reasons"]} == {
        "wrong_fit": 1,
        "personal_conduct": 1,
    }
    # A lead merely not sold may come back as a new sales process.
    declined = _api_booked_lead(client, "not-now")
    declined.log("consultation_held", "declined")
    first = declined.deal_id
    again = declined.log("inquiry", **LEAD)
    assert again["deal_id"] != first
