"""Where phaselog bends the eventsourcing library, each seam with its reason.

Every use of a name the library does not offer as public is here, nowhere else;
tests/storage/test_library_seams.py fails if an upgrade takes one away or changes
what it does.

- `save`: `Application.save` without its per-aggregate Protocol checks.
- `on_new_connection`: a setting for each new SQLite connection (the pool has no
  public hook for one).
- `on_close`: something to do after the SQLite datastore closes.
- `sqlite_connection`: the `sqlite3` connection inside the library's wrapper.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from eventsourcing.application import Application, ProcessingEvent

if TYPE_CHECKING:
    import uuid
    from collections.abc import Callable, Sequence

    from eventsourcing.domain import Aggregate
    from eventsourcing.persistence import Recording
    from eventsourcing.sqlite import (
        SQLiteConnection,
        SQLiteConnectionPool,
        SQLiteDatastore,
    )


def save(
    app: Application[uuid.UUID], aggregates: Sequence[Aggregate], **kwargs: Any
) -> list[Recording[uuid.UUID]]:
    """`Application.save` for aggregates of ours, without its Protocol checks.

    The library asks `isinstance(obj, <runtime Protocol>)` twice per
    aggregate, ~18 us on Python 3.11: a tenth of group commit's own CPU. The
    rest is the library's own save: record (`_record`), snapshots, notify.
    """
    processing = ProcessingEvent[Any]()
    for aggregate in aggregates:
        processing.events.extend(aggregate.collect_events())
        processing.aggregates[aggregate.id] = aggregate
    processing.saved_kwargs.update(kwargs)
    recordings = app._record(processing)
    app._take_snapshots(processing)
    app._notify(recordings)
    app.notify(processing.events)  # the library's deprecated hook, as it does
    return recordings


def on_new_connection(
    pool: SQLiteConnectionPool, setup: Callable[[sqlite3.Connection], None]
) -> None:
    """`setup` runs on each connection the pool makes, before its first use."""
    create = pool._create_connection

    def create_connection() -> SQLiteConnection:
        connection = create()
        setup(sqlite_connection(connection))
        return connection

    pool._create_connection = create_connection  # type: ignore[method-assign]


def on_close(datastore: SQLiteDatastore, after: Callable[[], None]) -> None:
    """`after` runs once, after the datastore's first close (the library closes
    it again when it is collected, perhaps at the interpreter's exit)."""
    close = datastore.close
    closed = False

    def closing() -> None:
        nonlocal closed
        close()
        if not closed:
            closed = True
            after()

    datastore.close = closing  # type: ignore[method-assign]


def sqlite_connection(connection: SQLiteConnection) -> sqlite3.Connection:
    """The `sqlite3` connection the library's connection wraps (a PRAGMA on it
    answers at once; through the wrapper it would wait for the write lock)."""
    raw = connection._sqlite_conn
    assert isinstance(raw, sqlite3.Connection)
    return raw
