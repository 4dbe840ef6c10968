"""The lost reasons' details: a column the read models got after they existed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg.sql import SQL

from projections.models import LostDetail, LostReason
from projections.runner import Projector
from projections.schema import DEAL_PHASES
from tests.projections.conftest import log

if TYPE_CHECKING:
    from collections.abc import Callable

    from domain.service import PhaseTracker


def test_a_database_from_before_the_details_gets_the_column_when_opened(
    tracker: PhaseTracker,
    projector: Projector,
    make_tracker: Callable[..., PhaseTracker],
) -> None:
    log(tracker, "c1", "contact_captured", 0)
    projector.catch_up()
    # Step: take the column away, as in a database made by an older phaselog.
    store, schema = projector.store, projector.schema
    generation = projector.status().generation
    table = schema.table(DEAL_PHASES, generation)
    with store.write() as tx:
        tx.execute(SQL("DROP VIEW {}").format(store.table(DEAL_PHASES)))
        tx.execute(SQL("ALTER TABLE {} DROP COLUMN lost_detail").format(table))
        store.point_view(tx, store.table(DEAL_PHASES), table)

    # Step: the next process to open it adds the column and goes on.
    reopened = Projector(make_tracker())
    log(tracker, "c1", "deal_lost", 2, lost_reason="other", lost_reason_detail="moved")
    log(tracker, "c2", "contact_captured", 0)
    log(tracker, "c2", "deal_lost", 3, lost_reason="price")
    reopened.catch_up()

    pipeline = tracker.pipeline("nl-tesoro")
    report = reopened.reports.lost_reasons(pipeline)
    assert report.reasons == [
        LostReason("other", 1, [LostDetail("moved", 1)]),
        LostReason("price", 1, []),
    ]
    assert reopened.verify() == []
    reopened.stop()
