"""SQLite: the recorder's connections, one writer at a time, UUIDs and times as text."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.sql import SQL, Composable, Identifier

from projections.dialect import Store, Tx, insert_statement
from storage.sqlite import sqlite_write_lock

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from eventsourcing.sqlite import SQLiteDatastore

    from domain.application import PhaseTracker
    from projections.dialect import Row

# Pages in SQLite's write-ahead log (20 MB) from which `checkpoint` copies its
# last pages under the write lock, so that the next writer starts it afresh.
WAL_RESTART_FRAMES = 5_000


def _sync(path: str) -> None:
    """Flush the pages checkpoints wrote into the database file to the disk.

    So that the checkpoint under the lock need not; if the file cannot be
    opened (a `file:` URI), that checkpoint syncs it all the same.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SQLiteStore(Store):
    postgres = False
    types = {
        "uuid": SQL("TEXT"),
        "ts": SQL("TEXT"),
        "float": SQL("REAL"),
        "bigint": SQL("INTEGER"),
    }

    def __init__(self, tracker: PhaseTracker) -> None:
        super().__init__(tracker)
        assert isinstance(self.recorder, SQLiteApplicationRecorder)
        self.datastore: SQLiteDatastore = self.recorder.datastore

    def table(self, name: str) -> Composable:
        return Identifier(name)

    @property
    def notification_id(self) -> Composable:
        return SQL("rowid")

    @contextmanager
    def _transaction(self, begin: str, *, writer: bool) -> Iterator[Tx]:
        with self.datastore.get_connection(commit=writer) as conn:
            cursor = conn.cursor()
            cursor.execute(begin)
            try:
                yield _SQLiteTx(cursor.sqlite_cursor)
            except BaseException:
                conn.rollback()
                raise
            else:
                if writer:
                    conn.commit()
                else:
                    conn.rollback()
            finally:
                cursor.sqlite_cursor.close()

    @contextmanager
    def read(self) -> Iterator[Tx]:
        with self._transaction("BEGIN", writer=False) as tx:
            yield tx

    @contextmanager
    def write(self) -> Iterator[Tx]:
        # IMMEDIATE takes the write lock up front: two writers cannot both read
        # the same tracking position and then both commit a page. Writers queue
        # on the recorder's lock first (see `sqlite_write_lock`).
        with (
            sqlite_write_lock(self.datastore.pool.db_name),
            self._transaction("BEGIN IMMEDIATE", writer=True) as tx,
        ):
            yield tx

    def snapshot(self) -> AbstractContextManager[Tx]:
        return self.read()  # a SQLite read transaction is already a snapshot (WAL)

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the database file, mostly unlocked.

        Writers go on committing meanwhile (see `checkpoints_deferred`). SQLite
        starts the log afresh only when a writer begins with all of it copied,
        which under load never happens by itself, and the log file grew by
        40 MB a second: so once it is long, the few pages committed meanwhile
        are copied again under the write lock, before the next writer begins.
        That checkpoint, the first to copy the whole log, syncs the database
        file, so the file is synced before, unlocked (held 11-16 -> 2-4 ms).
        """
        busy, frames, _ = self._passive_checkpoint()
        if not busy and frames >= WAL_RESTART_FRAMES:
            _sync(self.datastore.pool.db_name)
            # The lock first, then a connection, as every writer takes them.
            with sqlite_write_lock(self.datastore.pool.db_name):
                self._passive_checkpoint()

    def _passive_checkpoint(self) -> tuple[int, int, int]:
        """(busy, pages in the log, pages copied); -1 pages when the database
        keeps no write-ahead log (in memory)."""
        with self.datastore.get_connection(commit=False) as conn:
            cursor = conn._sqlite_conn.cursor()
            try:
                row = cursor.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()[0]
            finally:
                cursor.close()
        return int(row[0]), int(row[1]), int(row[2])

    @contextmanager
    def bulk_write(self) -> Iterator[Tx]:
        # SQLite sorts on its own thread unless told otherwise; a big sort merges
        # in worker threads (the counts' GROUP BY at 1 M intervals: 1.8 -> 1.2 s).
        with self.write() as tx:
            tx.execute(SQL(f"PRAGMA threads = {SORT_THREADS}"))
            try:
                yield tx
            finally:
                tx.execute(SQL("PRAGMA threads = 0"))  # the pooled connection's own

    def bind(self, value: Any) -> Any:
        if isinstance(value, dt.datetime):
            return utc_text(value)
        if isinstance(value, uuid.UUID):
            return str(value)
        return value

    def row_binder(
        self, uuids: Sequence[int], times: Sequence[int]
    ) -> Callable[[Sequence[Any]], Sequence[Any]]:
        # A deal's rows follow one another and share its id: its text is made once.
        last: list[Any] = [None, None]  # (the UUID, its text)

        def bind(row: Sequence[Any]) -> Sequence[Any]:
            # The same values as `bind`, without asking each value its type.
            values = list(row)
            for i in uuids:
                value = values[i]
                if value is not None:
                    if value is not last[0]:
                        last[:] = value, str(value)
                    values[i] = last[1]
            for i in times:
                if values[i] is not None:
                    values[i] = utc_text(values[i])
            return values

        return bind

    def load_time(self, value: Any) -> dt.datetime | None:
        return None if value is None else dt.datetime.fromisoformat(value)

    def load_uuid(self, value: Any) -> uuid.UUID:
        return uuid.UUID(value)

    def any_of(
        self, column: Composable, values: Sequence[Any]
    ) -> tuple[Composable, list[Any]]:
        marks = SQL(", ").join(SQL("%s") for _ in values)
        return SQL("{} IN ({})").format(column, marks), [self.bind(v) for v in values]


class _SQLiteTx(Tx):
    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor

    @staticmethod
    def render(query: Composable) -> str:
        # Our statements never contain a literal '%': every one is a placeholder.
        return query.as_string(None).replace("%s", "?")

    def execute(self, query: Composable, params: Sequence[Any] = ()) -> None:
        self.cursor.execute(self.render(query), params)

    def executemany(self, query: Composable, rows: Iterable[Sequence[Any]]) -> None:
        self.cursor.executemany(self.render(query), rows)

    def fetchall(self) -> list[Row]:
        return [tuple(row) for row in self.cursor.fetchall()]

    def insert(
        self, table: Composable, columns: Sequence[str], rows: Iterable[Sequence[Any]]
    ) -> None:
        self.executemany(insert_statement(table, columns), rows)


SORT_THREADS = os.cpu_count() or 1  # helper threads a big SQLite sort may use
_DAYS_KEPT = 100_000  # UTC days whose text `utc_text` remembers
_DAYS: dict[dt.date, str] = {}


def utc_text(moment: dt.datetime) -> str:
    """How SQLite keeps a time: `moment.astimezone(UTC).isoformat(timespec=
    "microseconds")`, in half its time.

    `isoformat` asks the tzinfo for its offset and formats every field again; a
    day's text repeats across the rows of a page, so it is looked up (the text of a
    bulk load's 1.3 M times took ~2 s of its ~34 s of CPU).
    """
    if moment.tzinfo is not dt.UTC:
        moment = moment.astimezone(dt.UTC)
    day = moment.date()
    text = _DAYS.get(day)
    if text is None:
        if len(_DAYS) > _DAYS_KEPT:
            _DAYS.clear()
        text = _DAYS[day] = f"{day.isoformat()}T"
    return f"{text}{moment.time().isoformat(timespec='microseconds')}+00:00"
