"""PostgreSQL: the pool's connections, COPY for bulk writes, its own types."""

from __future__ import annotations

import datetime as dt
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

import psycopg
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import IsolationLevel
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composable, Identifier

from projections.aggregates import micros_sum, upsert
from projections.dialect import Store, Tx, bare
from projections.postgres_tx import PgTx
from projections.stages import mean_of_micros
from projections.wakeup import TRY_LOCK, PgWakeup

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from eventsourcing.persistence import ApplicationRecorder
    from eventsourcing.postgres import PostgresDatastore

    from projections.aggregates import Counted
    from projections.dialect import Lookup, Stats
    from projections.wakeup import Wakeup


class PostgresStore(Store):
    postgres = True
    types = {
        "uuid": SQL("uuid"),
        "ts": SQL("timestamptz"),
        "float": SQL("double precision"),
        "bigint": SQL("bigint"),
    }
    for_update = SQL(" FOR UPDATE")

    def __init__(self, recorder: ApplicationRecorder) -> None:
        super().__init__(recorder)
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
            yield PgTx(conn.cursor(row_factory=tuple_row), self._types)

    @contextmanager
    def write(self) -> Iterator[Tx]:
        with self.datastore.get_connection() as conn, conn.transaction():
            yield PgTx(conn.cursor(row_factory=tuple_row), self._types)

    @contextmanager
    def snapshot(self) -> Iterator[Tx]:
        with self.datastore.get_connection() as conn:
            conn.isolation_level = IsolationLevel.REPEATABLE_READ
            try:
                with conn.transaction(force_rollback=True):
                    yield PgTx(conn.cursor(row_factory=tuple_row), self._types)
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

    # -- what a transaction takes --------------------------------------------------

    def bulk_write(self) -> AbstractContextManager[Tx]:
        return self.write()

    def lock_for_ddl(self, tx: Tx, key: str) -> None:
        tx.execute(SQL("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"), [key])

    def analyze_in(self, tx: Tx, tables: Sequence[Composable]) -> None:
        for table in tables:
            tx.execute(SQL("ANALYZE {}").format(table))

    def checkpoint(self) -> None:
        return None  # PostgreSQL's own checkpointer does

    # -- the catalog ---------------------------------------------------------------

    def exists(self, tx: Tx, table: Composable) -> bool:
        tx.execute(SQL("SELECT to_regclass(%s) IS NOT NULL"), [table.as_string(None)])
        row = tx.fetchone()
        return bool(row and row[0])

    def index_names(self, tx: Tx, table: Composable) -> list[str]:
        tx.execute(
            SQL(
                "SELECT i.relname FROM pg_index x JOIN pg_class i "
                "ON i.oid = x.indexrelid WHERE x.indrelid = %s::regclass"
            ),
            [table.as_string(None)],
        )
        return [name for (name,) in tx.fetchall()]

    def column_names(self, tx: Tx, table: Composable) -> list[str]:
        tx.execute(
            SQL(
                "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass "
                "AND attnum > 0 AND NOT attisdropped"
            ),
            [table.as_string(None)],
        )
        return [name for (name,) in tx.fetchall()]

    def point_view(self, tx: Tx, view: Composable, source: Composable) -> None:
        tx.execute(
            SQL("CREATE OR REPLACE VIEW {} AS SELECT * FROM {}").format(view, source)
        )

    def build_indexes(
        self, statements: Sequence[Composable], tables: Sequence[Composable]
    ) -> None:
        # Each index on a connection of its own, two at a time: a build is one
        # backend's sort, and the rebuild's workers have left both cores idle.
        def create(statement: Composable) -> None:
            with self.write() as tx:
                tx.execute(statement)

        with ThreadPoolExecutor(2) as pool:
            list(pool.map(create, statements))
            list(pool.map(lambda table: self.vacuum([table]), tables))

    # -- the read models' rows -----------------------------------------------------

    def stored_id(self, deal_id: uuid.UUID) -> Any:
        return deal_id

    def remove_rows(
        self,
        tx: Tx,
        deals: Composable,
        intervals: Composable,
        deal_ids: Sequence[uuid.UUID],
        cuts: Sequence[tuple[uuid.UUID, int]],
    ) -> None:
        # One statement a table, so each count trigger runs once a page, and
        # one index probe a deal: as a plain join or `= ANY` the planner,
        # without statistics (autovacuum is off), scans the whole table.
        if deal_ids:
            tx.execute(_REMOVE.format(deals, _DEAL, SQL("")), [deal_ids])
        if cuts:
            tx.execute(
                _REMOVE.format(intervals, _CUT, _FROM_SEQ),
                [[d for d, _ in cuts], [s for _, s in cuts]],
            )

    # -- the count tables (aggregates) ---------------------------------------------

    # A bucket: an open interval's entry fortnight as a Julian day number, a
    # completed one's duration in 12-hour steps (ENTRY_STEP, DURATION_STEP).
    count_terms = {
        "open": "({r}.exited_at IS NULL)::integer",
        "bucket": "CASE WHEN {r}.exited_at IS NULL "
        "THEN (floor(extract(epoch FROM {r}.entered_at) / 86400)::bigint "
        "+ 2440587) / 14 "
        "ELSE floor({r}.duration_seconds)::bigint / 43200 END",
        "micros": "coalesce(round({r}.duration_seconds * 1e6)::bigint, 0)",
    }

    def create_count_triggers(
        self, tx: Tx, counted: Counted, source: Composable, target: Composable
    ) -> None:
        # One statement-level trigger per write statement: a GROUP BY over its
        # transition table.
        function = self._trigger_function(target)

        def add(rows: str, sign: str) -> Composable:
            sums = ", ".join(
                f"{sign}sum({a})" for a in counted.added(self.count_terms, "r")
            )
            return SQL("INSERT INTO {} SELECT {}, {} FROM {} r GROUP BY {}{};").format(
                target,
                SQL(counted.key_values(self.count_terms, "r")),
                SQL(sums),
                SQL(rows),
                SQL(", ").join(SQL(str(n + 1)) for n in range(len(counted.key))),
                upsert(counted, target),
            )

        # An update (only ever by hand) takes its old rows out and puts new ones in.
        body = SQL(
            "BEGIN IF TG_OP <> 'DELETE' THEN {} END IF; "
            "IF TG_OP <> 'INSERT' THEN {} END IF; RETURN NULL; END"
        ).format(add("added", ""), add("removed", "-"))
        tx.execute(
            SQL(
                "CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql "
                "AS $phaselog$ {} $phaselog$"
            ).format(function, body)
        )
        for event, transitions in _TRANSITIONS.items():
            name = Identifier(f"{bare(target)}_{event.lower()}")
            # A trigger belongs to its row table: it outlives a dropped count table.
            tx.execute(SQL("DROP TRIGGER IF EXISTS {} ON {}").format(name, source))
            tx.execute(
                SQL(
                    "CREATE TRIGGER {} AFTER {} ON {} REFERENCING {} "
                    "FOR EACH STATEMENT EXECUTE FUNCTION {}()"
                ).format(name, SQL(event), source, SQL(transitions), function)
            )

    def drop_count_triggers(self, tx: Tx, target: Composable) -> None:
        function = self._trigger_function(target)
        tx.execute(SQL("DROP FUNCTION IF EXISTS {}()").format(function))

    def _trigger_function(self, target: Composable) -> Composable:
        """The trigger function of a count table (dropped with it)."""
        return self.table(f"{bare(target)}_keep")

    # -- the reports ---------------------------------------------------------------

    def owned_intervals(
        self, deal_phases: Composable, phase_intervals: Composable
    ) -> Composable:
        # Held to the owner's deals first by a fenced LATERAL.
        return SQL(
            "(SELECT i.* FROM {} d CROSS JOIN LATERAL (SELECT * FROM {} "
            "WHERE deal_id = d.deal_id OFFSET 0) i WHERE d.pipeline = %s "
            "AND d.owner = %s) AS owned"
        ).format(deal_phases, phase_intervals)

    def phase_seek(
        self, stage_counts: Composable, pipeline: str
    ) -> tuple[list[Composable], list[Any]]:
        return [], []  # PostgreSQL scans the pipeline in parallel either way

    def values_at_ranks(
        self,
        intervals: Composable,
        pipeline: str,
        value: tuple[Composable, Composable],
        condition: Composable,
        wanted: list[Lookup],
    ) -> dict[tuple[str, int], list[float]]:
        low = "timestamptz" if isinstance(wanted[0][2], dt.datetime) else "float8"
        query = SQL(
            "SELECT w.phase, w.rank, v.found FROM unnest(%s::text[], %s::bigint[], "
            "%s::{}[], %s::bigint[]) AS w(phase, rank, low, skip) CROSS JOIN LATERAL "
            "(SELECT array_agg(x ORDER BY x) AS found FROM (SELECT {} AS x FROM {} i "
            "WHERE i.pipeline = %s AND i.phase = w.phase AND {} AND {} >= w.low "
            "ORDER BY {} OFFSET w.skip LIMIT 2) s) v"
        ).format(SQL(low), value[0], intervals, condition, value[1], value[1])
        columns = [list(c) for c in zip(*wanted, strict=True)]
        rows = self.query(query, [*columns, pipeline])
        return {(phase, int(rank)): list(found) for phase, rank, found in rows}

    def interval_stats(
        self, source: Composable, condition: Composable, params: list[Any]
    ) -> dict[str, Stats]:
        query = SQL(
            "SELECT phase, count(duration_seconds), {}, "
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_seconds), "
            "percentile_cont(0.9) WITHIN GROUP (ORDER BY duration_seconds), "
            "count(*) FILTER (WHERE exited_at IS NULL), "
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM "
            "entered_at)) FILTER (WHERE exited_at IS NULL) "
            "FROM {}{} GROUP BY phase"
        ).format(SQL(micros_sum(self.count_terms)), source, condition)
        return {
            r[0]: (
                int(r[1]),
                mean_of_micros(int(r[2]), int(r[1])),
                _float(r[3]),
                _float(r[4]),
                int(r[5]),
                _float(r[6]),
            )
            for r in self.query(query, params)
        }

    # -- connections of our own ----------------------------------------------------

    def wakeup(self, key: str, purpose: str = "projector") -> Wakeup:
        channel: str = self.recorder.channel_name  # type: ignore[attr-defined]
        return PgWakeup(self.connection_kwargs(), channel, key)

    @contextmanager
    def hold(self, key: str) -> Iterator[bool]:
        # A session advisory lock on a connection of its own, released as it closes.
        with psycopg.connect(**self.connection_kwargs(), autocommit=True) as conn:
            row = conn.execute(TRY_LOCK, [key]).fetchone()
            yield bool(row and row[0])

    def connection_kwargs(self) -> dict[str, Any]:
        """How to open a connection of our own (LISTEN and the advisory lock)."""
        kwargs = self.datastore.pool.kwargs
        assert isinstance(kwargs, dict)
        return {k: v for k, v in kwargs.items() if k != "row_factory"}


def _as_is(row: Sequence[Any]) -> Sequence[Any]:
    return row


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


_TRANSITIONS = {  # the rows each kind of statement hands its trigger
    "INSERT": "NEW TABLE AS added",
    "DELETE": "OLD TABLE AS removed",
    "UPDATE": "OLD TABLE AS removed NEW TABLE AS added",
}


# The rows to delete found by a probe a deal (OFFSET 0 keeps the LATERAL subquery
# whole), deleted by their row ids.
_REMOVE = SQL(
    "DELETE FROM {0} WHERE ctid = ANY(ARRAY(SELECT r.ctid FROM {1} "
    "CROSS JOIN LATERAL (SELECT ctid FROM {0} AS x WHERE x.deal_id = c.deal_id{2} "
    "OFFSET 0) AS r))"
)
_DEAL = SQL("unnest(%s::uuid[]) AS c(deal_id)")
_CUT = SQL("unnest(%s::uuid[], %s::integer[]) AS c(deal_id, seq)")
_FROM_SEQ = SQL(" AND x.seq >= c.seq")
