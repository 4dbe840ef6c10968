"""Throwaway databases for one benchmark run: a PostgreSQL schema or a SQLite file."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from api import bootstrap
from api.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Iterator

    from domain.service import PhaseTracker

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def libpq(url: str) -> str:
    """Our URLs may carry `schema=`; libpq does not know that parameter."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "schema"]
    return urlunsplit(parts._replace(query=urlencode(query)))


def schema_of(url: str) -> str:
    return dict(parse_qsl(urlsplit(url).query)).get("schema", "public")


def with_schema(dsn: str, schema: str) -> str:
    parts = urlsplit(dsn)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "schema"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("schema", schema)])))


@contextlib.contextmanager
def scratch(database: str, postgres_dsn: str, label: str) -> Iterator[str]:
    """A fresh, empty database URL, dropped afterwards."""
    if database == "sqlite":
        directory = tempfile.mkdtemp(prefix=f"phaselog-bench-{label}-")
        try:
            yield f"sqlite:///{Path(directory) / 'phaselog.db'}"
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        return
    schema = f"bench_{label}_{uuid.uuid4().hex[:8]}"
    url = with_schema(postgres_dsn, schema)
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield url
    finally:
        drop_schema(url)


def checkpoint(url: str) -> None:
    """Write out the previous step's changes before a timed step, as pgbench does.

    Without it a step pays for the one before: the raw COPY baseline writes ~1 M
    rows of WAL just before the rebuild, whose own WAL then crossed `max_wal_size`
    and ran under a requested checkpoint (1.25 M events, two interleaved pairs:
    39.1 -> 34.2 s and 33.8 -> 30.5 s). A role that may not CHECKPOINT (it needs
    superuser or `pg_checkpoint`) runs without it.
    """
    if url.startswith("sqlite"):
        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
            conn.execute("CHECKPOINT")


def drop_schema(url: str) -> None:
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                sql.Identifier(schema_of(url))
            )
        )


def settings_for(url: str, pool_size: int = 8) -> Settings:
    return Settings(database_url=url, pool_size=pool_size)


def open_tracker(url: str, *, group_commit: bool = False) -> PhaseTracker:
    return bootstrap.open_tracker(settings_for(url), group_commit=group_commit)
