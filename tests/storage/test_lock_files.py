"""Lock files beside a SQLite database may be removed, and never lock two at once."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from projections.wakeup import FileWakeup
from storage.lockfiles import file_lock, locked, remove_if_free
from tests.helpers.processes import until, waiting_on


def test_a_waiter_on_a_removed_lock_file_locks_the_new_one_so_holders_never_overlap(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "phaselog.db")
    path = f"{db}.write-lock"
    holder = locked(path)
    inside, leave = threading.Event(), threading.Event()

    def write() -> None:
        with file_lock(db, "write"):
            inside.set()
            leave.wait(30)

    waiter = threading.Thread(target=write)
    waiter.start()
    try:
        # Step: a writer waits for the holder, on the file as it is now.
        until(lambda: waiting_on(os.fstat(holder)))

        # Step: the holder removes the file as it exits, still holding it; a
        # newcomer makes a new one and locks it before the holder lets go.
        os.unlink(path)
        newcomer = locked(path)
        os.close(holder)

        # Step: the waiter had the old file's lock, saw it was no longer the
        # lock file and waits for the newcomer on the new one.
        until(lambda: waiting_on(os.fstat(newcomer)))
        assert not inside.is_set()

        os.close(newcomer)
        assert inside.wait(30)
    finally:
        leave.set()
        waiter.join(30)


def test_a_waiter_on_a_lock_file_removed_for_good_makes_it_anew(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "phaselog.db")
    path = f"{db}.write-lock"
    inside = threading.Event()

    def write() -> None:
        with file_lock(db, "write"):
            assert Path(path).exists()
            inside.set()

    with file_lock(db, "write", remove=True):
        waiter = threading.Thread(target=write)
        waiter.start()
        until(lambda: waiting_on(os.stat(path)))
    waiter.join(30)
    assert inside.is_set()
    assert Path(path).exists()  # the waiter's; a plain writer leaves it in place


def test_a_lock_file_is_removed_at_close_only_when_no_one_holds_it(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "phaselog.db.projector-lock")
    with file_lock(str(tmp_path / "phaselog.db"), "projector"):
        remove_if_free(path)  # another process closing meanwhile
        assert Path(path).exists()
    remove_if_free(path)
    assert not Path(path).exists()
    remove_if_free(path)  # none left: nothing to do, and no new one made
    assert not Path(path).exists()


def test_the_projector_lock_file_goes_with_its_holder_and_a_standby_takes_over(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "phaselog.db.projector-lock")
    holder, standby = FileWakeup(path), FileWakeup(path)
    assert holder.acquire()
    assert not standby.acquire()

    holder.close()
    assert not Path(path).exists()
    assert standby.acquire()  # on a file of its own making

    standby.close()
    assert not Path(path).exists()
