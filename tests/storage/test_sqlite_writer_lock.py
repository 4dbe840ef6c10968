"""SQLite writers of several processes queue on one lock file (`sqlite_write_lock`)."""

from __future__ import annotations

import fcntl
import multiprocessing
import threading
from typing import TYPE_CHECKING

import pytest

from api.settings import Settings, eventsourcing_env
from domain.commands import LogAction
from domain.deal import deal_id_for
from storage.definitions import load_presets
from storage.sqlite import sqlite_write_lock
from storage.wiring import open_service

if TYPE_CHECKING:
    from multiprocessing.synchronize import Event
    from pathlib import Path

    from domain.service import PhaseTracker

pytestmark = pytest.mark.process  # starts processes or servers (see pyproject)


def test_another_process_logging_an_action_waits_until_the_lock_is_free(
    tmp_path: Path,
) -> None:
    db = tmp_path / "phaselog.db"
    settings = Settings(database_url=f"sqlite:///{db}")
    tracker = open_service(
        eventsourcing_env(settings), pipelines=load_presets().values()
    )
    holding, release = _context().Event(), _context().Event()
    holder = _context().Process(target=_hold, args=(str(db), holding, release))
    holder.start()
    try:
        assert holding.wait(30)
        logged = threading.Event()
        writer = threading.Thread(target=_log, args=(tracker, logged))
        writer.start()

        assert not logged.wait(0.3)  # it waits for the other process...

        release.set()
        writer.join(30)
        assert logged.is_set()  # ...and goes on once the lock is released
        assert tracker.deal(deal_id_for("nl-tesoro", "c-1", None)).state.phase == "lead"
    finally:
        release.set()
        holder.join(30)
        tracker.close()


def test_the_lock_is_one_file_beside_the_database_held_while_writing(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "phaselog.db")
    with sqlite_write_lock(db), open(f"{db}.write-lock", "a") as other:
        try:
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            taken = True
        except BlockingIOError:
            taken = False
    assert not taken
    with open(f"{db}.write-lock", "a") as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again


def _context() -> multiprocessing.context.SpawnContext:
    return multiprocessing.get_context("spawn")


def _hold(db: str, holding: Event, release: Event) -> None:
    with sqlite_write_lock(db):
        holding.set()
        release.wait(30)


def _log(tracker: PhaseTracker, logged: threading.Event) -> None:
    tracker.log_action(
        LogAction(pipeline="nl-tesoro", contact_id="c-1", type="contact_captured")
    )
    logged.set()
