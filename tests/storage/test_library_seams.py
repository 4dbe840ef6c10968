"""What phaselog relies on where it bends its libraries (storage/seams/).

Each test fails if an upgrade of eventsourcing or psycopg_pool takes away, or
changes, a name the seam uses: read the seam's reason before mending it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eventsourcing.application import Application
from eventsourcing.sqlite import SQLiteDatastore
from psycopg_pool import ConnectionPool

from domain.deal import Deal
from storage.eventstore import event_store
from storage.seams import eventsourcing as seams
from storage.seams.psycopg_pool import replace_check
from tests.conftest import _libpq

if TYPE_CHECKING:
    import sqlite3
    from pathlib import Path

    import psycopg

    from domain.service import PhaseTracker


def _deal(contact: str) -> Deal:
    return Deal(
        pipeline="nl-tesoro", pipeline_version=1, contact_id=contact, object_id=None
    )


def test_the_quick_save_stores_what_the_librarys_save_stores(
    tracker: PhaseTracker,
) -> None:
    store = event_store(tracker)
    ours, theirs = _deal("ours"), _deal("theirs")
    heard: list[Any] = []
    store.notify = heard.extend  # type: ignore[method-assign]

    quick = seams.save(store, [ours])
    library = Application.save(store, theirs)

    assert [r.notification.topic for r in quick] == [
        r.notification.topic for r in library
    ]
    assert [r.domain_event.originator_version for r in quick] == [1]
    assert len(heard) == 2  # the library's deprecated hook, heard either way
    for saved in (ours, theirs):
        assert [e.originator_id for e in store.recorder.select_events(saved.id)] == [
            saved.id
        ]


def test_each_new_sqlite_connection_is_set_up_before_use(tmp_path: Path) -> None:
    datastore = SQLiteDatastore(str(tmp_path / "seams.db"))
    seen: list[sqlite3.Connection] = []
    seams.on_new_connection(datastore.pool, seen.append)

    with datastore.get_connection(commit=False) as connection:
        raw = seams.sqlite_connection(connection)

    assert seen == [raw]
    assert tuple(raw.execute("SELECT 1").fetchone()) == (1,)
    datastore.close()


def test_what_follows_the_close_runs_once_however_often_it_closes(
    tmp_path: Path,
) -> None:
    datastore = SQLiteDatastore(str(tmp_path / "seams.db"))
    after: list[bool] = []
    seams.on_close(datastore, lambda: after.append(True))

    datastore.close()
    datastore.close()

    assert after == [True]


def test_the_pools_own_check_can_be_replaced(postgres_dsn: str) -> None:
    checked: list[object] = []

    def check(conn: psycopg.Connection[Any]) -> None:
        checked.append(conn)
        ConnectionPool.check_connection(conn)

    with ConnectionPool(
        _libpq(postgres_dsn),
        min_size=1,
        check=ConnectionPool.check_connection,
        open=True,
    ) as pool:
        replace_check(pool, check)
        with pool.connection() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)

    assert len(checked) == 1
