"""The read models' store for the event log's database: PostgreSQL or SQLite."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

from projections.postgres_store import PostgresStore
from projections.sqlite_store import SQLiteStore

if TYPE_CHECKING:
    from eventsourcing.persistence import ApplicationRecorder

    from projections.dialect import Store


class OnALog(Protocol):
    """The service or an `EventSource`: anything with the event log's recorder."""

    @property
    def recorder(self) -> ApplicationRecorder: ...


def store_for(log: OnALog) -> Store:
    """The read models' store in the database of `log`'s recorder."""
    recorder = log.recorder
    if isinstance(recorder, PostgresApplicationRecorder):
        return PostgresStore(recorder)
    if isinstance(recorder, SQLiteApplicationRecorder):
        return SQLiteStore(recorder)
    raise TypeError(f"no read models for {type(recorder).__name__}")
