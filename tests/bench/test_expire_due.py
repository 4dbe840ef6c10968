"""Before the server is measured, the bench writes the expiries then due.

A server's first sweep would write them while its reads and writes are timed
(8,578 deals at the full size), so the bench does it first, untimed.
"""

from __future__ import annotations

import pytest

from bench.db import open_tracker
from bench.imports import import_history
from bench.rebuild import expire_due
from projections.runner import Projector

pytestmark = pytest.mark.process  # starts processes or servers (see pyproject)


def test_the_due_expiries_are_written_and_projected(database_url: str) -> None:
    import_history(database_url, 3_000, seed=11)
    tracker = open_tracker(database_url)
    try:
        projector = Projector(tracker)
        projector.rebuild()
        due = len(projector.expiring(tracker.clock()))
        assert due > 0  # the generator leaves idle deals behind

        assert expire_due(database_url) == due

        assert projector.expiring(tracker.clock()) == []
        assert (
            projector.status().position == tracker.store.recorder.max_notification_id()
        )
        assert expire_due(database_url) == 0  # nothing left to do
    finally:
        tracker.close()
