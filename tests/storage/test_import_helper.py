"""A big import shares its deals with a helper process and answers as one call."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest

from domain.commands import LogAction, Result
from domain.deal import deal_id_for
from domain.errors import InvalidCommand
from domain.staging import DealRejected
from tests.helpers.clock import T0

if TYPE_CHECKING:
    from domain.service import PhaseTracker

pytestmark = pytest.mark.process  # starts processes or servers (see pyproject)


def act(pipeline: str, contact: str, type: str, day: int, **kw: object) -> LogAction:
    return LogAction(
        pipeline=pipeline,
        contact_id=contact,
        type=type,
        occurred_at=T0 + dt.timedelta(days=day),
        action_id=f"{pipeline}-{contact}-{type}-{day}",
        **kw,
    )  # type: ignore[arg-type]


def history() -> list[LogAction]:
    """Eight tesoro deals, one of them bad, and a lead that converts."""
    commands = []
    for n in range(8):
        commands += [
            act("nl-tesoro", f"c{n}", "contact_captured", 0),
            act("nl-tesoro", f"c{n}", "budget_confirmed", 1),
        ]
    commands.append(act("nl-tesoro", "c3", "deal_lost", 2))  # no lost_reason
    commands += [
        act("es-leads", "lucia", "lead_created", 0),
        act("es-leads", "lucia", "quote_requested", 2),
        act("es-opportunities", "lucia", "analysis_started", 3),
    ]
    return commands


def test_a_big_import_shares_deals_with_a_helper_and_keeps_every_rule(
    tracker: PhaseTracker,
) -> None:
    # Step: a first big call starts the helper (and is logged here meanwhile).
    tracker.big_calls.helper_from = 1
    tracker.log_actions([act("nl-tesoro", "first", "contact_captured", 0)])
    helper = tracker.big_calls.wait_for_helper(timeout=120)
    assert helper is not None
    before = tracker.store.recorder.max_notification_id() or 0

    commands = history()
    answers = tracker.log_actions(commands)

    # Step: the helper answered its share; every answer is in the call's order.
    assert helper.answered > 0
    for command, answer in zip(commands, answers, strict=True):
        if command.contact_id == "c3":
            assert isinstance(answer, InvalidCommand | DealRejected)
        else:
            assert isinstance(answer, Result)
            assert answer.action_id == command.action_id
    assert isinstance(answers[-4], InvalidCommand)  # deal_lost, the bad one
    assert answers[-4].field == "fields.lost_reason"
    assert isinstance(answers[6], DealRejected)  # c3's good action goes too
    # The chain and the chained deal's own action stayed in one process.
    opportunity = tracker.deal(deal_id_for("es-opportunities", "lucia", None))
    assert opportunity.state.phase == "analysis"
    assert tracker.deal(deal_id_for("nl-tesoro", "c5", None)).state.phase == (
        "qualification"
    )

    # Step: one total order: 7 deals x 3 events, the lead's 3, the opportunity's 3.
    notifications = tracker.store.recorder.select_notifications(before + 1, 1000)
    ids = [n.id for n in notifications]
    assert ids == sorted(set(ids))
    assert len(ids) == 7 * 3 + 3 + 3
    positions = [a.position for a in answers if isinstance(a, Result)]
    assert set(positions) <= set(ids)

    # Step: importing it again stores nothing and replays, in both processes.
    answered = helper.answered
    again = tracker.log_actions(commands)
    assert helper.answered > answered
    assert (tracker.store.recorder.max_notification_id() or 0) == ids[-1]
    for first, second in zip(answers, again, strict=True):
        if isinstance(first, Result):
            assert isinstance(second, Result) and second.replayed
            assert (second.position, second.phase) == (first.position, first.phase)
        else:
            assert type(second) is type(first)
