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

    from eventsourcing.persistence import ApplicationRecorder

    from projections.aggregates import Counted
    from projections.wakeup import Wakeup

Row = tuple[Any, ...]
# A phase's time in stage (`stages`): count, mean, median, p90, current, median
# entered_at (epoch) of current deals
Stats = tuple[int, float | None, float | None, float | None, int, float | None]
# A value looked up by its rank (`stages`): (phase, rank, the bucket's lower
# bound, values to skip from there)
Lookup = tuple[str, int, Any, int]


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

    postgres: bool  # which database, for tests: no module here asks
    types: dict[str, Composable]  # DDL type names: uuid, ts, float, bigint

    def __init__(self, recorder: ApplicationRecorder) -> None:
        self.recorder = recorder

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

    @abstractmethod
    def row_binder(
        self, uuids: Sequence[int], times: Sequence[int]
    ) -> Callable[[Sequence[Any]], Sequence[Any]]:
        """`bind` for rows whose UUIDs and datetimes stand at these positions.

        A rebuild binds every row it writes: the positions are found once
        instead of asking each value its type.
        """

    def query(self, query: Composable, params: Sequence[Any] = ()) -> list[Row]:
        """The rows of one statement, read in a transaction of its own, its
        parameters bound: how every report reads."""
        with self.read() as tx:
            tx.execute(query, [self.bind(p) for p in params])
            return tx.fetchall()

    # -- what a transaction takes --------------------------------------------------

    for_update: Composable  # locks the rows a SELECT reads, where rows lock

    @abstractmethod
    def bulk_write(self) -> AbstractContextManager[Tx]:
        """A write transaction for a rebuild's big sorts (its counts, its indexes)."""

    @abstractmethod
    def lock_for_ddl(self, tx: Tx, key: str) -> None:
        """Hold `key` until `tx` ends, so that two processes starting at once do
        not both create the same tables."""

    @abstractmethod
    def vacuum(self, tables: Sequence[Composable]) -> None:
        """Refresh planner statistics and the visibility map after a bulk load."""

    @abstractmethod
    def analyze(self, tables: Sequence[Composable]) -> None:
        """Refresh planner statistics of tables others fill (the event log)."""

    @abstractmethod
    def analyze_in(self, tx: Tx, tables: Sequence[Composable]) -> None:
        """Planner statistics of tables made in `tx` (not yet visible to others)."""

    @abstractmethod
    def checkpoint(self) -> None:
        """Copy committed changes into the database file (SQLite's log)."""

    # -- the catalog ---------------------------------------------------------------

    @abstractmethod
    def exists(self, tx: Tx, table: Composable) -> bool: ...

    @abstractmethod
    def index_names(self, tx: Tx, table: Composable) -> list[str]:
        """The names of every index on `table`."""

    @abstractmethod
    def column_names(self, tx: Tx, table: Composable) -> list[str]:
        """The names of `table`'s columns."""

    @abstractmethod
    def point_view(self, tx: Tx, view: Composable, source: Composable) -> None:
        """(Re)define `view` as every row of `source`."""

    @abstractmethod
    def build_indexes(
        self, statements: Sequence[Composable], tables: Sequence[Composable]
    ) -> None:
        """Run the index `statements` of bulk-loaded `tables`, then refresh the
        tables' statistics."""

    # -- the read models' rows -----------------------------------------------------

    @abstractmethod
    def stored_id(self, deal_id: uuid.UUID) -> Any:
        """A deal's id as the event table's `originator_id` holds it."""

    @abstractmethod
    def remove_rows(
        self,
        tx: Tx,
        deals: Composable,
        intervals: Composable,
        deal_ids: Sequence[uuid.UUID],
        cuts: Sequence[tuple[uuid.UUID, int]],
    ) -> None:
        """Delete the rows of `deal_ids` from `deals`, and for each (deal, seq)
        of `cuts` the deal's rows of `intervals` from that seq on."""

    # -- the count tables (aggregates) ---------------------------------------------

    # The SQL of a row `{r}`'s `open` flag, its `bucket`, and its duration in
    # whole `micros`econds, as the count tables key and sum them.
    count_terms: dict[str, str]

    @abstractmethod
    def create_count_triggers(
        self, tx: Tx, counted: Counted, source: Composable, target: Composable
    ) -> None:
        """Triggers on `source` that keep the counts in `target` with every write."""

    @abstractmethod
    def drop_count_triggers(self, tx: Tx, target: Composable) -> None:
        """What the triggers of a dropped count table leave behind."""

    # -- the reports ---------------------------------------------------------------

    @abstractmethod
    def owned_intervals(
        self, deal_phases: Composable, phase_intervals: Composable
    ) -> Composable:
        """A derived table of the intervals of the deals a pipeline (the first
        parameter) has for an owner (the second), each deal's by its key."""

    @abstractmethod
    def phase_seek(
        self, stage_counts: Composable, pipeline: str
    ) -> tuple[list[Composable], list[Any]]:
        """Conditions (and their parameters) that hold for every interval of
        `pipeline`, and make the database seek each phase's by its index."""

    @abstractmethod
    def values_at_ranks(
        self,
        intervals: Composable,
        pipeline: str,
        value: tuple[Composable, Composable],
        condition: Composable,
        wanted: list[Lookup],
    ) -> dict[tuple[str, int], list[float]]:
        """(phase, rank) -> the values at rank and rank + 1 of `value` (what,
        order) among the pipeline's `intervals` matching `condition`, each
        `wanted` lookup walking the index from its bucket's start."""

    @abstractmethod
    def interval_stats(
        self, source: Composable, condition: Composable, params: list[Any]
    ) -> dict[str, Stats]:
        """phase -> Stats over the intervals of `source` matching `condition`."""

    # -- one process at a time -----------------------------------------------------

    @abstractmethod
    def wakeup(self, key: str, purpose: str = "projector") -> Wakeup:
        """How the runner that holds `key` (one process at a time) hears of new
        events, and how a standby asks for it; on SQLite `purpose` names the
        lock file (`storage.lockfiles.PURPOSES`)."""

    @abstractmethod
    def hold(self, key: str) -> AbstractContextManager[bool]:
        """Hold `key` against other processes while the block runs: False if
        another process holds it."""


def bare(table: Composable) -> str:
    """A table's own name, without schema or quotes."""
    return table.as_string(None).rsplit(".", 1)[-1].strip('"')


CHUNK = 500  # values per IN list: SQLite caps the number of parameters


def chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def where(conditions: Sequence[Composable]) -> Composable:
    if not conditions:
        return SQL("")
    return SQL(" WHERE ") + SQL(" AND ").join(conditions)
