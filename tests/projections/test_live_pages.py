"""Live pages complete remembered deals from the page and write only what changed,
and still give exactly the rows of a fold from scratch."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from domain.commands import MoveDeal, VoidAction
from projections.fold import Folder
from projections.runner import Projector
from tests.projections.conftest import (
    SKIP,
    Crash,
    CrashingWriter,
    day,
    log,
    rows,
    same_as_from_the_rows,
)

if TYPE_CHECKING:
    import uuid
    from collections.abc import Callable, Iterable

    from domain.service import PhaseTracker
    from projections.fold import DealHistory


class ReadingFolder(Folder):
    """A folder that notes every deal it has to read from the event table."""

    def __init__(self, tracker: PhaseTracker, projector: Projector) -> None:
        super().__init__(projector.source, projector.store)
        self.reads: list[uuid.UUID] = []

    def read(self, deal_ids: Iterable[uuid.UUID], upto: int) -> list[DealHistory]:
        deal_ids = list(deal_ids)
        self.reads.extend(deal_ids)
        return super().read(deal_ids, upto)


def _reading(projector: Projector) -> ReadingFolder:
    projector.folder = ReadingFolder(projector.tracker, projector)
    return projector.folder


def _right(projector: Projector) -> None:
    """The rows and counts equal a fold of the whole log from scratch."""
    assert projector.status().lag == 0
    assert projector.verify() == []  # rows, and counts against the rows


def test_pages_of_remembered_deals_give_the_rows_of_a_fold_from_scratch(
    tracker: PhaseTracker, projector: Projector
) -> None:
    folder = _reading(projector)
    # Step: new deals, whose events span pages of five.
    for n in range(6):
        log(tracker, f"c{n}", "contact_captured", n * 0.5, actor="ann")
        log(tracker, f"c{n}", "budget_confirmed", n * 0.5 + 1)
    projector.catch_up()
    assert folder.reads == []  # every deal opened in a page or went on from one
    _right(projector)

    # Step: more actions on remembered deals, one in a phase it had already left.
    for n in range(0, 6, 2):
        log(tracker, f"c{n}", "viewing", n + 3)
    offer = log(tracker, "c1", "offer_made", 6, **SKIP)
    log(tracker, "c3", "viewing", 1.75, **SKIP)  # back-dated before its budget
    projector.catch_up()
    assert folder.reads == []
    _right(projector)

    # Step: a void, a hold and its end, a move and a loss.
    tracker.void(VoidAction(action_id=offer.action_id, reason="wrong deal"))
    held = log(tracker, "c4", "put_on_hold", 9).deal_id
    log(tracker, "c4", "reactivated", 9.5, actor="bob")
    tracker.move(
        MoveDeal(deal_id=held, phase="won", reason="signed", occurred_at=day(10))
    )
    log(tracker, "c5", "deal_lost", 11, lost_reason="price")
    projector.catch_up()
    assert folder.reads == []
    _right(projector)
    same_as_from_the_rows(projector, tracker.pipeline("nl-tesoro"))
    live = rows(projector)

    projector.rebuild()
    assert rows(projector) == live


def test_a_deal_the_page_cannot_complete_is_read_from_the_event_table(
    tracker: PhaseTracker,
    projector: Projector,
    make_tracker: Callable[..., PhaseTracker],
) -> None:
    anna = log(tracker, "anna", "contact_captured", 0).deal_id
    bert = log(tracker, "bert", "contact_captured", 0).deal_id
    projector.catch_up()
    # Step: a new process remembers no deal at all.
    fresh = Projector(make_tracker(), page_size=5)
    folder = _reading(fresh)
    log(tracker, "anna", "budget_confirmed", 2)

    fresh.catch_up()

    assert folder.reads == [anna]
    _right(fresh)
    # Step: it forgets bert's history, then misses one of anna's events (a gap).
    log(tracker, "bert", "budget_confirmed", 1)
    log(tracker, "anna", "viewing", 3)
    projector.catch_up()  # the other process writes these
    log(tracker, "bert", "viewing", 4)
    log(tracker, "anna", "offer_made", 5, **SKIP)
    folder.reads.clear()

    fresh.catch_up()

    assert sorted(folder.reads) == sorted([anna, bert])
    _right(fresh)


def test_after_another_process_wrote_a_page_the_rows_are_replaced_whole(
    tracker: PhaseTracker,
    projector: Projector,
    make_tracker: Callable[..., PhaseTracker],
) -> None:
    log(tracker, "anna", "contact_captured", 0)
    log(tracker, "bert", "contact_captured", 0)
    projector.catch_up()
    before = rows(projector)
    # Step: leadership moves: another process writes anna's offer.
    offer = log(tracker, "anna", "offer_made", 3, **SKIP)
    other = Projector(make_tracker(), page_size=5)
    other.catch_up()
    assert rows(projector) != before

    # Step: the void takes anna back to the rows the first process remembers,
    # so only invalidated memory rewrites the offer's interval away.
    tracker.void(VoidAction(action_id=offer.action_id, reason="typo"))
    projector.catch_up()

    _, intervals = rows(projector)
    assert [(r[3], r[5]) for r in intervals] == [("lead", None), ("lead", None)]
    _right(projector)


def test_a_page_that_fails_to_commit_leaves_the_memory_as_the_rows_are(
    tracker: PhaseTracker, projector: Projector
) -> None:
    writer = CrashingWriter(projector.store, projector.schema, crash_on=0)
    projector.writer = writer
    offer = None
    for n in range(4):
        log(tracker, f"c{n}", "contact_captured", 0)
        offer = log(tracker, f"c{n}", "offer_made", 3, **SKIP)
    projector.catch_up()
    assert offer is not None
    # Step: the next page dies after writing its rows: the void rolls back.
    tracker.void(VoidAction(action_id=offer.action_id, reason="typo"))
    writer.crash_on = writer.pages + 1
    with pytest.raises(Crash):
        projector.run_once()

    # Step: the same page again, on the same writer.
    projector.catch_up()

    _right(projector)
    # Step: and the pages after it.
    log(tracker, "c3", "viewing", 4, **SKIP)
    projector.catch_up()
    _right(projector)
