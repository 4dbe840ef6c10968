"""es-opportunities: a sales opportunity from quote request to close (seeds/004)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.helpers.deal_story import Story, open_chained
from tests.scenarios.api_story import ApiDeal

if TYPE_CHECKING:
    from fastapi.testclient import TestClient


def _opened_by_a_converted_lead() -> Story:
    lead = Story("es-leads")
    for action in ("lead_created", "contact_made", "qualification_started"):
        lead.log(action)
    opportunity = open_chained(lead.log("quote_requested"))
    assert opportunity.phase == "quote_requested"
    return opportunity


def test_opportunity_goes_from_quote_request_to_closed_won() -> None:
    story = _opened_by_a_converted_lead()
    # Step 1: the case is analysed with the customer.
    assert story.log("analysis_started").phase_after == "analysis"
    # Step 2: the quote goes out.
    assert story.log("quote_sent", days=3).phase_after == "proposal_sent"
    # Step 3: the customer asks for changes.
    assert story.log("changes_requested", days=5).phase_after == "negotiation"
    # Step 4: the revised proposal is accepted.
    assert story.log("proposal_accepted", days=4).phase_after == "closed_won"
    assert story.visited() == [
        "quote_requested", "analysis", "proposal_sent", "negotiation", "closed_won",
    ]  # fmt: skip


def test_customer_declines_without_another_provider() -> None:
    story = _opened_by_a_converted_lead()
    story.log("quote_sent")
    # Step: "Documentar razones": a reason from the list is asked for.
    assert story.rejects("declined").field == "fields.lost_reason"
    assert story.log("declined", lost_reason="budget").phase_after == "closed_lost"


def test_lost_to_competitor_needs_the_competitor() -> None:
    story = _opened_by_a_converted_lead()
    story.log("quote_sent")
    assert story.rejects("chose_competitor").field == "fields.competitor"
    step = story.log("chose_competitor", competitor="Acme Soluciones")
    assert step.phase_after == "closed_lost_competitor"


# -- through the API, on both databases --------------------------------------------


def test_api_closed_lost_documents_its_reason(client: TestClient) -> None:
    deal = ApiDeal(client, "es-opportunities", "sin-interes")
    deal.log("quote_requested")
    deal.log("quote_sent")
    # Step: "Documentar razones": without a reason from the list, nothing is kept.
    assert deal.refused("declined")["field"] == "fields.lost_reason"
    assert deal.refused("declined", lost_reason="other")["field"] == (
        "fields.lost_reason_detail"
    )
    deal.log("declined", lost_reason="budget")
    assert (deal.phase, deal.deal()["lost_reason"]) == ("closed_lost", "budget")


def test_api_lost_reasons_report_keeps_competitors_apart_from_reasons(
    client: TestClient,
) -> None:
    for contact, competitor in (("a", "Acme"), ("b", "Acme"), ("c", "Globex")):
        deal = ApiDeal(client, "es-opportunities", contact)
        deal.log("quote_requested")
        # Step: the competitor's name is required: it is the reason's detail.
        assert deal.refused("chose_competitor")["field"] == "fields.competitor"
        deal.log("chose_competitor", competitor=competitor)
        assert deal.deal()["lost_reason"] == "competitor"
    declined = ApiDeal(client, "es-opportunities", "d")
    declined.log("quote_requested")
    declined.log("declined", lost_reason="other", lost_reason_detail="project frozen")

    report = client.get(
        "/v1/reports/lost-reasons",
        params={"pipeline": "es-opportunities", "after": declined.position},
    ).json()

    assert report["total"] == 4
    assert report["reasons"] == [
        {
            "reason": "competitor",
            "count": 3,
            "details": [
                {"detail": "Acme", "count": 2},
                {"detail": "Globex", "count": 1},
            ],
        },
        {
            "reason": "other",
            "count": 1,
            "details": [{"detail": "project frozen", "count": 1}],
        },
    ]
