"""Rebuild without downtime gives identical read models; verify finds tampering."""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg.sql import SQL

from domain.commands import MoveDeal, VoidAction
from projections.models import Difference
from projections.schema import DEAL_PHASES, PHASE_INTERVALS
from tests.projections.conftest import SKIP, day, log, rows

if TYPE_CHECKING:
    from collections.abc import Callable

    from domain.service import PhaseTracker
    from projections.runner import Projector


def _history(tracker: PhaseTracker) -> None:
    for n in range(7):
        log(tracker, f"c{n}", "contact_captured", n, actor="ann")
        log(tracker, f"c{n}", "viewing", n + 2, **SKIP)
    offer = log(tracker, "c1", "offer_made", 5)
    log(tracker, "c2", "deal_lost", 6, lost_reason="other", lost_reason_detail="moved")
    log(tracker, "c3", "budget_confirmed", 1.5, **SKIP)  # back-dated, before c3's lead
    tracker.void(VoidAction(action_id=offer.action_id, reason="wrong deal"))
    deal = log(tracker, "c4", "put_on_hold", 8).deal_id
    tracker.move(
        MoveDeal(deal_id=deal, phase="won", reason="signed", occurred_at=day(9))
    )
    log(tracker, "z", "meeting_booked", 3, pipeline="hubspot-default")


def test_rebuild_gives_identical_read_models_and_a_new_generation(
    tracker: PhaseTracker, projector: Projector
) -> None:
    _history(tracker)
    projector.catch_up()
    before = rows(projector)
    calls: list[tuple[int, int]] = []

    projector.rebuild(progress=lambda done, total: calls.append((done, total)))

    assert rows(projector) == before
    status = projector.status()
    assert (status.generation, status.rebuilding, status.lag) == (2, False, 0)
    assert calls[-1][0] == calls[-1][1] == status.head
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert projector.verify() == []


def test_the_old_generation_serves_while_the_new_one_builds(
    tracker: PhaseTracker,
    projector: Projector,
    make_tracker: Callable[..., PhaseTracker],
) -> None:
    _history(tracker)
    projector.catch_up()
    served = [rows(projector)]
    other = make_tracker()
    seen: list[tuple[int, bool, float | None]] = []

    def during_build(done: int, total: int) -> None:
        status = projector.status()
        seen.append((status.generation, status.rebuilding, status.rebuild_progress))
        assert rows(projector) == served[-1]  # readers still see generation 1
        if len(seen) == 1:  # someone logs an action mid-rebuild
            log(other, "late", "contact_captured", 10)
            projector.catch_up()
            served.append(rows(projector))

    projector.rebuild(progress=during_build)

    assert {(g, r) for g, r, _ in seen} == {(1, True)}
    assert all(p is not None and 0 <= p <= 1 for _, _, p in seen)
    contacts = {d.contact_id for d in projector.reports.deals(now=day(11)).rows}
    assert "late" in contacts
    assert projector.verify() == []


def test_verify_lists_a_row_altered_by_hand(
    tracker: PhaseTracker, projector: Projector
) -> None:
    first = log(tracker, "anna", "contact_captured", 0)
    log(tracker, "bert", "contact_captured", 0)
    log(tracker, "bert", "offer_made", 2, **SKIP)
    projector.catch_up()
    generation = projector.status().generation
    deals = projector.schema.table(DEAL_PHASES, generation)
    intervals = projector.schema.table(PHASE_INTERVALS, generation)
    bert = log(tracker, "bert", "viewing", 3).deal_id  # logged, not projected yet

    with projector.store.write() as tx:
        tx.execute(
            SQL("UPDATE {} SET phase = 'won' WHERE deal_id = %s").format(deals),
            [projector.store.bind(first.deal_id)],
        )
        tx.execute(
            SQL("DELETE FROM {} WHERE deal_id = %s AND seq = 1").format(intervals),
            [projector.store.bind(bert)],
        )
    differences = projector.verify()

    assert [(d.table, d.key, d.column) for d in differences] == [
        ("deal_phases", str(first.deal_id), "phase"),
        ("phase_intervals", f"{bert}/1", "*"),
    ]
    assert differences[0] == Difference(
        "deal_phases", str(first.deal_id), "phase", "won", "lead"
    )
    assert differences[1].stored is None
