"""One process at a time creates the tables and registers the pipelines.

PostgreSQL's CREATE ... IF NOT EXISTS is not safe against a concurrent create
(two `serve` workers on a fresh database: one failed with a duplicate type). A
session advisory lock, held on a connection of its own, serialises startup; on
SQLite a lock file beside the database does (concurrent first opens failed now
and then with "database is locked"); the file goes once startup is done, so none
is left beside the database by a server that stopped.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import psycopg

from storage.lockfiles import file_lock

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping


@contextlib.contextmanager
def startup_lock(env: Mapping[str, str]) -> Iterator[None]:
    """Hold the startup lock of the database the eventsourcing `env` names."""
    if "POSTGRES_SCHEMA" in env:
        with postgres_startup_lock(env):
            yield
    else:
        with sqlite_startup_lock(env):
            yield


@contextlib.contextmanager
def postgres_startup_lock(env: Mapping[str, str]) -> Iterator[None]:
    """A session advisory lock per schema: startups on other schemas go on."""
    with psycopg.connect(
        dbname=env["POSTGRES_DBNAME"],
        host=env["POSTGRES_HOST"],
        port=env["POSTGRES_PORT"],
        user=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"],
        connect_timeout=int(env["POSTGRES_CONNECT_TIMEOUT"]),
        autocommit=True,
    ) as conn:
        key = f"phaselog:startup:{env['POSTGRES_SCHEMA']}"
        conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [key])
        yield  # closing the connection releases the lock


@contextlib.contextmanager
def sqlite_startup_lock(env: Mapping[str, str]) -> Iterator[None]:
    """The startup lock file beside the database, removed once startup is done."""
    with file_lock(env["SQLITE_DBNAME"], "startup", remove=True):
        yield
