"""The event store on both databases: deals as aggregates, replays, voids, keys."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING

import pytest

from domain.commands import DealView, LogAction, MoveDeal, VoidAction
from domain.deal import deal_id_for
from domain.errors import (
    ActionConflict,
    ActionNotFound,
    DealNotFound,
    InvalidCommand,
    UnknownPipeline,
)
from tests.helpers.clock import day

if TYPE_CHECKING:
    from domain.service import PhaseTracker


# nl-tesoro asks an action that skips stages why ("documenteer altijd de reason").
SKIP = {"skip_reason": "returning client"}


def tesoro(type: str, at: float, **kw: object) -> LogAction:
    return LogAction(
        pipeline="nl-tesoro", contact_id="anna", type=type, occurred_at=day(at), **kw
    )  # type: ignore[arg-type]


def head(tracker: PhaseTracker) -> int:
    return tracker.store.recorder.max_notification_id() or 0


def test_first_action_opens_the_deal_by_natural_keys(tracker: PhaseTracker) -> None:
    result = tracker.log_action(tesoro("contact_captured", 0, object_id="flat-7"))
    again = tracker.log_action(tesoro("budget_confirmed", 1, object_id="flat-7"))

    assert again.deal_id == result.deal_id
    view = tracker.deal(result.deal_id)
    assert (view.pipeline, view.contact_id, view.object_id) == (
        "nl-tesoro",
        "anna",
        "flat-7",
    )
    assert view.state.phase == "qualification"
    assert view.state.opened_at == day(0)
    assert (result.previous_phase, result.phase) == (None, "lead")
    assert again.position > result.position


def test_back_dated_action_re_derives_later_phases(tracker: PhaseTracker) -> None:
    tracker.log_action(tesoro("contact_captured", 0))
    tracker.log_action(tesoro("put_on_hold", 5))
    # Step: a qualification that really happened on day 2 is entered late.
    late = tracker.log_action(tesoro("budget_confirmed", 2))
    # Step: reactivation returns to the phase held before the pause, which the
    # back-dated entry changed from lead to qualification.
    result = tracker.log_action(tesoro("reactivated", 6))

    assert (late.previous_phase, late.phase) == ("on_hold", "on_hold")
    assert result.phase == "qualification"
    state = tracker.deal(result.deal_id).state
    assert [(i.phase, i.entered_at) for i in state.intervals] == [
        ("lead", day(0)),
        ("qualification", day(2)),
        ("on_hold", day(5)),
        ("qualification", day(6)),
    ]


def test_timeline_as_of_cuts_business_time(tracker: PhaseTracker) -> None:
    tracker.log_action(tesoro("contact_captured", 0))
    tracker.log_action(tesoro("budget_confirmed", 2))
    last = tracker.log_action(tesoro("viewing", 4))

    timeline = tracker.timeline(last.deal_id, as_of=day(3))

    assert timeline.state.phase == "qualification"
    assert [s.entry.type for s in timeline.steps] == [
        "contact_captured",
        "budget_confirmed",
    ]
    assert tracker.timeline(last.deal_id).state.phase == "viewing"


def test_timeline_known_at_cuts_recording_time(tracker: PhaseTracker) -> None:
    first = tracker.log_action(tesoro("contact_captured", 0))
    tracker.log_action(tesoro("offer_made", 3, fields=SKIP))
    known = tracker.timeline(first.deal_id).steps[-1].entry.recorded_at
    assert known is not None
    # Step: a back-dated entry recorded after `known` is invisible as known then.
    tracker.log_action(tesoro("budget_confirmed", 1))

    then = tracker.timeline(first.deal_id, known_at=known)
    now = tracker.timeline(first.deal_id)

    assert [s.entry.type for s in then.steps] == ["contact_captured", "offer_made"]
    assert [s.entry.type for s in now.steps] == [
        "contact_captured",
        "budget_confirmed",
        "offer_made",
    ]
    assert [i.phase for i in then.state.intervals] == ["lead", "negotiation"]


def test_void_removes_the_effect_but_keeps_the_entry(tracker: PhaseTracker) -> None:
    tracker.log_action(tesoro("contact_captured", 0))
    wrong = tracker.log_action(tesoro("offer_made", 1, action_id="typo-1", fields=SKIP))

    voided = tracker.void(VoidAction(action_id="typo-1", reason="wrong deal"))

    assert (voided.previous_phase, voided.phase) == ("negotiation", "lead")
    steps = tracker.timeline(wrong.deal_id).steps
    assert [(s.entry.entry_id, s.effect) for s in steps][1] == ("typo-1", "voided")
    assert steps[-1].entry.voids == "typo-1"
    # Step: voiding twice with the same reason is an idempotent replay.
    assert tracker.void(VoidAction(action_id="typo-1", reason="wrong deal")).replayed
    with pytest.raises(ActionNotFound):
        tracker.void(VoidAction(action_id="never-logged", reason="x"))


def test_same_action_id_and_content_replays_the_original_answer(
    tracker: PhaseTracker,
) -> None:
    first = tracker.log_action(tesoro("contact_captured", 0, action_id="a-1"))
    tracker.log_action(tesoro("budget_confirmed", 1))
    before = head(tracker)

    again = tracker.log_action(tesoro("contact_captured", 0, action_id="a-1"))

    assert again.replayed and not first.replayed
    assert (again.deal_id, again.phase, again.previous_phase, again.position) == (
        first.deal_id,
        first.phase,
        first.previous_phase,
        first.position,
    )
    assert head(tracker) == before


def test_same_action_id_with_other_content_is_a_conflict(
    tracker: PhaseTracker,
) -> None:
    tracker.log_action(tesoro("contact_captured", 0, action_id="a-1"))
    before = head(tracker)

    with pytest.raises(ActionConflict):
        tracker.log_action(tesoro("budget_confirmed", 0, action_id="a-1"))
    with pytest.raises(ActionConflict):  # the key is global, not per deal
        tracker.log_action(
            LogAction(
                pipeline="fr-sale",
                contact_id="bob",
                type="inquiry_received",
                occurred_at=day(0),
                action_id="a-1",
            )
        )
    assert head(tracker) == before


@pytest.mark.parametrize(
    ("command", "field"),
    [
        (LogAction(pipeline="nope", contact_id="c", type="x"), "pipeline"),
        (LogAction(pipeline="nl-tesoro", contact_id=" ", type="viewing"), "contact_id"),
        (LogAction(pipeline="nl-tesoro", contact_id="c", type="teleport"), "type"),
        (
            LogAction(
                pipeline="nl-tesoro",
                contact_id="c",
                type="viewing",
                occurred_at=dt.datetime(2026, 1, 1),
            ),
            "occurred_at",
        ),
        (
            LogAction(
                pipeline="nl-tesoro",
                contact_id="c",
                type="viewing",
                occurred_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=3),
            ),
            "occurred_at",
        ),
        (
            LogAction(pipeline="nl-tesoro", contact_id="c", type="deal_lost"),
            "fields.lost_reason",
        ),
        (
            LogAction(
                pipeline="nl-tesoro",
                contact_id="c",
                type="deal_lost",
                fields={"lost_reason": "other"},
            ),
            "fields.lost_reason_detail",
        ),
        (
            LogAction(
                pipeline="de-deal-phasen",
                contact_id="c",
                type="inquiry",
                fields={"first_name": "Jana", "last_name": "Roth"},
            ),
            "fields.mobile",
        ),
        (
            LogAction(
                pipeline="de-deal-phasen",
                contact_id="c",
                type="setting_call",
                outcome="maybe",
            ),
            "outcome",
        ),
    ],
)
def test_bad_input_is_rejected_naming_the_field_and_nothing_is_stored(
    tracker: PhaseTracker, command: LogAction, field: str
) -> None:
    before = head(tracker)

    with pytest.raises(InvalidCommand) as raised:
        tracker.log_action(command)

    assert raised.value.field == field
    assert head(tracker) == before


def test_unknown_pipeline_and_deal_are_reported(tracker: PhaseTracker) -> None:
    with pytest.raises(UnknownPipeline):
        tracker.pipeline("nope")
    with pytest.raises(DealNotFound):
        tracker.deal(uuid.UUID(int=1))


def test_manual_move_skipping_phases_needs_a_reason(tracker: PhaseTracker) -> None:
    deal_id = tracker.log_action(tesoro("contact_captured", 0)).deal_id
    before = head(tracker)

    with pytest.raises(InvalidCommand) as raised:
        tracker.move(MoveDeal(deal_id=deal_id, phase="closing", occurred_at=day(1)))
    assert raised.value.field == "reason"
    assert head(tracker) == before

    moved = tracker.move(
        MoveDeal(
            deal_id=deal_id,
            phase="closing",
            occurred_at=day(1),
            reason="returning client, bought with us in 2024",
        )
    )
    assert (moved.previous_phase, moved.phase) == ("lead", "closing")
    step = tracker.timeline(deal_id).steps[-1]
    assert (step.entry.kind, step.entry.reason) == (
        "move",
        "returning client, bought with us in 2024",
    )


def test_lead_conversion_opens_an_opportunity_in_the_same_transaction(
    tracker: PhaseTracker,
) -> None:
    def lead(type: str, at: float, **kw: object) -> LogAction:
        return LogAction(
            pipeline="es-leads",
            contact_id="lucia",
            type=type,
            occurred_at=day(at),
            **kw,
        )  # type: ignore[arg-type]

    tracker.log_action(lead("lead_created", 0))
    converted = tracker.log_action(lead("quote_requested", 2, action_id="q-1"))

    assert converted.phase == "converted"
    opportunities = [
        d for d in _deals_of(tracker, "lucia") if d.pipeline == "es-opportunities"
    ]
    assert len(opportunities) == 1
    assert opportunities[0].state.phase == "quote_requested"
    assert opportunities[0].state.opened_at == day(2)
    # Step: replaying the conversion opens nothing twice.
    assert tracker.log_action(lead("quote_requested", 2, action_id="q-1")).replayed
    assert len(_deals_of(tracker, "lucia")) == 2


def _deals_of(tracker: PhaseTracker, contact: str) -> list[DealView]:
    views = []
    for pipeline in tracker.pipelines():
        try:
            views.append(tracker.deal(deal_id_for(pipeline.id, contact, None)))
        except DealNotFound:
            continue
    return views
