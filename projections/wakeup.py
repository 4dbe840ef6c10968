"""Waking the runner, and keeping one runner per projection.

On PostgreSQL a connection of our own holds a session advisory lock and, while it
holds it, LISTENs on the recorder's channel; a lost NOTIFY only costs one poll
interval, because waiting always ends after `timeout`. A standby (another process
holds the lock) does not listen: it asks for the lock once a poll interval. SQLite
has no NOTIFY: the runner simply polls, and `BEGIN IMMEDIATE` serialises writers
(one process).
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING

import psycopg
from psycopg.sql import SQL, Identifier

from projections.store import PostgresStore

if TYPE_CHECKING:
    import threading
    from collections.abc import Iterator

    from projections.store import Store

logger = logging.getLogger(__name__)
_TRY_LOCK = SQL("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))")
_SLICE = 0.05  # how often a wait looks at the wake event


class Wakeup:
    """Polling only: what SQLite gets."""

    def acquire(self) -> bool:
        return True

    def wait(self, timeout: float, wake: threading.Event) -> None:
        wake.wait(timeout)

    def close(self) -> None:
        pass


class PgWakeup(Wakeup):
    """LISTEN for new events, and hold the projection's advisory lock."""

    def __init__(self, store: PostgresStore, key: str) -> None:
        self.store = store
        self.key = key
        self.channel: str = store.recorder.channel_name  # type: ignore[attr-defined]
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
                self._conn = psycopg.connect(
                    **self.store.connection_kwargs(), autocommit=True
                )
                self._locked = False
            if not self._locked:
                row = self._conn.execute(_TRY_LOCK, [self.key]).fetchone()
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


def wakeup_for(store: Store, key: str) -> Wakeup:
    return PgWakeup(store, key) if isinstance(store, PostgresStore) else Wakeup()


class AlreadyRunning(RuntimeError):
    """Another rebuild of this projection is under way."""


@contextmanager
def exclusive(store: Store, key: str, local: threading.Lock) -> Iterator[None]:
    """Hold `key` across processes (PostgreSQL) and threads, or raise AlreadyRunning."""
    if not local.acquire(blocking=False):
        raise AlreadyRunning(key)
    try:
        if not isinstance(store, PostgresStore):
            yield
            return
        with psycopg.connect(**store.connection_kwargs(), autocommit=True) as conn:
            row = conn.execute(_TRY_LOCK, [key]).fetchone()
            if not (row and row[0]):
                raise AlreadyRunning(key)
            yield
    finally:
        local.release()
