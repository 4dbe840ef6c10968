"""What phaselog's processes leave behind as they end: no worker, no connection,
no lock file.

A killed `phaselog rebuild` or `phaselog serve` takes the worker processes it
started with it (and so their database connections, the SQLite file and the
port); a command or server that ends cleanly leaves no lock file beside a SQLite
database.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import uuid
from typing import TYPE_CHECKING

import httpx
import psycopg
import pytest
from psycopg.sql import SQL, Identifier

from api.bootstrap import open_tracker
from api.demo import load_demo
from api.settings import Settings, eventsourcing_env
from bench.server import free_port
from projections.schema import DEAL_PHASES, TRACKING, physical
from storage.lockfiles import file_lock
from tests.api.conftest import ADMIN_KEY, action, bearer
from tests.api.serving import server
from tests.conftest import _libpq
from tests.helpers.processes import PHASELOG, children, ended, until, waiting_on

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

pytestmark = pytest.mark.process  # starts processes or servers (see pyproject)

WORKER = "--multiprocessing-fork"  # how a spawned worker's command line ends


@pytest.mark.parametrize("killed", ["starting", "loading"])
def test_a_killed_rebuild_takes_its_workers_and_their_connections_with_it(
    settings: Settings, killed: str
) -> None:
    tracker = open_tracker(settings)
    try:
        load_demo(tracker, 1000, seed=3)
    finally:
        tracker.close()
    name = f"phaselog-test-{uuid.uuid4().hex[:8]}"  # its connections' name
    env = {
        **os.environ,
        "PHASELOG_DATABASE_URL": settings.database_url,
        "PGAPPNAME": name,
    }
    rebuild = subprocess.Popen(
        [str(PHASELOG), "rebuild", "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Step: the rebuild has started its two folding workers.
        until(lambda: len(children(rebuild.pid, WORKER)) == 2)
        with _writes_held(settings) as waiting:
            if killed == "loading":  # else killed while they start up
                # Step: both fold, and wait to write their first page.
                until(lambda: waiting() == 2)
            started = children(rebuild.pid)  # and the library's resource tracker

            # Step: the rebuild is killed outright; all it started ends too,
            # even the workers waiting for the lock.
            rebuild.kill()
            assert all(ended(pid, timeout=60) for pid in started)
    finally:
        rebuild.kill()
        rebuild.wait()
    if settings.is_postgres:
        # Step: PostgreSQL ends their sessions (once the lock they waited for
        # is free: a backend waiting for a lock does not see its client go).
        until(lambda: not _sessions(settings, name))


def test_a_killed_serve_takes_its_workers_with_it_and_frees_its_port(
    database_url: str,
) -> None:
    port = free_port()
    with server(database_url, 2, port=port) as (_, serving):
        workers = children(serving.pid, WORKER)
        assert len(workers) == 2

        # Step: serve is killed outright; its workers stop all the same.
        serving.kill()
        assert all(ended(pid, timeout=60) for pid in workers)

    # Step: a new serve on the same port comes up.
    with (
        server(database_url, 2, port=port) as (base, _),
        httpx.Client(base_url=base, headers=bearer(ADMIN_KEY), timeout=30) as http,
    ):
        logged = http.post("/v1/actions", json=action())
        assert logged.status_code == 201, logged.text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_no_lock_file_outlives_serve_or_a_command_on_a_sqlite_file(
    database_url: str, tmp_path: Path
) -> None:
    def lock_files() -> list[str]:
        return sorted(p.name for p in tmp_path.glob("*-lock"))

    # Step: two server workers log, project (one holds the projector's lock)
    # and are stopped as a service manager stops them.
    with (
        server(database_url, 2) as (base, _),
        httpx.Client(base_url=base, headers=bearer(ADMIN_KEY), timeout=30) as http,
    ):
        logged = http.post("/v1/actions", json=action())
        assert logged.status_code == 201, logged.text
        after = {"pipeline": "nl-tesoro", "after": logged.json()["position"]}
        assert http.get("/v1/reports/funnel", params=after).status_code == 200
        assert "phaselog.db.projector-lock" in lock_files()
    assert lock_files() == []

    # Step: the commands that write, each a process that ends.
    actions = tmp_path / "actions.ndjson"
    actions.write_text(
        "".join(json.dumps(action(contact_id=f"c-{n}")) + "\n" for n in range(20))
    )
    env = {**os.environ, "PHASELOG_DATABASE_URL": database_url}
    for command in (
        ["import", str(actions)],
        ["rebuild", "--workers", "2"],
        ["verify"],
    ):
        done = subprocess.run(
            [str(PHASELOG), *command], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        assert lock_files() == [], command


@contextlib.contextmanager
def _writes_held(settings: Settings) -> Iterator[Callable[[], int]]:
    """Hold what a rebuild's workers need to write a page, while the block runs;
    it gets how many wait for it.

    SQLite: the write lock. PostgreSQL: the table the loaded rows go to.
    """
    env = eventsourcing_env(settings)
    if not settings.is_postgres:
        db = env["SQLITE_DBNAME"]
        with file_lock(db, "write"):
            yield lambda: waiting_on(os.stat(f"{db}.write-lock"))
        return
    with _connect(settings) as conn, conn.transaction():
        schema = env["POSTGRES_SCHEMA"]
        row = conn.execute(
            SQL("SELECT generation FROM {} WHERE state = 'building'").format(
                Identifier(schema, TRACKING)
            )
        ).fetchone()
        assert row is not None, "the rebuild has begun its generation"
        table = Identifier(schema, physical(DEAL_PHASES, row[0]))
        conn.execute(SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(table))
        name = table.as_string(conn)

        def waiting() -> int:
            with _connect(settings) as other:
                found = other.execute(
                    "SELECT count(*) FROM pg_locks "
                    "WHERE relation = %s::regclass AND NOT granted",
                    [name],
                ).fetchone()
            return int(found[0]) if found else 0

        yield waiting


def _sessions(settings: Settings, name: str) -> list[int]:
    """The PostgreSQL sessions whose application is `name`."""
    with _connect(settings) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", [name]
        ).fetchall()
    return [int(pid) for (pid,) in rows]


def _connect(settings: Settings) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(_libpq(settings.database_url), autocommit=True)
