"""Voids and expiries in batches: many deals per transaction, each deal on its own.

`void_many` and `expire_many` write what `void` and `expire` write, but all the
deals of a call in one transaction; a void or a deal that fails answers with its
error and sinks nothing else, and a repeat writes nothing new.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from domain.commands import LogAction, Result, VoidAction
from domain.deal import deal_id_for
from domain.errors import ActionConflict, ActionNotFound, DealNotFound
from tests.helpers.clock import FakeClock, day

if TYPE_CHECKING:
    import uuid
    from collections.abc import Callable

    import pytest

    from domain.service import PhaseTracker


def hubspot(contact: str, at: float, type: str = "meeting_booked") -> LogAction:
    return LogAction(
        pipeline="hubspot-default",
        contact_id=contact,
        type=type,
        occurred_at=day(at),
        action_id=f"{contact}-{type}",
    )


def count_saves(tracker: PhaseTracker, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of deals in each transaction the tracker saves."""
    saves: list[int] = []
    real_save = tracker.store.save

    def save(deals: Any, keys: Any = ()) -> Any:
        saves.append(len(deals))
        return real_save(deals, keys)

    monkeypatch.setattr(tracker.store, "save", save)
    return saves


def phase(tracker: PhaseTracker, contact: str) -> str | None:
    deal_id = deal_id_for("hubspot-default", contact, None)
    return tracker.deal(deal_id).state.phase


def test_voids_of_many_deals_go_in_one_transaction_each_on_its_own(
    tracker: PhaseTracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    for contact in ("ann", "bob", "cy"):
        tracker.log_action(hubspot(contact, 0))
        tracker.log_action(hubspot(contact, 1, "presentation_booked"))
    saves = count_saves(tracker, monkeypatch)

    answers = tracker.void_many(
        [
            VoidAction("ann-presentation_booked", reason="wrong deal"),
            VoidAction("never-logged", reason="typo"),
            VoidAction("bob-presentation_booked", reason="wrong deal"),
            VoidAction("cy-presentation_booked", reason="wrong deal"),
            VoidAction("ann-presentation_booked", reason="wrong deal"),  # twice
        ]
    )

    assert saves == [3]  # three deals, one transaction
    assert isinstance(answers[1], ActionNotFound)
    done = [answers[i] for i in (0, 2, 3)]
    assert all(isinstance(a, Result) and not a.replayed for a in done)
    assert isinstance(answers[4], Result) and answers[4].replayed
    assert [phase(tracker, c) for c in ("ann", "bob", "cy")] == [
        "appointment_scheduled"
    ] * 3


def test_voiding_again_replays_and_other_content_conflicts_alone(
    tracker: PhaseTracker,
) -> None:
    for contact in ("ann", "bob"):
        tracker.log_action(hubspot(contact, 0))
        tracker.log_action(hubspot(contact, 1, "presentation_booked"))
    first = tracker.void(VoidAction("ann-presentation_booked", reason="wrong deal"))
    head = tracker.store.recorder.max_notification_id()

    answers = tracker.void_many(
        [
            VoidAction("ann-presentation_booked", reason="wrong deal"),
            VoidAction("ann-presentation_booked", reason="another reason"),
        ]
    )

    assert answers[0] == Result(**{**vars(first), "replayed": True})
    assert isinstance(answers[1], ActionConflict)
    assert tracker.store.recorder.max_notification_id() == head  # nothing new stored
    [bob] = tracker.void_many([VoidAction("bob-presentation_booked", reason="x")])
    assert isinstance(bob, Result) and bob.phase == "appointment_scheduled"


def test_expiries_of_many_deals_go_in_one_transaction(
    make_tracker: Callable[..., PhaseTracker], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock(day(0))
    tracker = make_tracker(clock=clock)
    ids: list[uuid.UUID] = []
    for contact, at in (("idle-1", 0), ("idle-2", 0), ("busy", 50)):
        clock.now = day(at)
        ids.append(tracker.log_action(hubspot(contact, at)).deal_id)
    dutch = tracker.log_action(
        LogAction(pipeline="nl-tesoro", contact_id="d", type="contact_captured")
    )
    missing = deal_id_for("hubspot-default", "nobody", None)
    clock.now = day(91)
    saves = count_saves(tracker, monkeypatch)

    answers = tracker.expire_many([*ids, dutch.deal_id, missing])

    assert saves == [2]
    assert [type(a).__name__ for a in answers] == [
        "Result",
        "Result",
        "NoneType",  # busy: not due until day 140
        "NoneType",  # nl-tesoro has no expiry policy
        "DealNotFound",
    ]
    assert isinstance(answers[4], DealNotFound)
    assert [phase(tracker, c) for c in ("idle-1", "idle-2", "busy")] == [
        "closed_lost",
        "closed_lost",
        "appointment_scheduled",
    ]
    assert tracker.expire_many(ids) == [None, None, None]  # nothing due any more
    assert saves == [2]


def test_an_expiry_batch_beaten_to_one_deal_is_staged_again(
    make_tracker: Callable[..., PhaseTracker], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock(day(0))
    ours, other = make_tracker(clock=clock), make_tracker(clock=clock)
    ids = [ours.log_action(hubspot(c, 0)).deal_id for c in ("a", "b", "c")]
    ours.expire_many(ids)  # reads (and caches) the deals: none due yet
    clock.now = day(91)
    saves: list[int] = []
    real_save = ours.store.save

    def save_after_the_other_sweeper(deals: Any, keys: Any = ()) -> Any:
        saves.append(len(deals))
        if len(saves) == 1:  # between our read and our save, `other` expires "b"
            other.expire(ids[1])
        return real_save(deals, keys)

    monkeypatch.setattr(ours.store, "save", save_after_the_other_sweeper)

    answers = ours.expire_many(ids)

    assert saves == [3, 2]  # staged again: "b" is not due any more
    assert isinstance(answers[0], Result) and isinstance(answers[2], Result)
    assert answers[1] is None
    assert [phase(ours, c) for c in ("a", "b", "c")] == ["closed_lost"] * 3
    timeline = ours.timeline(ids[1])
    assert [s.entry.kind for s in timeline.steps] == ["action", "expiry"]
