"""The two SQL dialects in one place: naming, binding, transactions and bulk writes.

Every statement in `projections/` is written once with `psycopg.sql`. On PostgreSQL
it runs as is; on SQLite it is rendered to text with `?` placeholders. Values cross
the boundary through `bind`/`load`: SQLite keeps UUIDs as text and times as UTC ISO
text of fixed width (so they compare as strings), PostgreSQL keeps its own types.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any, cast

from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg import IsolationLevel
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composable, Identifier

from storage.eventstore import event_store
from storage.seams.eventsourcing import sqlite_connection
from storage.sqlite import sqlite_write_lock

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from eventsourcing.postgres import PostgresDatastore
    from eventsourcing.sqlite import SQLiteDatastore
    from psycopg import Cursor
    from psycopg.sql import Composed

    from domain.service import PhaseTracker

Row = tuple[Any, ...]
# Pages in SQLite's write-ahead log (20 MB) from which `checkpoint` copies its
# last pages under the write lock, so that the next writer starts it afresh.
WAL_RESTART_FRAMES = 5_000


class Tx(ABC):
    """A cursor inside one transaction, speaking composed SQL on both databases."""

    @abstractmethod
    def execute(self, query: Composable, params: Sequence[Any] = ()) -> None: ...

    @abstractmethod
    def executemany(self, query: Composable, rows: Iterable[Sequence[Any]]) -> None: ...

    @abstractmethod
    def fetchall(self) -> list[Row]: ...

    @abstractmethod
    def insert(
        self, table: Composable, columns: Sequence[str], rows: Iterable[Sequence[Any]]
    ) -> None:
        """Bulk insert: COPY on PostgreSQL, executemany on SQLite."""

    def fetchone(self) -> Row | None:
        rows = self.fetchall()
        return rows[0] if rows else None


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


def insert_statement(table: Composable, columns: Sequence[str]) -> Composable:
    return SQL("INSERT INTO {} ({}) VALUES ({})").format(
        table,
        SQL(", ").join(map(Identifier, columns)),
        SQL(", ").join(SQL("%s") for _ in columns),
    )


class Store(ABC):
    """Where the read models live: the event store's own database and schema."""

    postgres: bool
    types: dict[str, Composable]  # DDL type names: uuid, ts, float, bigint

    def __init__(self, tracker: PhaseTracker) -> None:
        self.recorder = event_store(tracker).recorder

    @abstractmethod
    def table(self, name: str) -> Composable: ...

    @property
    @abstractmethod
    def notification_id(self) -> Composable:
        """The column holding the position in the application sequence."""

    @property
    def events(self) -> Composable:
        return self.table(self.recorder.events_table_name)  # type: ignore[attr-defined]

    @abstractmethod
    def read(self) -> AbstractContextManager[Tx]: ...

    @abstractmethod
    def write(self) -> AbstractContextManager[Tx]:
        """A write transaction; writers are serialised (row locks / BEGIN IMMEDIATE)."""

    @abstractmethod
    def snapshot(self) -> AbstractContextManager[Tx]:
        """A read transaction that sees one consistent state across statements."""

    def bulk_write(self) -> AbstractContextManager[Tx]:
        """A write transaction for a rebuild's big sorts (its counts, its indexes)."""
        return self.write()

    @abstractmethod
    def bind(self, value: Any) -> Any: ...

    @abstractmethod
    def load_time(self, value: Any) -> dt.datetime | None: ...

    @abstractmethod
    def load_uuid(self, value: Any) -> uuid.UUID: ...

    @abstractmethod
    def any_of(
        self, column: Composable, values: Sequence[Any]
    ) -> tuple[Composable, list[Any]]:
        """`column` equal to any of `values`, and its parameters."""

    for_update: Composable = SQL("")

    def vacuum(self, tables: Sequence[Composable]) -> None:
        """Refresh planner statistics and the visibility map after a bulk load."""
        return None  # SQLite plans without them

    def analyze(self, tables: Sequence[Composable]) -> None:
        """Refresh planner statistics of tables others fill (the event log)."""
        return None

    def checkpoint(self) -> None:
        """Copy committed changes into the database file (SQLite's log)."""
        return None  # PostgreSQL's own checkpointer does

    @abstractmethod
    def row_binder(
        self, uuids: Sequence[int], times: Sequence[int]
    ) -> Callable[[Sequence[Any]], Sequence[Any]]:
        """`bind` for rows whose UUIDs and datetimes stand at these positions.

        A rebuild binds every row it writes: the positions are found once
        instead of asking each value its type.
        """


