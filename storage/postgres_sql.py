"""What our PostgreSQL recorder creates in the database, and its migrations.

- the save function: keys, table lock, notification, events and their leaves
  in one statement (see `PostgresPhaselogRecorder._insert_in_one_statement`);
- the leaves' table and the function that computes them in SQL, the same
  bytes as `storage.ledger` computes in Python;
- the guards that make the log append-only: UPDATE, DELETE and TRUNCATE of
  the events or their leaves raise, whoever sends them (an owner can still
  disable a trigger: the chain and signed checkpoints are what prove the log);
- `PostgresSchema`, the schema version and migrations (`storage.migrations`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import TYPE_CHECKING, Any

from psycopg.sql import SQL, Composed, Identifier

from storage.ledger import CHECKPOINTS, LEAVES, LEAVES_FUNCTION, Event, Leaf
from storage.log import ACTION_KEYS
from storage.migrations import CREATE_SCHEMA_TABLE, SCHEMA_TABLE, Migration
from storage.webhook_tables import create_statements

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from eventsourcing.postgres import PostgresApplicationRecorder

INSERT_FUNCTION = "phaselog_insert_events"
GUARD_FUNCTION = "phaselog_append_only"
LEAF_FUNCTION = "phaselog_leaf"
CHAIN_FUNCTION = "phaselog_chain_leaves"


def insert_function(
    schema: Identifier, events: Identifier, lock_timeout: int, channel: Identifier
) -> Composed:
    return SQL(
        "CREATE OR REPLACE FUNCTION {0}.{1}("
        "ids uuid[], versions bigint[], topics text[], states bytea[], "
        "key_ids text[], key_deals uuid[], key_digests text[]) "
        "RETURNS SETOF bigint LANGUAGE plpgsql AS $body$ "
        "DECLARE added bigint[]; ls bytea[]; BEGIN "
        "INSERT INTO {0}.{2} (action_id, deal_id, digest) "
        "SELECT * FROM unnest(key_ids, key_deals, key_digests); "
        "SET LOCAL lock_timeout = '{3}s'; "
        "LOCK TABLE {0}.{4} IN EXCLUSIVE MODE; "
        "NOTIFY {5}; "
        "WITH i AS (INSERT INTO {0}.{4} "
        "(originator_id, originator_version, topic, state) "
        "SELECT * FROM unnest(ids, versions, topics, states) "
        "RETURNING notification_id, {0}.{6}(notification_id, originator_id, "
        "originator_version, topic, state) AS leaf) "
        "SELECT array_agg(notification_id ORDER BY notification_id), "
        "array_agg(leaf ORDER BY notification_id) INTO added, ls FROM i; "
        "PERFORM {0}.{7}(added, ls); "
        "RETURN QUERY SELECT unnest(added); "
        "END $body$"
    ).format(
        schema,
        Identifier(INSERT_FUNCTION),
        Identifier(ACTION_KEYS),
        lock_timeout,
        events,
        channel,
        Identifier(LEAF_FUNCTION),
        Identifier(CHAIN_FUNCTION),
    )


def ledger_statements(schema: Identifier, events: Identifier) -> list[Composed]:
    """The leaves' table, and the function adding the leaves of the events
    from `first` on (under the save's table lock, so they are the newest)."""
    table = SQL(
        "CREATE TABLE IF NOT EXISTS {0}.{1} (position bigint PRIMARY KEY, "
        "leaf bytea NOT NULL, chain bytea NOT NULL)"
    ).format(schema, Identifier(LEAVES))
    # The text is `ledger.leaf_input`'s; encode's base64 breaks lines, which
    # JSON may not hold (replace() takes them out at a fifth of translate()'s
    # cost: 1.5 against 7 us an event). A SQL function: the planner inlines it.
    leaf = SQL(
        "CREATE OR REPLACE FUNCTION {0}.{1}(pos bigint, deal uuid, "
        "ver bigint, topic text, state bytea) RETURNS bytea LANGUAGE sql "
        "IMMUTABLE PARALLEL SAFE AS $body$ "
        "SELECT sha256('\\x00'::bytea || convert_to("
        '\'{{"deal":"\' || deal || \'","position":\' || pos || '
        "',\"state\":\"' || replace(encode(state, 'base64'), E'\\n', '') || "
        '\'","topic":"\' || topic || \'","version":\' || ver || \'}}\', '
        "'UTF8')) $body$"
    ).format(schema, Identifier(LEAF_FUNCTION))
    # The chain over new leaves, after the newest leaf before them, and the
    # leaves' rows.
    chain = SQL(
        "CREATE OR REPLACE FUNCTION {0}.{1}(ps bigint[], ls bytea[]) RETURNS void "
        "LANGUAGE plpgsql AS $body$ DECLARE h bytea; cs bytea[] := '{{}}'; BEGIN "
        "IF ps IS NULL THEN RETURN; END IF; "
        "SELECT l.chain INTO h FROM {0}.{2} AS l WHERE l.position < ps[1] "
        "ORDER BY l.position DESC LIMIT 1; "
        "h := coalesce(h, decode(repeat('00', 32), 'hex')); "
        "FOR i IN 1 .. array_length(ps, 1) LOOP "
        "h := sha256(h || ls[i]); cs[i] := h; "
        "END LOOP; "
        "INSERT INTO {0}.{2} (position, leaf, chain) "
        "SELECT * FROM unnest(ps, ls, cs); "
        "END $body$"
    ).format(schema, Identifier(CHAIN_FUNCTION), Identifier(LEAVES))
    function = SQL(
        "CREATE OR REPLACE FUNCTION {0}.{1}(first bigint) RETURNS void "
        "LANGUAGE plpgsql AS $body$ DECLARE ps bigint[]; ls bytea[]; BEGIN "
        "SELECT array_agg(e.notification_id ORDER BY e.notification_id), "
        "array_agg({0}.{2}(e.notification_id, e.originator_id, "
        "e.originator_version, e.topic, e.state) ORDER BY e.notification_id) "
        "INTO ps, ls FROM {0}.{3} AS e WHERE e.notification_id >= first; "
        "PERFORM {0}.{4}(ps, ls); "
        "END $body$"
    ).format(
        schema,
        Identifier(LEAVES_FUNCTION),
        Identifier(LEAF_FUNCTION),
        events,
        Identifier(CHAIN_FUNCTION),
    )
    return [table, leaf, chain, function]


def guard_statements(
    schema: Identifier, tables: Sequence[Identifier]
) -> list[Composed]:
    """Triggers refusing UPDATE, DELETE and TRUNCATE of `tables`."""
    guard = Identifier(GUARD_FUNCTION)
    statements = [
        SQL(
            "CREATE OR REPLACE FUNCTION {0}.{1}() RETURNS trigger "
            "LANGUAGE plpgsql AS $body$ BEGIN RAISE EXCEPTION "
            "'phaselog''s log is append-only: % on % refused', TG_OP, TG_TABLE_NAME "
            "USING ERRCODE = 'insufficient_privilege'; END $body$"
        ).format(schema, guard)
    ]
    for table in tables:
        statements += [
            SQL(
                "CREATE OR REPLACE TRIGGER {2} BEFORE UPDATE OR DELETE ON {0}.{1} "
                "FOR EACH ROW EXECUTE FUNCTION {0}.{2}()"
            ).format(schema, table, guard),
            SQL(
                "CREATE OR REPLACE TRIGGER {3} BEFORE TRUNCATE ON {0}.{1} "
                "FOR EACH STATEMENT EXECUTE FUNCTION {0}.{2}()"
            ).format(schema, table, guard, Identifier(f"{GUARD_FUNCTION}_truncate")),
        ]
    return statements


class PostgresSchema:
    """The schema version and migrations of one PostgreSQL schema."""

    def __init__(self, recorder: PostgresApplicationRecorder) -> None:
        self.datastore = recorder.datastore
        self.schema = Identifier(self.datastore.schema)
        self.events = Identifier(recorder.events_table_name)
        self.table = SQL("{0}.{1}").format(self.schema, Identifier(SCHEMA_TABLE))

    def migrations(self) -> Sequence[Migration]:
        return (
            Migration(1, "leaves: each event hashed, chained", self._leaves),
            Migration(2, "signed checkpoints", self._checkpoints_table),
            Migration(3, "webhooks", self._webhook_tables),
        )

    def _webhook_tables(self) -> None:
        with self.datastore.transaction(commit=True) as curs:
            for statement in create_statements(self.datastore.schema):
                curs.execute(statement)

    def _checkpoints_table(self) -> None:
        table = Identifier(CHECKPOINTS)
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                SQL(
                    "CREATE TABLE IF NOT EXISTS {0}.{1} (id bigserial PRIMARY KEY, "
                    "checkpoint text NOT NULL)"
                ).format(self.schema, table)
            )
            for statement in guard_statements(self.schema, [table]):
                curs.execute(statement)

    def add_checkpoint(self, text: str) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                SQL("INSERT INTO {0}.{1} (checkpoint) VALUES (%s)").format(
                    self.schema, Identifier(CHECKPOINTS)
                ),
                (text,),
            )

    def latest_checkpoint(self) -> str | None:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT checkpoint FROM {0}.{1} ORDER BY id DESC LIMIT 1").format(
                    self.schema, Identifier(CHECKPOINTS)
                )
            )
            row: Any = curs.fetchone()
        return None if row is None else str(row["checkpoint"])

    def applied(self) -> set[int]:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                SQL(CREATE_SCHEMA_TABLE.replace("{t}", "{0}")).format(self.table)
            )
            curs.execute(SQL("SELECT version FROM {0}").format(self.table))
            return {int(row["version"]) for row in curs.fetchall()}

    @contextlib.contextmanager
    def migration_lock(self) -> Iterator[None]:
        key = f"phaselog:migrate:{self.datastore.schema}"
        with self.datastore.get_connection() as conn:
            conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [key])
            try:
                yield
            finally:
                conn.execute(
                    "SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [key]
                )

    def record_migration(self, version: int, name: str) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                SQL(
                    "INSERT INTO {0} (version, name, applied_at) VALUES (%s, %s, %s)"
                ).format(self.table),
                (version, name, dt.datetime.now(dt.UTC).isoformat()),
            )

    def ledger_bounds(self) -> int:
        """The highest position of an event or a leaf (0 for an empty log)."""
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL(
                    "SELECT greatest((SELECT max(notification_id) FROM {0}.{1}), "
                    "(SELECT max(position) FROM {0}.{2})) AS high"
                ).format(self.schema, self.events, Identifier(LEAVES))
            )
            row: Any = curs.fetchone()
            return int(row["high"] or 0)

    def ledger_window(self, low: int, high: int) -> tuple[list[Event], list[Leaf]]:
        """The events and leaves at positions in (low, high], in log order."""
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL(
                    "SELECT notification_id, originator_id, originator_version, "
                    "topic, state FROM {0}.{1} WHERE notification_id > %s AND "
                    "notification_id <= %s ORDER BY notification_id"
                ).format(self.schema, self.events),
                (low, high),
            )
            events = [
                Event(
                    r["notification_id"],
                    r["originator_id"],
                    r["originator_version"],
                    r["topic"],
                    bytes(r["state"]),
                )
                for r in curs.fetchall()
            ]
            curs.execute(
                SQL(
                    "SELECT position, leaf, chain FROM {0}.{1} WHERE position > %s "
                    "AND position <= %s ORDER BY position"
                ).format(self.schema, Identifier(LEAVES)),
                (low, high),
            )
            leaves = [
                Leaf(r["position"], bytes(r["leaf"]), bytes(r["chain"]))
                for r in curs.fetchall()
            ]
        return events, leaves

    def _leaves(self) -> None:
        """The leaves of the events stored before the log had them, then the
        append-only guards; under the table lock, so nothing is stored meanwhile."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                SQL("LOCK TABLE {0}.{1} IN EXCLUSIVE MODE").format(
                    self.schema, self.events
                )
            )
            curs.execute(
                SQL(
                    "SELECT coalesce(max(position), 0) + 1 AS first FROM {0}.{1}"
                ).format(self.schema, Identifier(LEAVES))
            )
            row: Any = curs.fetchone()
            curs.execute(
                SQL("SELECT {0}.{1}(%s)").format(
                    self.schema, Identifier(LEAVES_FUNCTION)
                ),
                (row["first"],),
            )
            tables = [self.events, Identifier(LEAVES)]
            for statement in guard_statements(self.schema, tables):
                curs.execute(statement)
