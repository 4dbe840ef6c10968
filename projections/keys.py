"""API keys, stored hashed (sha256) in a table of the event store's own database.

Only the hash is kept: a leaked table does not leak keys. The API's auth and the
CLI's `keys create` share this store; it works on SQLite and PostgreSQL through the
tracker's recorder datastore, so it needs no connection settings of its own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import TYPE_CHECKING, Literal

from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.sql import SQL, Composed, Identifier

if TYPE_CHECKING:
    from domain.application import PhaseTracker

Role = Literal["agent", "auditor", "admin"]
ROLES: tuple[Role, ...] = ("agent", "auditor", "admin")
KEYS_TABLE = "api_keys"
KEY_PREFIX = "plk_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


class KeyStore:
    """Create, look up and count API keys; one role per key."""

    def __init__(self, tracker: PhaseTracker) -> None:
        recorder = tracker.recorder
        if isinstance(recorder, PostgresApplicationRecorder):
            self._pg = recorder.datastore
            self._table: Composed = SQL("{0}.{1}").format(
                Identifier(self._pg.schema), Identifier(KEYS_TABLE)
            )
        elif isinstance(recorder, SQLiteApplicationRecorder):
            self._sqlite = recorder.datastore
        else:
            raise TypeError(f"no key table for {type(recorder).__name__}")
        self._postgres = isinstance(recorder, PostgresApplicationRecorder)
        self._known: dict[str, Role] = {}
        self._has_keys = False
        self.create_table()

    def create_table(self) -> None:
        if self._postgres:
            with self._pg.transaction(commit=True) as curs:
                curs.execute(
                    SQL(
                        "CREATE TABLE IF NOT EXISTS {0} (key_hash text PRIMARY KEY, "
                        "role text NOT NULL, label text, created_at timestamptz "
                        "NOT NULL)"
                    ).format(self._table)
                )
            return
        with self._sqlite.transaction(commit=True) as c:
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {KEYS_TABLE} (key_hash TEXT PRIMARY KEY, "
                "role TEXT NOT NULL, label TEXT, created_at TEXT NOT NULL)"
            )

    def add(self, key: str, role: Role, label: str | None = None) -> None:
        """Store `key` (hashed) with `role`; storing the same key again is a no-op."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        row = (hash_key(key), role, label, dt.datetime.now(dt.UTC))
        if self._postgres:
            with self._pg.transaction(commit=True) as curs:
                curs.execute(
                    SQL(
                        "INSERT INTO {0} (key_hash, role, label, created_at) "
                        "VALUES (%s, %s, %s, %s) ON CONFLICT (key_hash) DO NOTHING"
                    ).format(self._table),
                    row,
                )
            return
        with self._sqlite.transaction(commit=True) as c:
            c.execute(
                f"INSERT OR IGNORE INTO {KEYS_TABLE} "
                "(key_hash, role, label, created_at) VALUES (?, ?, ?, ?)",
                (*row[:3], row[3].isoformat()),
            )

    def create(self, role: Role, label: str | None = None) -> str:
        """A fresh random key with `role`; the caller sees it once, we keep its hash."""
        key = new_key()
        self.add(key, role, label)
        return key

    def remembered(self, key: str) -> Role | None:
        """The key's role if it was found before: no query, safe on an event loop."""
        return self._known.get(hash_key(key))

    @property
    def known_not_empty(self) -> bool:
        """True once a key is known to exist (keys are never removed)."""
        return bool(self._known) or self._has_keys

    def role_of(self, key: str) -> Role | None:
        """The key's role, or None. Keys are never changed or removed, so a role
        once found is remembered: auth costs no query on the hot path."""
        digest = hash_key(key)
        if digest in self._known:
            return self._known[digest]
        role = self._lookup(digest)
        if role is not None:
            self._known[digest] = role
        return role

    def _lookup(self, digest: str) -> Role | None:
        if self._postgres:
            with self._pg.transaction(commit=False) as curs:
                curs.execute(
                    SQL("SELECT role FROM {0} WHERE key_hash = %s").format(self._table),
                    (digest,),
                )
                found = curs.fetchone()
            return _role(found["role"] if found else None)
        with self._sqlite.transaction(commit=False) as c:
            c.execute(f"SELECT role FROM {KEYS_TABLE} WHERE key_hash = ?", (digest,))
            row = c.fetchone()
        return _role(row[0] if row else None)

    def rows(self) -> list[tuple[str, str, str | None, str]]:
        """Every key as (sha256, role, label, created_at); never the key itself."""
        if self._postgres:
            query = SQL(
                "SELECT key_hash, role, label, created_at FROM {0} ORDER BY created_at"
            ).format(self._table)
            with self._pg.transaction(commit=False) as curs:
                curs.execute(query)
                found = curs.fetchall()
            return [
                (r["key_hash"], r["role"], r["label"], r["created_at"].isoformat())
                for r in found
            ]
        with self._sqlite.transaction(commit=False) as c:
            c.execute(
                f"SELECT key_hash, role, label, created_at FROM {KEYS_TABLE} "
                "ORDER BY created_at"
            )
            return [(r[0], r[1], r[2], r[3]) for r in c.fetchall()]

    def empty(self) -> bool:
        """True while no key exists at all (the server then runs open, on loopback).

        Keys are never removed, so once a key exists that is remembered."""
        if self.known_not_empty:
            return False
        self._has_keys = not self._count_empty()
        return not self._has_keys

    def _count_empty(self) -> bool:
        if self._postgres:
            with self._pg.transaction(commit=False) as curs:
                curs.execute(SQL("SELECT 1 FROM {0} LIMIT 1").format(self._table))
                return curs.fetchone() is None
        with self._sqlite.transaction(commit=False) as c:
            c.execute(f"SELECT 1 FROM {KEYS_TABLE} LIMIT 1")
            return c.fetchone() is None


def _role(value: object) -> Role | None:
    for role in ROLES:
        if value == role:
            return role
    return None
