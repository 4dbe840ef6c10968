"""A batch that loses a race for one of its deals is staged again, not split up.

Two server workers coalesce their own requests; when both write one deal at once,
the later save fails on the event's primary key. The batch then reads what the
other worker stored and saves again, all its deals in one transaction.
"""

from __future__ import annotations

import datetime as dt
import gc
from typing import TYPE_CHECKING, Any

from domain.commands import LogAction, Result
from domain.deal import Deal
from domain.engine import Decision
from domain.history import DealState
from tests.helpers.clock import T0

if TYPE_CHECKING:
    from collections.abc import Callable

    import pytest

    from domain.service import PhaseTracker


def viewing(contact: str, minutes: int, action_id: str) -> LogAction:
    return LogAction(
        pipeline="fr-sale",
        contact_id=contact,
        object_id="villa",
        type="inquiry_received" if minutes == 0 else "viewing",
        occurred_at=T0 + dt.timedelta(minutes=minutes),
        action_id=action_id,
    )


def test_a_batch_beaten_to_one_deal_is_staged_again_whole(
    make_tracker: Callable[..., PhaseTracker], monkeypatch: pytest.MonkeyPatch
) -> None:
    ours, other = make_tracker(), make_tracker()
    for contact in ("a", "b", "c"):
        ours.log_action(viewing(contact, 0, f"{contact}-0"))  # cached by `ours`

    saves: list[int] = []
    real_save = ours.store.save

    def save_after_the_other_worker(deals: Any, keys: Any = ()) -> Any:
        saves.append(len(deals))
        if len(saves) == 1:  # between our read and our save, `other` writes "b"
            other.log_action(viewing("b", 5, "b-other"))
        return real_save(deals, keys)

    monkeypatch.setattr(ours.store, "save", save_after_the_other_worker)
    one_by_one: list[Any] = []
    real_one = ours.writer._each_alone
    monkeypatch.setattr(
        ours.writer,
        "_each_alone",
        lambda unit, *rest: one_by_one.append(unit) or real_one(unit, *rest),
    )

    batch = [viewing(contact, 10, f"{contact}-ours") for contact in ("a", "b", "c")]
    answers = ours.log_actions(batch, isolate=True)

    assert all(isinstance(answer, Result) for answer in answers)
    assert saves == [3, 3]  # the whole batch again, in one transaction
    assert one_by_one == []
    timeline = ours.timeline(answers[1].deal_id)  # type: ignore[union-attr]
    assert [s.entry.entry_id for s in timeline.steps] == ["b-0", "b-other", "b-ours"]


def test_a_lost_race_leaves_no_cycle_holding_the_batch(
    make_tracker: Callable[..., PhaseTracker], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The storage error keeps the frames that raised it: unless they are
    cleared, deals and decisions wait for the cyclic collector (a pause)."""
    ours, other = make_tracker(), make_tracker()
    ours.log_action(viewing("b", 0, "b-0"))
    real_save = ours.store.save
    raced: list[bool] = []

    def save_after_the_other_worker(deals: Any, keys: Any = ()) -> Any:
        if not raced:
            raced.append(True)
            other.log_action(viewing("b", 5, "b-other"))
        return real_save(deals, keys)

    monkeypatch.setattr(ours.store, "save", save_after_the_other_worker)
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        answers = ours.log_actions([viewing("b", 10, "b-ours")], isolate=True)
        gc.collect()
        held = [o for o in gc.garbage if isinstance(o, Deal | Decision | DealState)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()

    assert raced and isinstance(answers[0], Result)
    assert held == []


def test_a_lost_race_puts_the_deals_back_so_the_retry_reads_only_new_events(
    make_tracker: Callable[..., PhaseTracker], monkeypatch: pytest.MonkeyPatch
) -> None:
    ours, other = make_tracker(), make_tracker()
    for contact in ("a", "b"):
        ours.log_action(viewing(contact, 0, f"{contact}-0"))
    ours.log_actions([viewing("a", 1, "a-1")], isolate=True)  # cached by `ours`
    ours.log_actions([viewing("b", 1, "b-1")], isolate=True)
    real_save, real_read = ours.store.save, ours.store.keys.lookup
    reads: list[list[int]] = []

    def save_after_the_other_worker(deals: Any, keys: Any = ()) -> Any:
        if len(reads) == 1:  # between our read and our save, `other` writes "b"
            other.log_action(viewing("b", 5, "b-other"))
        return real_save(deals, keys)

    def read(action_ids: list[str], versions: dict[Any, int]) -> Any:
        reads.append(sorted(versions.values()))
        return real_read(action_ids, versions)

    monkeypatch.setattr(ours.store, "save", save_after_the_other_worker)
    monkeypatch.setattr(ours.store.keys, "lookup", read)
    batch = [viewing(contact, 10, f"{contact}-ours") for contact in ("a", "b")]
    answers = ours.log_actions(batch, isolate=True)

    assert reads == [[3, 3], [3, 3]]  # not [0, 0]: every deal's whole history
    timeline = ours.timeline(answers[1].deal_id)  # type: ignore[union-attr]
    assert [s.entry.entry_id for s in timeline.steps] == [
        "b-0",
        "b-1",
        "b-other",
        "b-ours",
    ]
    timeline = ours.timeline(answers[0].deal_id)  # type: ignore[union-attr]
    assert [s.entry.entry_id for s in timeline.steps] == ["a-0", "a-1", "a-ours"]


def test_one_action_sent_to_both_workers_at_once_is_stored_once_every_time(
    make_tracker: Callable[..., PhaseTracker], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The later save fails on the action's key. On PostgreSQL that error can
    reach the client before the pipeline's sync; it must still come out as a
    lost race (and the answer replayed), not as "pipeline aborted", which the
    library retries ten times and then raises. It did so about every other time."""
    ours, other = make_tracker(), make_tracker()
    contacts = [f"c{i}" for i in range(12)]
    for contact in contacts:
        ours.log_action(viewing(contact, 0, f"{contact}-0"))  # cached by `ours`
    racing: list[LogAction] = []
    real_save = ours.store.save

    def save_after_the_other_worker(deals: Any, keys: Any = ()) -> Any:
        if racing:  # between our read and our save, `other` logs the same action
            other.log_action(racing.pop())
        return real_save(deals, keys)

    monkeypatch.setattr(ours.store, "save", save_after_the_other_worker)
    for contact in contacts:
        command = viewing(contact, 10, f"{contact}-both")
        racing.append(command)
        (answer,) = ours.log_actions([command], isolate=True)

        assert isinstance(answer, Result) and answer.replayed
        timeline = ours.timeline(answer.deal_id)
        assert [s.entry.entry_id for s in timeline.steps] == [
            f"{contact}-0",
            f"{contact}-both",
        ]
