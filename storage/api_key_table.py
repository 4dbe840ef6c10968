"""The `api_keys` table: its rows, its SQL, and how each database runs that SQL.

Each statement is written once, `{t}` standing for the table and `%s` for a
parameter; `PostgresKeyTable` and `SQLiteKeyTable` differ only in how they run a
statement, take a migration's lock and store a time. `migrate` brings a table of
any earlier layout to the current one, safely when processes start at once: it
looks first, then changes what is missing under a lock of its own.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.sql import SQL, Composed, Identifier

from storage.sqlite import sqlite_write_lock

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from contextlib import AbstractContextManager

    from eventsourcing.persistence import ApplicationRecorder

    # A statement's text and parameters in, its rows as tuples out.
    Run = Callable[[str, Sequence[object]], list[tuple[Any, ...]]]

Role = Literal["agent", "manager", "auditor", "admin"]
ROLES: tuple[Role, ...] = ("agent", "manager", "auditor", "admin")
KEYS_TABLE = "api_keys"

# The first layout (phaselog before named keys); `migrate` adds the rest.
CREATE = (
    "CREATE TABLE IF NOT EXISTS {t} (key_hash text PRIMARY KEY, role text NOT NULL, "
    "label text, created_at {time} NOT NULL)"
)
ADDED = {
    "key_id": "text",
    "name": "text",
    "last_used_at": "{time}",
    "revoked_at": "{time}",
}
# The id is a prefix of the hash every process agrees on; the name is the old
# label (suffixed with the id where keys shared it), else `<role>-<id[:6]>`.
BACKFILL = (
    "UPDATE {t} SET key_id = substr(key_hash, 1, 12) WHERE key_id IS NULL",
    "UPDATE {t} AS k SET name = CASE "
    "WHEN k.label IS NULL THEN k.role || '-' || substr(k.key_hash, 1, 6) "
    "WHEN (SELECT count(*) FROM {t} AS o WHERE o.label = k.label) > 1 "
    "THEN k.label || '-' || substr(k.key_hash, 1, 6) "
    "ELSE k.label END WHERE k.name IS NULL",
    "CREATE UNIQUE INDEX IF NOT EXISTS api_keys_key_id ON {t} (key_id)",
    "CREATE UNIQUE INDEX IF NOT EXISTS api_keys_active_name ON {t} (name) "
    "WHERE revoked_at IS NULL",
)
SHOWN = "key_id, name, role, created_at, last_used_at, revoked_at"


@dataclass(frozen=True)
class StoredKey:
    """A key as stored, without its secret: what lists and auth see."""

    key_id: str
    name: str
    role: Role
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class KeyTable(ABC):
    """The table's statements; a subclass runs them on its database. A method
    given `run` joins its caller's transaction; the others are one each."""

    time_type = "timestamptz"

    @abstractmethod
    def transaction(self, *, write: bool) -> AbstractContextManager[Run]:
        """A transaction's statement runner; committed when `write`."""

    @abstractmethod
    def locked(self) -> AbstractContextManager[Run]:
        """A write transaction that no other process's `locked` runs beside."""

    @abstractmethod
    def columns(self, run: Run) -> set[str]:
        """The table's columns; none while it does not exist."""

    def migrate(self) -> None:
        with self.transaction(write=False) as run:
            if ADDED.keys() <= self.columns(run):
                return
        with self.locked() as run:
            run(CREATE.replace("{time}", self.time_type), ())
            present = self.columns(run)
            for column, kind in ADDED.items():
                if column not in present:
                    kind = kind.replace("{time}", self.time_type)
                    run(f"ALTER TABLE {{t}} ADD COLUMN {column} {kind}", ())
            for statement in BACKFILL:
                run(statement, ())

    def find(self, run: Run, digest: str) -> StoredKey | None:
        rows = run(f"SELECT {SHOWN} FROM {{t}} WHERE key_hash = %s", (digest,))
        return self._stored(rows[0]) if rows else None

    def insert(self, run: Run, digest: str, name: str, role: Role) -> None:
        """Store a key; a key stored before stays as it was."""
        run(
            "INSERT INTO {t} (key_hash, key_id, name, role, created_at) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (key_hash) DO NOTHING",
            (digest, digest[:12], name, role, _now()),
        )

    def assign(self, run: Run, digest: str, name: str, role: Role) -> None:
        """Give a stored key this name and role."""
        run(
            "UPDATE {t} SET name = %s, role = %s WHERE key_hash = %s",
            (name, role, digest),
        )

    def rows(self) -> list[StoredKey]:
        with self.transaction(write=False) as run:
            found = run(f"SELECT {SHOWN} FROM {{t}} ORDER BY created_at, key_id", ())
        return [self._stored(row) for row in found]

    def any(self) -> bool:
        with self.transaction(write=False) as run:
            return bool(run("SELECT 1 FROM {t} LIMIT 1", ()))

    def revoke(self, name_or_id: str) -> list[StoredKey]:
        """Revoke the active key with this id or name; the keys revoked."""
        with self.transaction(write=True) as run:
            found = run(
                "UPDATE {t} SET revoked_at = %s WHERE revoked_at IS NULL "
                f"AND (key_id = %s OR name = %s) RETURNING {SHOWN}",
                (_now(), name_or_id, name_or_id),
            )
        return [self._stored(row) for row in found]

    def retire(self, run: Run, name: str, keep: str) -> None:
        """Revoke the active keys named (or, before names, labelled) `name`,
        except the one whose hash is `keep`."""
        run(
            "UPDATE {t} SET revoked_at = %s WHERE revoked_at IS NULL "
            "AND (name = %s OR label = %s) AND key_hash <> %s",
            (_now(), name, name, keep),
        )

    def touch(self, digest: str) -> None:
        with self.transaction(write=True) as run:
            run(
                "UPDATE {t} SET last_used_at = %s WHERE key_hash = %s",
                (_now(), digest),
            )

    def _stored(self, row: tuple[Any, ...]) -> StoredKey:
        key_id, name, role, created, used, revoked = row
        time = self._time
        return StoredKey(key_id, name, role, time(created), time(used), time(revoked))

    def _time(self, value: Any) -> Any:
        return value


