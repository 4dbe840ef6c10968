"""PostgreSQL: the pool's connections, COPY for bulk writes, its own types."""

from __future__ import annotations

import datetime as dt
import uuid
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import IsolationLevel
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composable, Identifier

from projections.dialect import Store, Tx

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from eventsourcing.postgres import PostgresDatastore
    from psycopg import Cursor
    from psycopg.sql import Composed

    from domain.application import PhaseTracker
    from projections.dialect import Row


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


def _as_is(row: Sequence[Any]) -> Sequence[Any]:
    return row
