"""Helpers for projection tests: a dated story of actions, a look at the rows and
at the counts, and a writer that dies mid-page."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from psycopg.sql import SQL, Identifier

from domain.commands import LogAction
from projections.rebuild import loaded
from projections.runner import Projector
from projections.schema import (
    DEAL_COLUMNS,
    DEAL_PHASES,
    INTERVAL_COLUMNS,
    PHASE_INTERVALS,
)
from projections.writer import PageWriter
from tests.helpers.clock import day

if TYPE_CHECKING:
    import uuid
    from collections.abc import Iterator

    from domain.commands import Result
    from domain.pipeline import Pipeline
    from domain.service import PhaseTracker
    from projections.dialect import Row, Store
    from projections.schema import Schema

EARLY = day(-1000)  # a period filter that keeps every row: the rows' own path


# nl-tesoro asks an action that skips stages why ("documenteer altijd de reason"):
# the stories below skip some on purpose, or log a later stage before an earlier one.
SKIP = {"skip_reason": "returning client"}


def log(
    tracker: PhaseTracker,
    contact: str,
    type: str,
    at: float,
    *,
    pipeline: str = "nl-tesoro",
    actor: str | None = None,
    **fields: Any,
) -> Result:
    return tracker.log_action(
        LogAction(
            pipeline=pipeline,
            contact_id=contact,
            type=type,
            occurred_at=day(at),
            actor=actor,
            fields=fields,
        )
    )


def rows(projector: Projector) -> tuple[list[Row], list[Row]]:
    """Everything the read models hold, in key order, as Python values."""
    store = projector.store
    found = []
    for name, columns in (
        (DEAL_PHASES, DEAL_COLUMNS),
        (PHASE_INTERVALS, INTERVAL_COLUMNS),
    ):
        names = SQL(", ").join(map(Identifier, columns))
        with store.read() as tx:
            tx.execute(
                SQL("SELECT {} FROM {} ORDER BY {}").format(
                    names,
                    store.table(name),
                    SQL(", ").join(map(Identifier, columns[:2])),
                )
            )
            found.append([loaded(store, columns, raw) for raw in tx.fetchall()])
    return found[0], found[1]


def same_as_from_the_rows(projector: Projector, pipeline: Pipeline) -> None:
    """The whole-pipeline reports (read from the counts) equal the same reports
    counted from the rows."""
    reports = projector.reports
    assert reports.funnel(pipeline) == reports.funnel(pipeline, since=EARLY)
    now = day(40)
    whole = reports.time_in_stage(pipeline, now=now)
    assert whole == reports.time_in_stage(pipeline, now=now, since=EARLY)
    assert any(s.count and s.current for s in whole.phases)


class Crash(Exception):
    """A process dying between writing a page's rows and committing them."""


class CrashingWriter(PageWriter):
    """A fake writer that dies inside its `crash_on`-th page transaction."""

    def __init__(self, store: Store, schema: Schema, crash_on: int) -> None:
        super().__init__(store, schema, position_of=_nowhere)
        self.crash_on = crash_on
        self.pages = 0

    def on_rows_written(self) -> None:
        self.pages += 1
        if self.pages == self.crash_on:
            raise Crash


def _nowhere(deal_id: uuid.UUID, version: int) -> None:
    """A fake writer's position lookup: its pages never fail to bind."""


@pytest.fixture
def projector(tracker: PhaseTracker) -> Iterator[Projector]:
    projector = Projector(tracker, page_size=5, load_page_size=5, poll_interval=0.05)
    yield projector
    projector.stop()
