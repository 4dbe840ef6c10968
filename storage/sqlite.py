"""The event store on SQLite: the library's recorder, the action keys beside it.

Every action, move and void carries an idempotency key (`action_id`): the key,
the deal it belongs to and a digest of the command's content are inserted in the
same transaction as the events (`storage.log`), one writing transaction at a time
across processes (`sqlite_write_lock`). The service reaches this recorder by its
topic (APPLICATION_RECORDER_TOPIC, see api/settings.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteConnectionPool,
    SQLiteDatastore,
)

from storage.ledger import CHECKPOINTS, GENESIS, LEAVES, Event, Leaf, leaves_of
from storage.lockfiles import file_lock, remove_free_lock_files
from storage.log import ACTION_KEYS, ActionKey
from storage.migrations import CREATE_SCHEMA_TABLE, SCHEMA_TABLE, Migration
from storage.seams import eventsourcing as seams
from storage.webhook_tables import create_statements

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Mapping, Sequence

    from eventsourcing.sqlite import SQLiteCursor

# Write-ahead log frames (pages) from which a commit copies the log into the
# database file itself (SQLite's default is 1,000); see `checkpoints_deferred`.
WAL_AUTOCHECKPOINT = 10_000


def sqlite_write_lock(db_name: str) -> contextlib.AbstractContextManager[None]:
    """One writing transaction at a time on a SQLite file, across processes.

    SQLite lets a writer that finds the database locked sleep and try again, in
    steps of up to 100 ms: with two server processes, their projector and an
    expiry sweep writing, a write waited tens to hundreds of milliseconds for a
    lock released long before. Writers queue on an advisory lock on a file
    beside the database instead; the kernel wakes the next one at once. Each
    holder opens the file anew, so threads exclude each other too. The file
    stays between writes: it goes when the database is closed and no one holds
    it (`lock_files_removed_at_close`).
    """
    return file_lock(db_name, "write")


def lock_files_removed_at_close(datastore: SQLiteDatastore) -> None:
    """Closing the datastore (the store's close) removes the lock files beside
    the database that no one holds, so that none outlives the last process.

    Once only: a lock file left by a close at the interpreter's exit, when a
    module this needs may be gone, is removed by the next process to close.
    """
    db_name = datastore.pool.db_name

    def remove() -> None:
        try:
            remove_free_lock_files(db_name)
        except Exception:  # noqa: BLE001 - see above: nothing to undo
            pass

    seams.on_close(datastore, remove)


def checkpoints_deferred(pool: SQLiteConnectionPool) -> None:
    """The pool's connections leave checkpoints to the projector, up to a point.

    A checkpoint copies the write-ahead log's pages into the database file and
    syncs it. SQLite runs one inside the commit that takes the log past 1,000
    pages, so under our write lock: under a steady 1,000 actions/s nearly every
    projection page's commit did (its deals' rows touch ~1,400 pages), 23 ms of
    its 46, while every logging request waited behind it. The projector
    checkpoints after its pages instead, outside the lock (`Store.checkpoint`);
    a commit still does once the log holds `WAL_AUTOCHECKPOINT` pages, so a
    process without a projector (an import) keeps it bounded as well.
    """

    def defer(connection: sqlite3.Connection) -> None:
        connection.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT}")

    seams.on_new_connection(pool, defer)


class SQLitePhaselogRecorder(SQLiteApplicationRecorder):
    def __init__(
        self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"
    ) -> None:
        checkpoints_deferred(datastore.pool)  # before the library's first connection
        lock_files_removed_at_close(datastore)
        super().__init__(datastore, events_table_name)
        self.db_name = datastore.pool.db_name

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        with sqlite_write_lock(self.db_name):
            return super().insert_events(stored_events, **kwargs)

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {ACTION_KEYS} ("
            "action_id TEXT PRIMARY KEY, deal_id TEXT NOT NULL, digest TEXT NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {LEAVES} ("
            "position INTEGER PRIMARY KEY, leaf BLOB NOT NULL, chain BLOB NOT NULL)",
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
        assert ids is not None
        self._add_leaves(
            c,
            [
                Event(i, _uuid(e.originator_id), e.originator_version, e.topic, e.state)
                for i, e in zip(ids, stored_events, strict=True)
            ],
        )
        return ids

    def _add_leaves(self, c: SQLiteCursor, events: Sequence[Event]) -> None:
        """The events' leaves and chain (`storage.ledger`), in their transaction."""
        c.execute(f"SELECT chain FROM {LEAVES} ORDER BY position DESC LIMIT 1")
        row = c.fetchone()
        leaves = leaves_of(events, GENESIS if row is None else bytes(row[0]))
        c.executemany(
            f"INSERT INTO {LEAVES} (position, leaf, chain) VALUES (?, ?, ?)", leaves
        )

    # -- the schema's migrations (storage.migrations) ----------------------------

    @property
    def schema(self) -> SQLitePhaselogRecorder:
        """A file's schema is the recorder's own business, as is its ledger."""
        return self

    @property
    def ledger(self) -> SQLitePhaselogRecorder:
        return self

    def migrations(self) -> Sequence[Migration]:
        return (
            Migration(1, "leaves: each event hashed, chained", self.add_missing_leaves),
            Migration(2, "signed checkpoints", self._checkpoints_table),
            Migration(3, "webhooks", self._webhook_tables),
        )

    def _webhook_tables(self) -> None:
        with self.datastore.transaction(commit=True) as c:
            for statement in create_statements(None):
                c.execute(statement)

    def _checkpoints_table(self) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {CHECKPOINTS} ("
                "id INTEGER PRIMARY KEY AUTOINCREMENT, checkpoint TEXT NOT NULL)"
            )

    def add_checkpoint(self, text: str) -> None:
        with (
            sqlite_write_lock(self.db_name),
            self.datastore.transaction(commit=True) as c,
        ):
            c.execute(f"INSERT INTO {CHECKPOINTS} (checkpoint) VALUES (?)", (text,))

    def latest_checkpoint(self) -> str | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT checkpoint FROM {CHECKPOINTS} ORDER BY id DESC LIMIT 1")
            row = c.fetchone()
        return None if row is None else str(row[0])

    def applied(self) -> set[int]:
        with self.datastore.transaction(commit=True) as c:
            c.execute(CREATE_SCHEMA_TABLE.format(t=SCHEMA_TABLE))
            c.execute(f"SELECT version FROM {SCHEMA_TABLE}")
            return {int(row[0]) for row in c.fetchall()}

    def migration_lock(self) -> contextlib.AbstractContextManager[None]:
        return file_lock(self.db_name, "migrate", remove=True)

    def record_migration(self, version: int, name: str) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                f"INSERT INTO {SCHEMA_TABLE} (version, name, applied_at) "
                "VALUES (?, ?, ?)",
                (version, name, dt.datetime.now(dt.UTC).isoformat()),
            )

    def ledger_bounds(self) -> int:
        """The highest position of an event or a leaf (0 for an empty log)."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT max(p) FROM (SELECT max(rowid) AS p FROM "
                f"{self.events_table_name} UNION ALL "
                f"SELECT max(position) FROM {LEAVES})"
            )
            return int(c.fetchone()[0] or 0)

    def ledger_window(self, low: int, high: int) -> tuple[list[Event], list[Leaf]]:
        """The events and leaves at positions in (low, high], in log order."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT rowid, originator_id, originator_version, topic, state "
                f"FROM {self.events_table_name} WHERE rowid > ? AND rowid <= ? "
                "ORDER BY rowid",
                (low, high),
            )
            events = [
                Event(r[0], uuid.UUID(r[1]), r[2], r[3], bytes(r[4]))
                for r in c.fetchall()
            ]
            c.execute(
                f"SELECT position, leaf, chain FROM {LEAVES} "
                "WHERE position > ? AND position <= ? ORDER BY position",
                (low, high),
            )
            leaves = [Leaf(r[0], bytes(r[1]), bytes(r[2])) for r in c.fetchall()]
        return events, leaves

    def add_missing_leaves(self) -> None:
        """Leaves for the events stored before the log had them (a migration):
        how many. Under the write lock, so no event is stored meanwhile."""
        with (
            sqlite_write_lock(self.db_name),
            self.datastore.transaction(commit=True) as c,
        ):
            c.execute(f"SELECT max(position) FROM {LEAVES}")
            last = c.fetchone()[0] or 0
            c.execute(
                "SELECT rowid, originator_id, originator_version, topic, state "
                f"FROM {self.events_table_name} WHERE rowid > ? ORDER BY rowid",
                (last,),
            )
            events = [
                Event(row[0], uuid.UUID(row[1]), row[2], row[3], bytes(row[4]))
                for row in c.fetchall()
            ]
            if events:
                self._add_leaves(c, events)

    def held(self) -> contextlib.AbstractContextManager[None]:
        """SQLite's connections are this thread's own already: nothing to hold."""
        return contextlib.nullcontext()

    def find_action(self, action_id: str) -> tuple[uuid.UUID, str] | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT deal_id, digest FROM {ACTION_KEYS} WHERE action_id = ?",
                (action_id,),
            )
            row = c.fetchone()
        return None if row is None else (uuid.UUID(row["deal_id"]), row["digest"])

    def find_actions(
        self, action_ids: Sequence[str]
    ) -> dict[str, tuple[uuid.UUID, str]]:
        found: dict[str, tuple[uuid.UUID, str]] = {}
        with self.datastore.transaction(commit=False) as c:
            for chunk in _chunks(list(action_ids), 500):
                marks = ",".join("?" * len(chunk))
                c.execute(
                    f"SELECT action_id, deal_id, digest FROM {ACTION_KEYS} "
                    f"WHERE action_id IN ({marks})",
                    chunk,
                )
                for row in c.fetchall():
                    deal_id = uuid.UUID(row["deal_id"])
                    found[row["action_id"]] = (deal_id, row["digest"])
        return found

    def lookup(
        self, action_ids: Sequence[str], versions: Mapping[uuid.UUID, int]
    ) -> tuple[dict[str, tuple[uuid.UUID, str]], dict[uuid.UUID, list[StoredEvent]]]:
        """`find_actions` and `select_events_after`: a file has no round trips."""
        found = self.find_actions(action_ids) if action_ids else {}
        return found, self.select_events_after(versions)

    def select_events_after(
        self, versions: Mapping[uuid.UUID, int]
    ) -> dict[uuid.UUID, list[StoredEvent]]:
        events: dict[uuid.UUID, list[StoredEvent]] = {}
        pairs = list(versions.items())
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(pairs), 400):
                chunk = pairs[start : start + 400]
                where = " OR ".join(
                    ["(originator_id = ? AND originator_version > ?)"] * len(chunk)
                )
                c.execute(
                    "SELECT originator_id, originator_version, topic, state "
                    f"FROM {self.events_table_name} WHERE {where} "
                    "ORDER BY originator_id, originator_version",
                    [value for i, v in chunk for value in (i.hex, v)],
                )
                for row in c.fetchall():
                    originator_id = uuid.UUID(row["originator_id"])
                    events.setdefault(originator_id, []).append(
                        StoredEvent(
                            originator_id=originator_id,
                            originator_version=row["originator_version"],
                            topic=row["topic"],
                            state=row["state"],
                        )
                    )
        return events

    def position_of(self, deal_id: uuid.UUID, version: int) -> int | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT rowid FROM {self.events_table_name} "
                "WHERE originator_id = ? AND originator_version = ?",
                (deal_id.hex, version),
            )
            row = c.fetchone()
        return None if row is None else int(row[0])


def _uuid(value: uuid.UUID | str) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
