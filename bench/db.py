"""Throwaway databases for one benchmark run: a PostgreSQL schema or a SQLite file."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from api.settings import Settings, eventsourcing_env
from domain.application import PhaseTracker
from domain.definitions import load_presets

if TYPE_CHECKING:
    from collections.abc import Iterator

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
    return PhaseTracker(
        eventsourcing_env(settings_for(url)),
        pipelines=load_presets().values(),
        group_commit=group_commit,
    )
