"""The rule engine, one rule kind of DESIGN §2 at a time, on a toy pipeline."""

from __future__ import annotations

from typing import Any

import pytest

from domain.definitions import parse_definition
from domain.engine import expiry_due, is_stale, replay
from domain.history import (
    BACKWARD,
    KEPT,
    NO_RULE,
    NOT_DUE,
    RESUMED,
    SAME,
    TERMINAL,
    VOIDED,
)
from tests.helpers.deal_story import Story, at_day

TOY = parse_definition(
    """\
id: toy
label: {en: Toy}
skip_policy: reason
phases:
  - {key: new, label: {en: New}, stale_after_days: 3}
  - {key: first, label: {en: First}}
  - {key: second, label: {en: Second}}
  - key: done
    label: {en: Done}
    kind: won
    chain: {pipeline: after, action: start, when_field: upsell}
  - key: lost
    label: {en: Lost}
    kind: lost
    requires:
      - {name: why, type: enum, values: [price, other], detail_field: detail,
         detail_for: [other]}
  - {key: paused, label: {en: Paused}, kind: paused}
actions:
  - {key: create, label: {en: Create}, to: new}
  - key: meet
    label: {en: Meet}
    outcomes: [held, no_show, postponed]
    rules:
      - {outcome: no_show, from: [first, second], to: new}
      - {outcome: postponed}
      - {nth: 1, to: first}
      - {to: second}
  - key: cancel
    label: {en: Cancel}
    rules: [{from: [first], to: new}, {from: [second], to: lost}]
  - {key: win, label: {en: Win}, to: done}
  - {key: lose, label: {en: Lose}, to: lost}
  - {key: pause, label: {en: Pause}, to: paused}
  - key: resume
    label: {en: Resume}
    rules: [{from: [paused, lost], resume: true}]
  - key: note
    label: {en: Note}
    outcomes: [call, mail]
    outcome_required: true
    requires:
      - {name: due, type: date}
      - {name: amount, type: number}
      - {name: ok, type: boolean}
      - {name: text}
expiry: {after_days: 30, to: lost, fields: {why: price}}
""",
    "toy.yaml",
)


def story(*actions: str, **changes: Any) -> Story:
    told = Story(TOY.model_copy(update=changes) if changes else TOY)
    for action in actions:
        told.log(action)
    return told


# 1. action -> phase
def test_action_moves_the_deal_to_its_phase() -> None:
    told = story()
    step = told.log("create", days=0)
    assert (step.phase_before, step.phase_after) == (None, "new")
    assert told.state.phase_since == at_day(0)
    assert told.state.opened_at == at_day(0)


# 2. nth occurrence
def test_first_meeting_and_later_ones_go_to_different_phases() -> None:
    told = story("create")
    assert told.log("meet").phase_after == "first"
    assert told.log("meet").phase_after == "second"
    assert told.log("meet").effect == SAME


# 3. outcome
def test_outcome_picks_the_rule() -> None:
    told = story("create", "meet")
    assert told.log("meet", "postponed").effect == KEPT
    assert told.log("meet", "no_show").phase_after == "new"
    # A postponed meeting still counts: the next one is the third.
    assert told.log("meet", "held").phase_after == "second"


# 4. from-phase condition
def test_cancel_depends_on_the_current_phase() -> None:
    assert story("create", "meet").log("cancel").phase_after == "new"
    second = story("create", "meet", "meet")
    assert second.log("cancel", why="price").phase_after == "lost"
    assert story("create").log("cancel").effect == NO_RULE


# 5. progression policy
def test_forward_progression_records_but_does_not_move_back() -> None:
    step = story("create", "meet").log("create")
    assert (step.phase_after, step.effect) == ("first", BACKWARD)


def test_free_progression_lets_the_latest_action_win() -> None:
    told = story("create", "meet", progression="free")
    assert told.log("create").phase_after == "new"


# 6. terminal phases
def test_terminal_phase_keeps_the_deal_unless_a_rule_names_it() -> None:
    told = story("create", "meet", "win")
    assert told.log("meet").effect == TERMINAL
    lost = story("create", "meet")
    lost.log("lose", why="price")
    assert lost.log("create").effect == TERMINAL
    assert lost.log("resume").phase_after == "first"


# 7. paused
def test_resume_returns_to_the_phase_held_before_the_pause() -> None:
    told = story("create", "meet", "meet", "pause")
    assert told.state.held_phase == "second"
    assert told.log("create").effect == BACKWARD
    step = told.log("resume")
    assert (step.phase_after, step.effect) == ("second", RESUMED)
    assert told.log("resume").effect == NO_RULE  # `from` names the pause only


def test_action_past_the_held_phase_leaves_the_pause() -> None:
    told = story("create", "pause")
    assert told.log("meet").phase_after == "first"


