"""Waking the runner, and keeping one runner per projection.

On PostgreSQL a connection of our own holds a session advisory lock and, while it
holds it, LISTENs on the recorder's channel; a lost NOTIFY only costs one poll
interval, because waiting always ends after `timeout`. A standby (another process
holds the lock) does not listen: it asks for the lock once a poll interval.

SQLite has no NOTIFY: the holder looks for new events every `SQLITE_POLL`, which
costs two small reads, and otherwise the same holds with an exclusive `flock` on a
file beside the database in place of the advisory lock. Without it every server
process ran the projection: each folded every page, and all but one lost the race
to write it. An in-memory database belongs to one process and needs no lock.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.sql import SQL, Identifier

from storage.lockfiles import release, remove_if_free, try_locked

if TYPE_CHECKING:
    import threading

logger = logging.getLogger(__name__)
TRY_LOCK = SQL("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))")
_SLICE = 0.05  # how often a wait looks at the wake event
# Under steady load a page is followed by the settle and then this wait: with the
# runner's 1 s poll interval, a whole second more behind the log each time.
SQLITE_POLL = 0.1


class Wakeup:
    """Polling only, and the only runner: an in-memory SQLite database."""

    def acquire(self) -> bool:
        return True

    def wait(self, timeout: float, wake: threading.Event) -> None:
        wake.wait(min(timeout, SQLITE_POLL))

    def close(self) -> None:
        pass


class FileWakeup(Wakeup):
    """SQLite on a file: polling, while holding an exclusive lock on `path`."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._held: int | None = None  # the locked file's descriptor
        self._unlocked = False  # no lock file could be made: projecting anyway

    def acquire(self) -> bool:
        if self._held is None and not self._unlocked:
            try:
                self._held = try_locked(self.path)
            except OSError:
                # No lock to be had (a lock file another user made): project
                # unlocked, as every process did before, rather than not at all.
                logger.warning("no projector lock at %s; projecting", self.path)
                self._unlocked = True
                return True
            if self._held is None:
                return False  # another process projects: standby
        return True

    def wait(self, timeout: float, wake: threading.Event) -> None:
        if self._held is None and not self._unlocked:
            wake.wait(timeout)  # a standby asks for the lock again after this
        else:
            super().wait(timeout, wake)

    def close(self) -> None:
        """Give the projection up; the lock file goes unless another holds it
        (a standby takes over on a new one)."""
        if self._held is not None:
            release(self.path, self._held, remove=True)
        elif not self._unlocked:
            remove_if_free(self.path)  # left by a holder that was killed, say
        self._held, self._unlocked = None, False


class PgWakeup(Wakeup):
    """LISTEN for new events, and hold the projection's advisory lock."""

    def __init__(self, connection: dict[str, Any], channel: str, key: str) -> None:
        self.connection = connection  # how to open a connection of our own
        self.key = key
        self.channel = channel
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        self._locked = False

    def acquire(self) -> bool:
        """True while we hold the lock; another instance holding it means standby.

        Only the holder listens. A listening standby was woken by every commit
        and asked for the lock each time: one more statement per group commit,
        in a server worker. The holder catches up right after this, so what was
        committed before its LISTEN is read anyway.
        """
        try:
            if self._conn is None:
                self._conn = psycopg.connect(**self.connection, autocommit=True)
                self._locked = False
            if not self._locked:
                row = self._conn.execute(TRY_LOCK, [self.key]).fetchone()
                self._locked = bool(row and row[0])
                if self._locked:
                    listen = SQL("LISTEN {}").format(Identifier(self.channel))
                    self._conn.execute(listen)
        except psycopg.Error:
            logger.warning("projection lock connection failed; retrying", exc_info=True)
            self.close()
        return self._locked

    def wait(self, timeout: float, wake: threading.Event) -> None:
        deadline = time.monotonic() + timeout
        while not wake.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if self._conn is None or not self._locked:
                wake.wait(left)  # a standby asks for the lock again after this
                return
            try:
                for _ in self._conn.notifies(timeout=min(_SLICE, left), stop_after=1):
                    return
            except psycopg.Error:
                self.close()

    def close(self) -> None:
        # Closing the session releases the advisory lock.
        if self._conn is not None:
            self._conn.close()
        self._conn, self._locked = None, False
