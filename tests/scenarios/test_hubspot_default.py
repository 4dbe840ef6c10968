"""hubspot-default: HubSpot's default deal stages set up as seeds/003 advises."""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from domain.engine import expiry_due, replay
from domain.history import NOT_DUE
from domain.pipeline import Expiry
from storage.definitions import PRESETS_DIR
from tests.api.conftest import ADMIN_KEY, bearer
from tests.helpers.deal_story import Story, at_day, preset
from tests.scenarios.api_story import ApiDeal

if TYPE_CHECKING:
    from pathlib import Path

    from api.settings import Settings
    from domain.pipeline import Pipeline

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


# -- the three limits of how long a deal stays open ("hoe lang een deal open kan
# blijven, hoe lang in dezelfde fase, hoe lang zonder activiteit") ---------------


def _with_limits(**limits: int) -> Pipeline:
    """hubspot-default with other expiry limits, as a team would configure it."""
    pipeline = preset("hubspot-default")
    assert pipeline.expiry is not None
    expiry = Expiry.model_validate(
        {"to": pipeline.expiry.to, "fields": pipeline.expiry.fields, **limits}
    )
    return pipeline.model_copy(update={"expiry": expiry})


def test_the_preset_keeps_90_days_without_activity_and_no_other_limit() -> None:
    expiry = preset("hubspot-default").expiry
    assert expiry is not None
    assert (expiry.without_activity_days, expiry.in_stage_days, expiry.open_days) == (
        90,
        None,
        None,
    )


def test_the_old_after_days_spelling_still_means_without_activity() -> None:
    assert (
        Expiry.model_validate({"after_days": 30, "to": "x"}).without_activity_days == 30
    )


def test_a_deal_too_long_in_one_stage_expires_despite_activity() -> None:
    story = Story(_with_limits(without_activity_days=90, in_stage_days=30))
    story.log("meeting_booked", days=0)
    story.log("meeting_booked", days=20)  # activity, same stage
    assert expiry_due(story.pipeline, story.state) == at_day(30)
    # Step: a day early the expiry is not due; on day 30 it closes the deal.
    assert story.expire(days=9).effect == NOT_DUE
    step = story.expire(days=1)
    assert step.phase_after == "closed_lost"


def test_moving_on_restarts_the_in_stage_limit() -> None:
    story = Story(_with_limits(in_stage_days=30))
    story.log("meeting_booked", days=0)
    story.log("qualified", days=25, **QUALIFIED)
    assert expiry_due(story.pipeline, story.state) == at_day(55)


def test_a_deal_open_too_long_expires_however_busy() -> None:
    story = Story(_with_limits(without_activity_days=90, open_days=60))
    story.log("meeting_booked", days=0)
    story.log("qualified", days=20, **QUALIFIED)
    story.log("presentation_booked", days=20)
    story.log("decision_maker_approved", days=15)
    assert expiry_due(story.pipeline, story.state) == at_day(60)
    assert story.expire(days=5).phase_after == "closed_lost"


def test_the_earliest_limit_decides_and_a_late_activity_undoes_only_its_own() -> None:
    story = Story(_with_limits(without_activity_days=20, in_stage_days=45))
    story.log("meeting_booked", days=0)
    assert expiry_due(story.pipeline, story.state) == at_day(20)
    story.expire(days=20)
    assert story.phase == "closed_lost"
    # Step: a call on day 10, logged late: not idle for 20 days after all, and 45
    # days in the stage are not up on day 20 either.
    story.log("meeting_booked", at=at_day(10))
    assert story.phase == "appointment_scheduled"


# -- through the API, the server's sweeper, on both databases -----------------------


def test_api_the_sweeper_closes_each_deal_at_the_earliest_of_its_limits(
    api_settings: Settings, tmp_path: Path
) -> None:
    # Step: the team sets all three limits for its HubSpot pipeline.
    text = (PRESETS_DIR / "hubspot-default.yaml").read_text(encoding="utf-8")
    head, _, _ = text.partition("\nexpiry:")
    limits = "without_activity_days: 20, in_stage_days: 45, open_days: 70"
    (tmp_path / "hubspot-default.yaml").write_text(
        f"{head}\nexpiry: {{{limits}, to: closed_lost, "
        "fields: {closed_lost_reason: no_response}}\n",
        encoding="utf-8",
    )
    settings = api_settings.model_copy(
        update={"sweep_interval_seconds": 0.05, "pipelines_dir": tmp_path}
    )
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    stories = {
        # idle since day -30: due at -10 (in stage: -30+45, open: -30+70 later)
        "idle": ([("meeting_booked", -30)], -10),
        # busy but in one stage since -60: due at -15
        "stuck": ([("meeting_booked", d) for d in (-60, -45, -35, -25, -12)], -15),
        # moving on every 15 days, open since -75: due at -5
        "slow": (
            [
                ("meeting_booked", -75),
                ("qualified", -60),
                ("presentation_booked", -45),
                ("decision_maker_approved", -30),
                ("proposal_sent", -15),
            ],
            -5,
        ),
        "fresh": ([("meeting_booked", -10)], None),  # due in 10 days
    }
    # The stories are told before the sweeper starts: one sweeping between two
    # of a story's back-dated actions would write an expiry the later ones
    # make not due, a history of its own (see the expiry tests for those).
    telling = settings.model_copy(update={"sweep_interval_seconds": 0})
    deals = {}
    with TestClient(create_app(telling), headers=bearer(ADMIN_KEY)) as client:
        for contact, (actions, _) in stories.items():
            deal = ApiDeal(client, "hubspot-default", contact)
            for action, day in actions:
                at = now + dt.timedelta(days=day)
                deal.log(action, at=at, **(QUALIFIED if action == "qualified" else {}))
            deals[contact] = deal
    with TestClient(create_app(settings), headers=bearer(ADMIN_KEY)) as client:
        for deal in deals.values():
            deal.client = client
        projector = client.app.state.projector  # type: ignore[attr-defined]

        # Step: wait (bounded) for the sweeper to close the three that are due.
        deadline = time.monotonic() + 30
        due = [c for c, (_, day) in stories.items() if day is not None]
        while time.monotonic() < deadline and any(
            deals[c].phase != "closed_lost" for c in due
        ):
            with projector.progressed:
                projector.progressed.wait(timeout=1)

        for contact, (_, day) in stories.items():
            seen = deals[contact].deal()
            if day is None:
                assert seen["phase"] == "appointment_scheduled"
                continue
            assert (seen["phase"], seen["lost_reason"]) == (
                "closed_lost",
                "no_response",
            ), contact
            closed_at = dt.datetime.fromisoformat(seen["phase_since"])
            assert closed_at == now + dt.timedelta(days=day), contact
            # The expiry sits at its time: "stuck"'s last meeting comes after it.
            [(_, _, after)] = [e for e in deals[contact].timeline() if e[0] == "expiry"]
            assert after == "closed_lost", contact
