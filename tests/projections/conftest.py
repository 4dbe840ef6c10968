"""Helpers for projection tests: a dated story of actions and a look at the rows."""

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
from tests.helpers.clock import day

if TYPE_CHECKING:
    from collections.abc import Iterator

    from domain.application import PhaseTracker
    from domain.commands import Result
    from projections.store import Row


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


@pytest.fixture
def projector(tracker: PhaseTracker) -> Iterator[Projector]:
    projector = Projector(tracker, page_size=5, poll_interval=0.05)
    yield projector
    projector.stop()