class PostgresStore(Store):
    postgres = True
    types = {
        "uuid": SQL("uuid"),
        "ts": SQL("timestamptz"),
        "float": SQL("double precision"),
        "bigint": SQL("bigint"),
    }
    for_update = SQL(" FOR UPDATE")

    def __init__(self, tracker: PhaseTracker) -> None:
        super().__init__(tracker)
        assert isinstance(self.recorder, PostgresApplicationRecorder)
        self.datastore: PostgresDatastore = self.recorder.datastore
        self.schema = self.datastore.schema
        self._types: dict[str, dict[str, str]] = {}  # table -> column -> type

    def table(self, name: str) -> Composable:
        return Identifier(self.schema, name)

    @property
    def notification_id(self) -> Composable:
        return Identifier("notification_id")

    @contextmanager
    def read(self) -> Iterator[Tx]:
        with self.datastore.get_connection() as conn:
            yield _PgTx(conn.cursor(row_factory=tuple_row), self._types)

    @contextmanager
    def write(self) -> Iterator[Tx]:
        with self.datastore.get_connection() as conn, conn.transaction():
            yield _PgTx(conn.cursor(row_factory=tuple_row), self._types)

    @contextmanager
    def snapshot(self) -> Iterator[Tx]:
        with self.datastore.get_connection() as conn:
            conn.isolation_level = IsolationLevel.REPEATABLE_READ
            try:
                with conn.transaction(force_rollback=True):
                    yield _PgTx(conn.cursor(row_factory=tuple_row), self._types)
            finally:
                conn.isolation_level = None

    def bind(self, value: Any) -> Any:
        return value

    def analyze(self, tables: Sequence[Composable]) -> None:
        # Without statistics (a fresh import, autovacuum off or behind) the
        # planner takes a range of the primary key for a few hundred rows and
        # answers each keyset page with a bitmap scan of the whole rest of the
        # range and a sort: 58 ms a page instead of 1.4 ms at 250k events.
        with self.datastore.get_connection() as conn:
            for table in tables:
                conn.execute(SQL("ANALYZE {}").format(table))

    def vacuum(self, tables: Sequence[Composable]) -> None:
        # VACUUM sets the visibility map, which index-only scans need; it cannot
        # run inside a transaction, and the pool's connections are autocommit.
        with self.datastore.get_connection() as conn:
            for table in tables:
                conn.execute(SQL("VACUUM (ANALYZE) {}").format(table))

    def row_binder(
        self, uuids: Sequence[int], times: Sequence[int]
    ) -> Callable[[Sequence[Any]], Sequence[Any]]:
        return _as_is  # psycopg adapts UUIDs and datetimes itself

    def load_time(self, value: Any) -> dt.datetime | None:
        return None if value is None else value.astimezone(dt.UTC)

    def load_uuid(self, value: Any) -> uuid.UUID:
        assert isinstance(value, uuid.UUID)
        return value

    def any_of(
        self, column: Composable, values: Sequence[Any]
    ) -> tuple[Composable, list[Any]]:
        return SQL("{} = ANY(%s)").format(column), [[self.bind(v) for v in values]]

    def connection_kwargs(self) -> dict[str, Any]:
        """How to open a connection of our own (LISTEN and the advisory lock)."""
        kwargs = self.datastore.pool.kwargs
        assert isinstance(kwargs, dict)
        return {k: v for k, v in kwargs.items() if k != "row_factory"}


class _PgTx(Tx):
    def __init__(self, cursor: Cursor[Row], types: dict[str, dict[str, str]]) -> None:
        self.cursor = cursor
        self.types = types  # the store's, shared by its transactions

    def execute(self, query: Composable, params: Sequence[Any] = ()) -> None:
        self.cursor.execute(cast("Composed", query), params)

    def executemany(self, query: Composable, rows: Iterable[Sequence[Any]]) -> None:
        self.cursor.executemany(cast("Composed", query), rows)

    def fetchall(self) -> list[Row]:
        return self.cursor.fetchall()

    def insert(
        self, table: Composable, columns: Sequence[str], rows: Iterable[Sequence[Any]]
    ) -> None:
        # Binary, with the table's own types: text COPY formats every value
        # through its dumper (UUIDs in Python), ~5 us a row; binary ~0.7 us.
        types = self._column_types(table)
        names = SQL(", ").join(map(Identifier, columns))
        statement = SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(table, names)
        with self.cursor.copy(statement) as copy:
            copy.set_types([types[c] for c in columns])
            for row in rows:
                copy.write_row(row)

    def _column_types(self, table: Composable) -> dict[str, str]:
        name = table.as_string(self.cursor)
        types = self.types.get(name)
        if types is None:
            self.cursor.execute(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                [name],
            )
            types = self.types[name] = dict(self.cursor.fetchall())
        return types


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
            cursor = sqlite_connection(conn).cursor()
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


def store_for(tracker: PhaseTracker) -> Store:
    recorder = event_store(tracker).recorder
    if isinstance(recorder, PostgresApplicationRecorder):
        return PostgresStore(tracker)
    if isinstance(recorder, SQLiteApplicationRecorder):
        return SQLiteStore(tracker)
    raise TypeError(f"no read models for {type(recorder).__name__}")


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


def _as_is(row: Sequence[Any]) -> Sequence[Any]:
    return row


CHUNK = 500  # values per IN list: SQLite caps the number of parameters


def chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def where(conditions: Sequence[Composable]) -> Composable:
    if not conditions:
        return SQL("")
    return SQL(" WHERE ") + SQL(" AND ").join(conditions)
