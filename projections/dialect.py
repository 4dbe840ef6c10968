"""The two SQL dialects behind one interface: naming, binding, transactions.

Every statement in `projections/` is written once with `psycopg.sql`. On PostgreSQL
it runs as is; on SQLite it is rendered to text with `?` placeholders. Values cross
the boundary through `bind`/`load`: SQLite keeps UUIDs as text and times as UTC ISO
text of fixed width (so they compare as strings), PostgreSQL keeps its own types.

`Store` is the interface; `postgres_store` and `sqlite_store` are the two databases
(`store.store_for` picks one). Where the databases differ, the difference is a
method or an attribute of the store, so the other modules read the same on both.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from psycopg.sql import SQL, Composable, Identifier

if TYPE_CHECKING:
    import datetime as dt
    import uuid
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from contextlib import AbstractContextManager

    from domain.application import PhaseTracker

Row = tuple[Any, ...]


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
        self.recorder = tracker.recorder

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


CHUNK = 500  # values per IN list: SQLite caps the number of parameters


def chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def where(conditions: Sequence[Composable]) -> Composable:
    if not conditions:
        return SQL("")
    return SQL(" WHERE ") + SQL(" AND ").join(conditions)
