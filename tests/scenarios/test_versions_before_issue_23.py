"""Presets changed to follow their seeds more closely get a new version; deals
opened under the version before keep its rules, through the API on both databases.

`before_issue_23/` holds those three definitions as they were: the first server
registers them (as a database made by an older phaselog did), the second one
the presets of today.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fastapi.testclient import TestClient

from api.app import create_app
from tests.api.conftest import ADMIN_KEY, bearer
from tests.scenarios.api_story import ApiDeal

if TYPE_CHECKING:
    from api.settings import Settings

BEFORE = Path(__file__).parent / "before_issue_23"
LEAD = {"first_name": "Jonas", "last_name": "Becker", "mobile": "+49 151 2345678"}


def _server(settings: Settings) -> TestClient:
    return TestClient(create_app(settings), headers=bearer(ADMIN_KEY))


def test_deals_opened_before_the_change_replay_and_go_on_under_their_version(
    api_settings: Settings,
) -> None:
    # Step: an older phaselog's server opens one deal in each changed pipeline.
    with _server(api_settings.model_copy(update={"pipelines_dir": BEFORE})) as old:
        tesoro = ApiDeal(old, "nl-tesoro", "old-buyer")
        tesoro.log("contact_captured")
        tesoro.log("offer_made")  # a skip, no reason asked then
        tesoro.log("deal_lost", lost_reason="timing")
        german = ApiDeal(old, "de-deal-phasen", "old-lead")
        german.log("inquiry", **LEAD)
        german.log("setting_call", "ko")  # no KO reason asked then
        spanish = ApiDeal(old, "es-opportunities", "old-opportunity")
        spanish.log("quote_requested")
        spanish.log("chose_competitor", competitor="Acme")
        before = {d.contact_id: d.timeline() for d in (tesoro, german, spanish)}
        assert {d.deal()["pipeline_version"] for d in (tesoro, german, spanish)} == {1}

    # Step: the upgraded server registers today's presets as version 2.
    with _server(api_settings) as new:
        for deal in (tesoro, german, spanish):
            deal.client = new
            versions = new.get(f"/v1/pipelines/{deal.pipeline}").json()["versions"]
            assert len(versions) == 2, deal.pipeline
            # The old deal replays exactly as it did.
            assert deal.timeline() == before[deal.contact_id]
            assert deal.deal()["pipeline_version"] == 1
        # The Spanish competitor stays the reason it was under version 1.
        assert spanish.deal()["lost_reason"] == "Acme"

        # Step: version 1's rules go on for the old deals. The lost Tesoro deal
        # is reactivated back to negotiation, and may skip closing unexplained.
        assert tesoro.log("reactivated")["phase"] == "negotiation"
        assert tesoro.log("contract_signed")["phase"] == "won"
        # The disqualified German lead may be moved back by hand, and a written
        # confirmation sells him from anywhere.
        assert german.move("follow_up", reason="he apologised")["phase"] == "follow_up"
        assert german.log("written_confirmation")["phase"] == "sold"

        # Step: a deal opened now follows version 2.
        fresh = ApiDeal(new, "nl-tesoro", "new-buyer")
        fresh.log("contact_captured")
        assert fresh.deal()["pipeline_version"] == 2
        assert fresh.refused("offer_made")["field"] == "fields.skip_reason"
        fresh.log("deal_lost", lost_reason="timing")
        answer = fresh.log("reactivated")
        assert (answer["phase"], answer["effect"]) == ("lost", "no_matching_rule")
        assert fresh.move_refused("lead", reason="back")["field"] == "phase"
        new_lead = ApiDeal(new, "de-deal-phasen", "new-lead")
        new_lead.log("inquiry", **LEAD)
        problem = new_lead.refused("setting_call", "ko")
        assert problem["field"] == "fields.disqualification_reason"