class PostgresKeyTable(KeyTable):
    def __init__(self, recorder: PostgresApplicationRecorder) -> None:
        self._datastore = recorder.datastore
        self._table: Composed = SQL("{0}.{1}").format(
            Identifier(self._datastore.schema), Identifier(KEYS_TABLE)
        )

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[Run]:
        with self._datastore.transaction(commit=write) as curs:

            def run(text: str, values: Sequence[object]) -> list[tuple[Any, ...]]:
                curs.execute(SQL(text).format(t=self._table), values)
                if curs.description is None:
                    return []
                return [tuple(row.values()) for row in curs.fetchall()]

            yield run

    @contextmanager
    def locked(self) -> Iterator[Run]:
        # A lock of the transaction's own: DDL's IF NOT EXISTS is not safe
        # against a concurrent identical statement on PostgreSQL.
        lock = f"phaselog:{KEYS_TABLE}:{self._datastore.schema}"
        with self.transaction(write=True) as run:
            run("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (lock,))
            yield run

    def columns(self, run: Run) -> set[str]:
        rows = run(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s",
            (self._datastore.schema, KEYS_TABLE),
        )
        return {row[0] for row in rows}


class SQLiteKeyTable(KeyTable):
    time_type = "text"

    def __init__(self, recorder: SQLiteApplicationRecorder) -> None:
        self._datastore = recorder.datastore
        self._db_name = recorder.datastore.pool.db_name

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[Run]:
        if not write:
            with self._datastore.transaction(commit=False) as c:
                yield self._runner(c)
            return
        # Writers queue on the lock beside the database, as the log's do.
        with (
            sqlite_write_lock(self._db_name),
            self._datastore.transaction(commit=True) as c,
        ):
            yield self._runner(c)

    @contextmanager
    def locked(self) -> Iterator[Run]:
        # BEGIN IMMEDIATE takes the write lock before the first read: a look at
        # the columns cannot go stale before the change it decides.
        with (
            sqlite_write_lock(self._db_name),
            self._datastore.get_connection(commit=True) as conn,
        ):
            c = conn.cursor()
            c.execute("BEGIN IMMEDIATE")
            try:
                yield self._runner(c)
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    def columns(self, run: Run) -> set[str]:
        return {row[1] for row in run(f"PRAGMA table_info({KEYS_TABLE})", ())}

    @staticmethod
    def _runner(c: Any) -> Run:
        def run(text: str, values: Sequence[object]) -> list[tuple[Any, ...]]:
            query = text.replace("%s", "?").format(t=KEYS_TABLE)
            c.execute(query, [_text(value) for value in values])
            return [tuple(row) for row in c.fetchall()]

        return run

    def _time(self, value: Any) -> Any:
        return None if value is None else dt.datetime.fromisoformat(value)


def key_table(recorder: ApplicationRecorder) -> KeyTable:
    """The key table in the database of `recorder`."""
    if isinstance(recorder, PostgresApplicationRecorder):
        return PostgresKeyTable(recorder)
    if isinstance(recorder, SQLiteApplicationRecorder):
        return SQLiteKeyTable(recorder)
    raise TypeError(f"no key table for {type(recorder).__name__}")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _text(value: object) -> object:
    """SQLite keeps times as ISO 8601 text (they sort as times)."""
    return value.isoformat() if isinstance(value, dt.datetime) else value
