"""The event store on PostgreSQL: the library's recorder, faster, and the keys.

The action keys go in the same transaction as the events (`storage.log`); a save
is one statement (a function that inserts the keys, takes the table lock,
notifies and inserts the events), a big one a COPY. The service reaches this
recorder by its topic (APPLICATION_RECORDER_TOPIC, see api/settings.py).
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
from typing import TYPE_CHECKING, Any

import psycopg
from eventsourcing.persistence import (
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    PersistenceError,
    ProgrammingError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg import Connection
from psycopg import OperationalError as ConnectionLost
from psycopg.sql import SQL, Identifier, Literal
from psycopg_pool import ConnectionPool

from storage.ledger import LEAVES_FUNCTION
from storage.log import ACTION_KEYS, ActionKey
from storage.postgres_sql import (
    INSERT_FUNCTION,
    PostgresSchema,
    insert_function,
    ledger_statements,
)
from storage.retry import retried
from storage.seams.psycopg_pool import replace_check

if TYPE_CHECKING:
    import uuid
    from collections.abc import Iterator, Mapping, Sequence

    from psycopg.rows import DictRow

COPY_THRESHOLD = 200  # events per save from which COPY beats INSERT ... unnest


def ping_if_stirred(conn: Connection[Any]) -> None:
    """The pool's check before it lends a connection (POSTGRES_PRE_PING).

    The library's check pings on every loan: a round trip and a statement's
    worth of Python, three times per group commit. A connection the server has
    ended (a restart, an administrator, a timeout) has the server's goodbye or
    end of file waiting on its socket, so only a connection with something to
    read is pinged; the pool replaces one that fails.
    """
    if conn.closed or conn.broken:
        raise ConnectionLost("the connection is closed")
    waiting = select.poll()  # not select(): a busy server's sockets pass fd 1024
    waiting.register(conn.fileno(), select.POLLIN)
    if waiting.poll(0):
        ConnectionPool.check_connection(conn)


def without_jit(pool: ConnectionPool[Any]) -> None:
    """The pool's connections start with PostgreSQL's JIT compiler off.

    PostgreSQL compiles a statement to machine code once its estimated cost
    passes `jit_above_cost`, and optimizes and inlines it past 500,000. Our
    statements are short and their estimates are often far off (autovacuum may
    not have analyzed a table the import is filling): a batch's lookup of 1,100
    deals on a 1 M-event log was estimated at 23 M, and took 99 ms with JIT
    against 12 ms without; 20 deals took 23 ms. Set at connect (libpq's
    `options`), so no statement pays a round trip for it; any PGOPTIONS kept.
    """
    kwargs = pool.kwargs
    assert isinstance(kwargs, dict)
    options = kwargs.get("options") or os.environ.get("PGOPTIONS", "")
    if "jit=" not in options:
        kwargs["options"] = f"{options} -c jit=off".strip()


# psycopg's errors as the library's datastore hands them on, most specific first.
_TRANSLATED: tuple[tuple[type[psycopg.Error], type[PersistenceError]], ...] = (
    (psycopg.InterfaceError, InterfaceError),
    (psycopg.OperationalError, OperationalError),
    (psycopg.DataError, DataError),
    (psycopg.IntegrityError, IntegrityError),
    (psycopg.InternalError, InternalError),
    (psycopg.ProgrammingError, ProgrammingError),
    (psycopg.NotSupportedError, NotSupportedError),
    (psycopg.DatabaseError, DatabaseError),
    (psycopg.Error, PersistenceError),
)


def _translated(error: psycopg.Error) -> PersistenceError:
    kind = next(ours for theirs, ours in _TRANSLATED if isinstance(error, theirs))
    return kind(str(error))


class PostgresPhaselogRecorder(PostgresApplicationRecorder):
    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        without_jit(datastore.pool)  # before the library's first connection
        super().__init__(datastore, events_table_name=events_table_name)
        replace_check(datastore.pool, ping_if_stirred)
        self._held = threading.local()  # this thread's loan, inside `held()`
        schema = Identifier(self.datastore.schema)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {0}.{1} (action_id text PRIMARY KEY, "
                "deal_id uuid NOT NULL, digest text NOT NULL)"
            ).format(schema, Identifier(ACTION_KEYS))
        )
        self._find_key = SQL(
            "SELECT deal_id, digest FROM {0}.{1} WHERE action_id = %s"
        ).format(schema, Identifier(ACTION_KEYS))
        self._find_keys = SQL(
            "SELECT action_id, deal_id, digest FROM {0}.{1} WHERE action_id = ANY(%s)"
        ).format(schema, Identifier(ACTION_KEYS))
        # One index probe per deal. As a plain join the planner (no statistics:
        # autovacuum is off) hashed the ids and scanned the whole event table
        # for every batch, so an import's batches slowed as the log grew; the
        # OFFSET 0 keeps the per-deal subquery (and its index scan) whole.
        newer = SQL(
            "s.originator_id, s.originator_version, s.topic, s.state "
            "FROM unnest(%s::uuid[], %s::bigint[]) AS v(id, after) "
            "CROSS JOIN LATERAL (SELECT e.originator_id, e.originator_version, "
            "e.topic, e.state FROM {0}.{1} AS e WHERE e.originator_id = v.id "
            "AND e.originator_version > v.after OFFSET 0) AS s"
        ).format(schema, Identifier(self.events_table_name))
        self._events_after = SQL(
            "SELECT {0} ORDER BY s.originator_id, s.originator_version"
        ).format(newer)
        # A batch's two reads in one statement (see `lookup`): key rows carry an
        # action id and no version, event rows a version and no action id.
        self._keys_and_events_after = SQL(
            "SELECT k.action_id, k.deal_id AS originator_id, "
            "NULL::bigint AS originator_version, k.digest AS topic, "
            "NULL::bytea AS state FROM {0}.{1} AS k WHERE k.action_id = ANY(%s) "
            "UNION ALL SELECT NULL, {2}"
        ).format(schema, Identifier(ACTION_KEYS), newer)
        # The leaves (storage.ledger), computed in SQL; the schema's migrations.
        self.sql_create_statements += ledger_statements(
            schema, Identifier(self.events_table_name)
        )
        self.schema = self.ledger = PostgresSchema(self)
        # One statement saves a batch: the keys, the table lock, the notification,
        # the events and their leaves, in a function (`_insert_in_one_statement`).
        self.sql_create_statements.append(
            insert_function(
                schema,
                Identifier(self.events_table_name),
                self.datastore.lock_timeout,
                Identifier(self.channel_name),
            )
        )
        function = Identifier(INSERT_FUNCTION)
        self._add_leaves = SQL("SELECT {0}.{1}(%s)").format(
            schema, Identifier(LEAVES_FUNCTION)
        )
        # Rendered once: psycopg renders a composed query again on every call.
        self._insert_call = (
            SQL(
                "SELECT {0}.{1}(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[], "
                "%b::text[], %b::uuid[], %b::text[]) AS id"
            )
            .format(schema, function)
            .as_string()
        )
        self._copy_keys = SQL(
            "COPY {0}.{1} (action_id, deal_id, digest) FROM STDIN"
        ).format(schema, Identifier(ACTION_KEYS))
        self._copy_stored = SQL(
            "COPY {0}.{1} (originator_id, originator_version, topic, state) "
            "FROM STDIN (FORMAT BINARY)"
        ).format(schema, Identifier(self.events_table_name))
        self._last_id = SQL(
            "SELECT currval(pg_get_serial_sequence({0}, {1})) AS last"
        ).format(
            Literal(f"{self.datastore.schema}.{self.events_table_name}"),
            Literal("notification_id"),
        )
        self._position = SQL(
            "SELECT notification_id FROM {0}.{1} "
            "WHERE originator_id = %s AND originator_version = %s"
        ).format(schema, Identifier(self.events_table_name))

    def create_table(self) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                SQL("CREATE SCHEMA IF NOT EXISTS {0}").format(
                    Identifier(self.datastore.schema)
                )
            )
        super().create_table()

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """This thread's statements share one pool loan until the block ends.

        A batch reads its action keys and deals, then saves, each statement on
        a loan of its own: the loan (the library's wrapper, the pool, its check)
        cost ~90 us of Python, as much as the statement. A held connection that
        broke meanwhile is not used again: the next statement takes a new loan,
        and the pool discards the broken one when the block gives it back.
        """
        if getattr(self._held, "conn", None) is not None:
            yield  # held already, further up this thread's stack
            return
        with self.datastore.get_connection() as conn:
            self._held.conn = conn
            try:
                yield
            finally:
                self._held.conn = None

    @contextlib.contextmanager
    def _connection(self) -> Iterator[Connection[DictRow]]:
        """The held connection if there is a sound one, else a loan of its own."""
        conn: Connection[DictRow] | None = getattr(self._held, "conn", None)
        if conn is None or conn.closed or conn.broken:
            with self.datastore.get_connection() as conn:
                yield conn
            return
        try:
            yield conn
        except psycopg.Error as error:  # as the library's own loan hands them on
            raise _translated(error) from error

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        keys: list[ActionKey] = kwargs.get("action_keys") or []
        if len(stored_events) < COPY_THRESHOLD:
            ids: list[int] = self._insert_in_one_statement(stored_events, keys)
            return ids
        return self._copy_events(stored_events, keys)

    @retried
    def _insert_in_one_statement(
        self, stored_events: Sequence[StoredEvent], keys: list[ActionKey]
    ) -> list[int]:
        """One autocommitted statement: keys, table lock, notification, events.

        The library sends BEGIN, the lock, the NOTIFY, the insert and COMMIT
        through a pipeline. Group commit saves often, and each of those cost the
        Python side a statement's worth of work; a batch of one cost 2 ms of CPU.
        In one function the lock is also held for no client round trip. Columns
        go as binary arrays: the library's array of a composite type is dumped
        as text in Python. A conflict with a racing writer (a version or a key
        stored first) is the statement's IntegrityError and stores nothing.
        """
        key_columns: list[list[Any]] = (
            [list(c) for c in zip(*keys, strict=True)] if keys else [[], [], []]
        )
        with self._connection() as conn, conn.cursor() as curs:
            curs.execute(
                self._insert_call,
                (
                    [e.originator_id for e in stored_events],
                    [e.originator_version for e in stored_events],
                    [e.topic for e in stored_events],
                    [e.state for e in stored_events],
                    *key_columns,
                ),
                prepare=True,
            )
            return [row["id"] for row in curs.fetchall()]

    def _copy_events(
        self, stored_events: Sequence[StoredEvent], keys: list[ActionKey]
    ) -> list[int]:
        """Big batches (imports) go in by COPY under the same table lock.

        Holding the EXCLUSIVE lock, nobody else draws from the notification id
        sequence, so the ids of our rows are the contiguous run ending at currval.
        """
        with (
            self._connection() as conn,
            conn.transaction(),
            conn.cursor() as curs,
        ):
            with curs.copy(self._copy_keys) as copy:
                for key in keys:
                    copy.write_row(key)
            self._lock_table(curs)
            self._notify_channel(curs)
            with curs.copy(self._copy_stored) as copy:
                copy.set_types(["uuid", "int8", "text", "bytea"])
                for event in stored_events:
                    copy.write_row(
                        (
                            event.originator_id,
                            event.originator_version,
                            event.topic,
                            event.state,
                        )
                    )
            curs.execute(self._last_id)
            row = curs.fetchone()
            assert row is not None
            last = int(row["last"])
            first = last - len(stored_events) + 1
            curs.execute(self._add_leaves, (first,))
        return list(range(first, last + 1))

    @retried
    def find_action(self, action_id: str) -> tuple[uuid.UUID, str] | None:
        with self._connection() as conn, conn.cursor() as curs:
            curs.execute(self._find_key, (action_id,), prepare=True)
            row = curs.fetchone()
        return None if row is None else (row["deal_id"], row["digest"])

    @retried
    def find_actions(
        self, action_ids: Sequence[str]
    ) -> dict[str, tuple[uuid.UUID, str]]:
        with self._connection() as conn, conn.cursor() as curs:
            curs.execute(self._find_keys, (list(action_ids),))
            return {
                row["action_id"]: (row["deal_id"], row["digest"])
                for row in curs.fetchall()
            }

    @retried
    def lookup(
        self, action_ids: Sequence[str], versions: Mapping[uuid.UUID, int]
    ) -> tuple[dict[str, tuple[uuid.UUID, str]], dict[uuid.UUID, list[StoredEvent]]]:
        """`find_actions` and `select_events_after` in one statement.

        A batch asks both before it stages anything, and each statement cost
        the group commit ~40 us of psycopg besides its arrays, and the server a
        statement of its own.
        """
        if not action_ids:
            return {}, self.select_events_after(versions)
        found: dict[str, tuple[uuid.UUID, str]] = {}
        events: dict[uuid.UUID, list[StoredEvent]] = {}
        with self._connection() as conn, conn.cursor() as curs:
            curs.execute(
                self._keys_and_events_after,
                (list(action_ids), list(versions), list(versions.values())),
            )
            for row in curs.fetchall():
                if row["action_id"] is not None:
                    found[row["action_id"]] = (row["originator_id"], row["topic"])
                    continue
                events.setdefault(row["originator_id"], []).append(_stored(row))
        for stored in events.values():  # UNION ALL promises no order
            stored.sort(key=_version)
        return found, events

    @retried
    def select_events_after(
        self, versions: Mapping[uuid.UUID, int]
    ) -> dict[uuid.UUID, list[StoredEvent]]:
        events: dict[uuid.UUID, list[StoredEvent]] = {}
        with self._connection() as conn, conn.cursor() as curs:
            curs.execute(self._events_after, (list(versions), list(versions.values())))
            for row in curs.fetchall():
                events.setdefault(row["originator_id"], []).append(_stored(row))
        return events

    @retried
    def position_of(self, deal_id: uuid.UUID, version: int) -> int | None:
        with self._connection() as conn, conn.cursor() as curs:
            curs.execute(self._position, (deal_id, version), prepare=True)
            row = curs.fetchone()
        return None if row is None else int(row["notification_id"])


def _stored(row: Mapping[str, Any]) -> StoredEvent:
    return StoredEvent(
        originator_id=row["originator_id"],
        originator_version=row["originator_version"],
        topic=row["topic"],
        state=bytes(row["state"]),
    )


def _version(event: StoredEvent) -> int:
    return event.originator_version