# 8. required fields
def test_lost_phase_requires_a_reason_from_the_list() -> None:
    told = story("create")
    for fields, field in [
        ({}, "fields.why"),
        ({"why": "weather"}, "fields.why"),
        ({"why": "other"}, "fields.detail"),
        ({"why": "other", "detail": " "}, "fields.detail"),
    ]:
        assert told.rejects("lose", **fields).field == field
    assert told.log("lose", why="other", detail="moved abroad").phase_after == "lost"


@pytest.mark.parametrize(
    ("field", "value"),
    [("due", "tomorrow"), ("amount", "12"), ("amount", True), ("ok", "yes"),
     ("text", 5), ("text", "")],
)  # fmt: skip
def test_typed_action_fields_are_checked(field: str, value: object) -> None:
    fields = {"due": "2024-05-01", "amount": 12.5, "ok": False, "text": "hi"}
    told = story("create")
    told.log("note", "call", **fields)
    assert (
        told.rejects("note", "call", **{**fields, field: value}).field
        == f"fields.{field}"
    )


@pytest.mark.parametrize(
    ("action", "outcome", "field"),
    [("fly", None, "type"), ("meet", "lunch", "outcome"),
     ("create", "held", "outcome")],
)  # fmt: skip
def test_unknown_type_or_outcome_is_rejected(
    action: str, outcome: str | None, field: str
) -> None:
    assert story().rejects(action, outcome).field == field


def test_outcome_required_is_enforced() -> None:
    assert story("create").rejects("note").field == "outcome"


# 9. manual moves and skip policy
def test_skip_policy_reason_needs_a_reason_to_skip_phases() -> None:
    told = story("create")
    error = told.rejects_move("second")
    assert (error.field, error.reason) == (
        "reason",
        "moving to 'second' skips first: give a reason",
    )
    assert told.move("second", reason="known client").phase_after == "second"
    assert told.move("new").phase_after == "new"  # back skips nothing


def test_skip_policy_forbid_and_allow() -> None:
    forbid = story("create", skip_policy="forbid")
    assert forbid.rejects_move("done", reason="x").field == "phase"
    assert story("create", skip_policy="allow").move("done").phase_after == "done"


def test_move_to_the_same_or_an_unknown_phase_is_rejected() -> None:
    for phase in ("new", "nowhere"):
        assert story("create").rejects_move(phase).field == "phase"


def test_manual_move_into_a_phase_checks_its_requirements() -> None:
    assert story("create").rejects_move("lost").field == "fields.why"


# 10. stale thresholds
def test_deal_is_stale_after_its_phase_threshold() -> None:
    told = story()
    told.log("create", days=0)
    assert not is_stale(TOY, told.state, at_day(3))
    assert is_stale(TOY, told.state, at_day(3.1))
    told.log("meet")  # `first` has no threshold
    assert not is_stale(TOY, told.state, at_day(100))


# 11. probability is data only: the projections read it from the phase.


# 12. chaining
def test_entering_a_chained_phase_reports_the_chain_when_flagged() -> None:
    step = story("create").log("win", upsell=True)
    assert step.chain is not None and step.chain.pipeline == "after"
    assert story("create").log("win").chain is None


# 13. expiry
def test_expiry_closes_only_an_idle_open_deal() -> None:
    told = story()
    told.log("create", days=0)
    assert expiry_due(TOY, told.state) == at_day(30)
    assert told.expire(days=29).effect == NOT_DUE
    assert told.expire(days=1).phase_after == "lost"
    assert told.expire(days=40).effect == TERMINAL


# Time: back-dating, as_of, known_at, voids
def test_back_dated_action_is_folded_in_where_it_belongs() -> None:
    told = story("create", "meet")
    step = told.log("meet", at=at_day(1.5))  # before the first `meet` at day 2
    assert step.phase_after == "first"
    assert told.phase == "second"
    assert [i.phase for i in told.state.intervals] == ["new", "first", "second"]


def test_as_of_and_known_at_cut_the_history() -> None:
    told = story("create", "meet", "meet")
    assert replay(TOY, told.entries, as_of=at_day(2)).phase == "first"
    assert replay(TOY, told.entries, known_at=at_day(1)).phase == "new"


def test_void_makes_an_action_count_as_never_logged() -> None:
    told = story("create")
    first = told.log("meet")
    told.log("meet")
    told.void(first)
    assert told.phase == "first"
    assert told.state.steps[1].effect == VOIDED


def test_void_needs_a_reason_and_a_live_target() -> None:
    told = story("create")
    step = told.log("meet")
    assert told.rejected(lambda: told.void(step, reason=" ")).field == "reason"
    told.void(step)
    assert told.rejected(lambda: told.void(step)).field == "action_id"
