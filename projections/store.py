"""The store of a tracker's database: PostgreSQL or SQLite."""

from __future__ import annotations

from typing import TYPE_CHECKING

from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

from projections.postgres_store import PostgresStore
from projections.sqlite_store import SQLiteStore

if TYPE_CHECKING:
    from domain.application import PhaseTracker
    from projections.dialect import Store


def store_for(tracker: PhaseTracker) -> Store:
    if isinstance(tracker.recorder, PostgresApplicationRecorder):
        return PostgresStore(tracker)
    if isinstance(tracker.recorder, SQLiteApplicationRecorder):
        return SQLiteStore(tracker)
    raise TypeError(f"no read models for {type(tracker.recorder).__name__}")
