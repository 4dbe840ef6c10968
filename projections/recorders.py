"""Our application recorders: the library's, plus the table of action keys.

Every action, move and void carries an idempotency key (`action_id`). The key, the
deal it belongs to and a digest of the command's content are inserted in the SAME
transaction as the events, so a key is stored exactly when its event is; a second
writer racing with the same key fails on the primary key and then answers from the
log. The service reaches these recorders by topic (APPLICATION_RECORDER_TOPIC).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore
from psycopg.sql import SQL, Identifier

if TYPE_CHECKING:
    from collections.abc import Sequence

    from eventsourcing.persistence import StoredEvent
    from eventsourcing.sqlite import SQLiteCursor
    from psycopg import Cursor
    from psycopg.rows import DictRow

ActionKey = tuple[str, uuid.UUID, str]  # action_id, deal_id, digest
ACTION_KEYS = "action_keys"


class SQLitePhaselogRecorder(SQLiteApplicationRecorder):
    def __init__(
        self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name)

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {ACTION_KEYS} ("
            "action_id TEXT PRIMARY KEY, deal_id TEXT NOT NULL, digest TEXT NOT NULL)",
        ]

    def _insert_events(
        self,
        c: SQLiteCursor,
        stored_events: Sequence[StoredEvent],
        **kwargs: Any,
    ) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        keys: list[ActionKey] = kwargs.get("action_keys") or []
        c.executemany(
            f"INSERT INTO {ACTION_KEYS} (action_id, deal_id, digest) VALUES (?, ?, ?)",
            [(action_id, deal_id.hex, digest) for action_id, deal_id, digest in keys],
        )
        return ids

    def find_action(self, action_id: str) -> tuple[uuid.UUID, str] | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT deal_id, digest FROM {ACTION_KEYS} WHERE action_id = ?",
                (action_id,),
            )
            row = c.fetchone()
        return None if row is None else (uuid.UUID(row["deal_id"]), row["digest"])

    def position_of(self, deal_id: uuid.UUID, version: int) -> int | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT rowid FROM {self.events_table_name} "
                "WHERE originator_id = ? AND originator_version = ?",
                (deal_id.hex, version),
            )
            row = c.fetchone()
        return None if row is None else int(row[0])


class PostgresPhaselogRecorder(PostgresApplicationRecorder):
    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        schema = Identifier(self.datastore.schema)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {0}.{1} (action_id text PRIMARY KEY, "
                "deal_id uuid NOT NULL, digest text NOT NULL)"
            ).format(schema, Identifier(ACTION_KEYS))
        )
        self._insert_key = SQL(
            "INSERT INTO {0}.{1} (action_id, deal_id, digest) VALUES (%s, %s, %s)"
        ).format(schema, Identifier(ACTION_KEYS))
        self._find_key = SQL(
            "SELECT deal_id, digest FROM {0}.{1} WHERE action_id = %s"
        ).format(schema, Identifier(ACTION_KEYS))
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

    def _insert_events(
        self,
        curs: Cursor[DictRow],
        stored_events: Sequence[StoredEvent],
        **kwargs: Any,
    ) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        keys: list[ActionKey] = kwargs.get("action_keys") or []
        if keys:
            curs.executemany(self._insert_key, keys)

    def find_action(self, action_id: str) -> tuple[uuid.UUID, str] | None:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._find_key, (action_id,), prepare=True)
            row = curs.fetchone()
        return None if row is None else (row["deal_id"], row["digest"])

    def position_of(self, deal_id: uuid.UUID, version: int) -> int | None:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._position, (deal_id, version), prepare=True)
            row = curs.fetchone()
        return None if row is None else int(row["notification_id"])
