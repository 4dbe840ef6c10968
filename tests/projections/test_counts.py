"""The counts whole-pipeline reports read are kept exactly with the rows they count."""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg.sql import SQL

from domain.commands import MoveDeal, VoidAction
from projections.aggregates import FUNNEL_COUNTS, STAGE_COUNTS
from projections.runner import Projector
from tests.projections.conftest import SKIP, day, log, same_as_from_the_rows

if TYPE_CHECKING:
    from domain.service import PhaseTracker


def _story(tracker: PhaseTracker) -> None:
    """Rows replaced again and again: back-dated actions, a void, moves, holds."""
    for n in range(9):
        log(tracker, f"c{n}", "contact_captured", n * 0.37, actor="ann")
        log(tracker, f"c{n}", "budget_confirmed", n * 0.37 + (n % 4) * 1.13)
        if n % 2:
            log(tracker, f"c{n}", "viewing", n + 3.000001)
    offer = log(tracker, "c1", "offer_made", 6)
    log(tracker, "c3", "viewing", 1.5, **SKIP)  # back-dated before its budget
    tracker.void(VoidAction(action_id=offer.action_id, reason="wrong deal"))
    held = log(tracker, "c5", "put_on_hold", 9).deal_id
    log(tracker, "c5", "reactivated", 9.5)
    tracker.move(
        MoveDeal(deal_id=held, phase="won", reason="signed", occurred_at=day(10))
    )
    log(tracker, "c7", "deal_lost", 11, lost_reason="price")


def test_whole_pipeline_reports_equal_the_same_reports_counted_from_the_rows(
    tracker: PhaseTracker, projector: Projector
) -> None:
    # Step: the live runner writes a page at a time while the story goes on.
    _story(tracker)
    projector.catch_up()
    pipeline = tracker.pipeline("nl-tesoro")
    same_as_from_the_rows(projector, pipeline)

    # Step: a rebuild fills the counts of the new generation in one go.
    projector.rebuild()
    same_as_from_the_rows(projector, pipeline)
    assert projector.verify() == []


def test_a_database_from_before_the_counts_gets_them_when_opened(
    tracker: PhaseTracker, projector: Projector, make_tracker
) -> None:
    _story(tracker)
    projector.catch_up()
    pipeline = tracker.pipeline("nl-tesoro")
    expected = projector.reports.funnel(pipeline)
    # Step: take the counts away, as a database made by an older phaselog.
    store, schema = projector.store, projector.schema
    generation = projector.status().generation
    with store.write() as tx:
        for name in (FUNNEL_COUNTS, STAGE_COUNTS):
            tx.execute(SQL("DROP VIEW {}").format(store.table(name)))
            tx.execute(SQL("DROP TABLE {}").format(schema.table(name, generation)))

    reopened = Projector(make_tracker())
    log(tracker, "c8", "viewing", 12)
    reopened.catch_up()

    assert reopened.reports.funnel(pipeline) != expected  # c8 moved on
    same_as_from_the_rows(reopened, pipeline)
    assert reopened.verify() == []
    reopened.stop()


def test_verify_names_a_count_that_disagrees_with_the_rows(
    tracker: PhaseTracker, projector: Projector
) -> None:
    _story(tracker)
    projector.catch_up()
    table = projector.schema.table(FUNNEL_COUNTS, projector.status().generation)
    with projector.store.write() as tx:
        tx.execute(SQL("UPDATE {} SET deals = deals + 1").format(table))

    differences = projector.verify()

    assert differences
    assert {d.table for d in differences} == {FUNNEL_COUNTS}
