"""SQLite: the projector copies the write-ahead log into the database file, after
its pages and outside the commits that logging waits for (`checkpoints_deferred`).

SQLite only: PostgreSQL's own checkpointer writes its files.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
from contextlib import closing
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.settings import Settings
from projections import sqlite_store
from projections.sqlite_store import WAL_RESTART_FRAMES
from storage.sqlite import WAL_AUTOCHECKPOINT
from tests.api.conftest import ADMIN_KEY, action, bearer, head

if TYPE_CHECKING:
    from pathlib import Path


def _in_file_alone(database: Path, directory: Path) -> int:
    """Events in the database file itself, without its write-ahead log."""
    directory.mkdir(exist_ok=True)
    copy = directory / "file-alone.db"
    shutil.copyfile(database, copy)
    with closing(sqlite3.connect(copy)) as db:
        return int(db.execute("SELECT count(*) FROM stored_events").fetchone()[0])


@pytest.mark.parametrize("restart_from", [WAL_RESTART_FRAMES, 1])
def test_the_servers_projector_copies_the_log_into_the_database_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restart_from: int
) -> None:
    # From one page on, each checkpoint also copies the last pages under the
    # write lock, so that the next writer starts the log afresh.
    monkeypatch.setattr(sqlite_store, "WAL_RESTART_FRAMES", restart_from)
    database = tmp_path / "phaselog.db"
    settings = Settings(
        database_url=f"sqlite:///{database}",
        admin_key=SecretStr(ADMIN_KEY),
        sweep_interval_seconds=0,
    )
    with TestClient(create_app(settings), headers=bearer(ADMIN_KEY)) as client:
        tracker = client.app.state.tracker  # type: ignore[attr-defined]
        with tracker.store.recorder.datastore.get_connection(commit=False) as conn:
            cursor = conn.cursor()
            cursor.execute("PRAGMA wal_autocheckpoint")
            assert cursor.fetchall()[0][0] == WAL_AUTOCHECKPOINT  # left to us
        projector = client.app.state.projector  # type: ignore[attr-defined]
        checkpointed: list[int] = []  # the position projected at each checkpoint
        told = threading.Condition()
        checkpoint = projector.store.checkpoint

        def checkpoint_and_tell() -> None:
            position = projector.status().position
            checkpoint()
            with told:
                checkpointed.append(position)
                told.notify_all()

        projector.store.checkpoint = checkpoint_and_tell
        for n in range(40):
            answer = client.post("/v1/actions", json=action(contact_id=f"c{n}"))
            assert answer.status_code == 201, answer.text
        events = head(client)

        with told:
            assert told.wait_for(lambda: max(checkpointed, default=0) >= events, 10)
        # Far fewer log pages than any commit's checkpoint would wait for: only
        # the projector's checkpoint put these events in the file itself.
        assert _in_file_alone(database, tmp_path / "copy") == events
