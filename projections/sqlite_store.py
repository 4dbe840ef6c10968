"""SQLite: the recorder's connections, one writer at a time, UUIDs and times as text."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.sql import SQL, Composable, Identifier

from projections.aggregates import upsert
from projections.dialect import Store, Tx, bare, insert_statement
from projections.sqlite_text import bind, row_binder
from projections.stages import ranked_in_python
from projections.wakeup import FileWakeup, Wakeup
from storage.lockfiles import lock_file
from storage.seams.eventsourcing import sqlite_connection
from storage.sqlite import sqlite_write_lock

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from eventsourcing.persistence import ApplicationRecorder
    from eventsourcing.sqlite import SQLiteDatastore

    from projections.aggregates import Counted
    from projections.dialect import Lookup, Row, Stats

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
    for_update = SQL("")  # BEGIN IMMEDIATE holds the whole database already

    def __init__(self, recorder: ApplicationRecorder) -> None:
        super().__init__(recorder)
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

    bind = staticmethod(bind)  # as is: a report binds every parameter

    def row_binder(
        self, uuids: Sequence[int], times: Sequence[int]
    ) -> Callable[[Sequence[Any]], Sequence[Any]]:
        return row_binder(uuids, times)

    def load_time(self, value: Any) -> dt.datetime | None:
        return None if value is None else dt.datetime.fromisoformat(value)

    def load_uuid(self, value: Any) -> uuid.UUID:
        return uuid.UUID(value)

    def any_of(
        self, column: Composable, values: Sequence[Any]
    ) -> tuple[Composable, list[Any]]:
        marks = SQL(", ").join(SQL("%s") for _ in values)
        return SQL("{} IN ({})").format(column, marks), [self.bind(v) for v in values]

    def lock_for_ddl(self, tx: Tx, key: str) -> None:
        return None  # a write transaction (BEGIN IMMEDIATE) is alone already

    def vacuum(self, tables: Sequence[Composable]) -> None:
        return None  # SQLite plans without them

    def analyze(self, tables: Sequence[Composable]) -> None:
        return None

    def analyze_in(self, tx: Tx, tables: Sequence[Composable]) -> None:
        return None

    # -- the catalog ---------------------------------------------------------------

    def exists(self, tx: Tx, table: Composable) -> bool:
        tx.execute(
            SQL("SELECT count(*) FROM sqlite_master WHERE name = %s"),
            [table.as_string(None).strip('"')],
        )
        row = tx.fetchone()
        return bool(row and row[0])

    def index_names(self, tx: Tx, table: Composable) -> list[str]:
        tx.execute(
            SQL(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = %s"
            ),
            [bare(table)],
        )
        return [name for (name,) in tx.fetchall()]

    def column_names(self, tx: Tx, table: Composable) -> list[str]:
        tx.execute(SQL("SELECT name FROM pragma_table_info(%s)"), [bare(table)])
        return [name for (name,) in tx.fetchall()]

    def point_view(self, tx: Tx, view: Composable, source: Composable) -> None:
        tx.execute(SQL("DROP VIEW IF EXISTS {}").format(view))
        tx.execute(SQL("CREATE VIEW {} AS SELECT * FROM {}").format(view, source))

    def build_indexes(
        self, statements: Sequence[Composable], tables: Sequence[Composable]
    ) -> None:
        # One writer at a time: nothing to run side by side.
        with self.bulk_write() as tx:
            for statement in statements:
                tx.execute(statement)

    # -- the read models' rows -----------------------------------------------------

    def stored_id(self, deal_id: uuid.UUID) -> Any:
        return deal_id.hex  # the recorder keeps SQLite ids as hex text

    def remove_rows(
        self,
        tx: Tx,
        deals: Composable,
        intervals: Composable,
        deal_ids: Sequence[uuid.UUID],
        cuts: Sequence[tuple[uuid.UUID, int]],
    ) -> None:
        bind = self.bind
        tx.executemany(
            SQL("DELETE FROM {} WHERE deal_id = %s").format(deals),
            [(bind(d),) for d in deal_ids],
        )
        tx.executemany(
            SQL("DELETE FROM {} WHERE deal_id = %s AND seq >= %s").format(intervals),
            [(bind(d), seq) for d, seq in cuts],
        )

    # -- the count tables (aggregates) ---------------------------------------------

    # A bucket: an open interval's entry fortnight as a Julian day number, a
    # completed one's duration in 12-hour steps (ENTRY_STEP, DURATION_STEP).
    count_terms = {
        "open": "{r}.exited_at IS NULL",
        "bucket": "CASE WHEN {r}.exited_at IS NULL THEN "
        "CAST(julianday(substr({r}.entered_at, 1, 10)) - 0.5 AS INTEGER) / 14 "
        "ELSE CAST({r}.duration_seconds AS INTEGER) / 43200 END",
        "micros": "coalesce(CAST(round({r}.duration_seconds * 1e6) AS INTEGER), 0)",
    }

    def create_count_triggers(
        self, tx: Tx, counted: Counted, source: Composable, target: Composable
    ) -> None:
        # Row triggers only: one upsert per row.
        def add(row: str, sign: str) -> Composable:
            keys = counted.key_values(self.count_terms, row)
            adds = ", ".join(
                f"{sign}({a})" for a in counted.added(self.count_terms, row)
            )
            return SQL("INSERT INTO {} VALUES ({}, {}){};").format(
                target, SQL(keys), SQL(adds), upsert(counted, target)
            )

        steps = {
            "INSERT": [add("NEW", "")],
            "DELETE": [add("OLD", "-")],
            "UPDATE": [add("OLD", "-"), add("NEW", "")],
        }
        for event, statements in steps.items():
            name = Identifier(f"{bare(target)}_{event.lower()}")
            tx.execute(SQL("DROP TRIGGER IF EXISTS {}").format(name))
            tx.execute(
                SQL("CREATE TRIGGER {} AFTER {} ON {} BEGIN {} END").format(
                    name, SQL(event), source, SQL(" ").join(statements)
                )
            )

    def drop_count_triggers(self, tx: Tx, target: Composable) -> None:
        return None  # a row table's triggers go with it

    # -- the reports ---------------------------------------------------------------

    def owned_intervals(
        self, deal_phases: Composable, phase_intervals: Composable
    ) -> Composable:
        # Held to the owner's deals first by a CROSS JOIN.
        return SQL(
            "(SELECT i.* FROM {} d CROSS JOIN {} i WHERE i.deal_id = d.deal_id "
            "AND d.pipeline = %s AND d.owner = %s) AS owned"
        ).format(deal_phases, phase_intervals)

    def phase_seek(
        self, stage_counts: Composable, pipeline: str
    ) -> tuple[list[Composable], list[Any]]:
        # SQLite then seeks each phase's entries in the period by their index.
        condition = SQL("phase IN (SELECT phase FROM {} WHERE pipeline = %s)")
        return [condition.format(stage_counts)], [pipeline]

    def values_at_ranks(
        self,
        intervals: Composable,
        pipeline: str,
        value: tuple[Composable, Composable],
        condition: Composable,
        wanted: list[Lookup],
    ) -> dict[tuple[str, int], list[float]]:
        """One `LIMIT 2 OFFSET skip` walk of the index a lookup, all in one statement.

        Times are ordered as their fixed-width UTC text, then turned into epoch
        seconds as `interval_stats` does.
        """
        order = value[1]
        lookup = SQL(
            "SELECT * FROM (SELECT %s, %s, {} FROM {} WHERE pipeline = %s "
            "AND phase = %s AND {} AND {} >= %s ORDER BY {} LIMIT 2 OFFSET %s)"
        ).format(order, intervals, condition, order, order)
        params: list[Any] = []
        for phase, rank, low, skip in wanted:
            params += [phase, rank, pipeline, phase, low, skip]
        rows = self.query(SQL(" UNION ALL ").join([lookup] * len(wanted)), params)
        found: dict[tuple[str, int], list[Any]] = {}
        for phase, rank, x in rows:
            found.setdefault((phase, int(rank)), []).append(x)
        return {key: [self._number(x) for x in sorted(xs)] for key, xs in found.items()}

    def _number(self, value: Any) -> float:
        if isinstance(value, str):  # an entry time
            moment = self.load_time(value)
            assert moment is not None
            return moment.timestamp()
        return float(value)

    def interval_stats(
        self, source: Composable, condition: Composable, params: list[Any]
    ) -> dict[str, Stats]:
        # No percentiles in SQLite: the durations come back and are ranked here.
        # Not sorted by the query: an ORDER BY made SQLite walk the pipeline's
        # intervals in the durations index's order, whatever the filter.
        query = SQL("SELECT phase, duration_seconds, entered_at FROM {}{}").format(
            source, condition
        )
        return ranked_in_python(self.query(query, params), self.load_time)

    # -- one process at a time -----------------------------------------------------

    def wakeup(self, key: str, purpose: str = "projector") -> Wakeup:
        # A lock file beside the database (none for one in memory).
        path = lock_file(self.datastore.pool.db_name, purpose)
        return Wakeup() if path is None else FileWakeup(path)

    @contextmanager
    def hold(self, key: str) -> Iterator[bool]:
        yield True  # nothing held across processes: the caller's own lock is all


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
