"""Lock files beside a SQLite database, and their removal once no process needs them.

Processes on one SQLite file coordinate through exclusive `flock`s on files beside
it (startup, write, projector). A lock file may be removed, but a removal races
with a process that opened the file before it went and waits in `flock`: once the
lock is free, that waiter would hold a file no longer in the directory while a
newcomer locks a fresh one under the same name, two holders at once. So:

- a locker, once its `flock` succeeds, checks that the path still names the file
  it locked (same device and inode), else closes it and locks what the path names
  now (making the file anew if it is gone);
- a process removes a lock file only while it holds the lock: a holder when it is
  done with it for good, and a process closing the database when it can take the
  lock at once (`remove_if_free`), which leaves a file someone holds alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from typing import TYPE_CHECKING

from eventsourcing.sqlite import SQLiteConnectionPool

if TYPE_CHECKING:
    from collections.abc import Iterator

PURPOSES = ("startup", "write", "projector", "migrate", "webhooks")


def lock_file(db_name: str, purpose: str) -> str | None:
    """The lock file for `purpose` beside a SQLite database (startup, write,
    projector); None for an in-memory database, which belongs to one process."""
    if SQLiteConnectionPool.detect_memory_mode(db_name):
        return None
    return f"{db_name}.{purpose}-lock"


def locked(path: str) -> int:
    """A descriptor holding an exclusive lock on the file `path` names (made if
    need be), once no one else holds it."""
    fd = _lock(path, wait=True, create=True)
    assert fd is not None, "a lock waited for is had"
    return fd


def try_locked(path: str) -> int | None:
    """`locked`, or None at once if another descriptor holds the lock."""
    return _lock(path, wait=False, create=True)


def _lock(path: str, *, wait: bool, create: bool) -> int | None:
    flags = os.O_WRONLY | os.O_CLOEXEC | (os.O_CREAT if create else 0)
    while True:
        try:
            fd = os.open(path, flags, 0o666)
        except FileNotFoundError:
            if create:
                raise  # no directory to make it in
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        if _names(path, fd):
            return fd
        os.close(fd)  # removed while we waited: lock the file it names now


def _names(path: str, fd: int) -> bool:
    """Whether `path` still names the file open as `fd`."""
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def release(path: str, fd: int, *, remove: bool) -> None:
    """Give up the lock `fd` holds on `path`; with `remove`, remove the file first,
    still holding it, so that a waiter finds it gone and locks a new one."""
    try:
        if remove:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
    finally:
        os.close(fd)  # closing releases the lock


@contextlib.contextmanager
def file_lock(db_name: str, purpose: str, *, remove: bool = False) -> Iterator[None]:
    """Wait for, then hold, an exclusive lock on `lock_file(db_name, purpose)`
    (nothing to hold for an in-memory database); `remove`: the file goes after."""
    path = lock_file(db_name, purpose)
    if path is None:
        yield
        return
    fd = locked(path)
    try:
        yield
    finally:
        release(path, fd, remove=remove)


def remove_if_free(path: str) -> None:
    """Remove the lock file `path` if it exists and no one holds it.

    What a process does with the lock files it may have made as it closes the
    database; a file someone holds stays for its holder or a later process to
    remove, and so does one we may not open (another user's).
    """
    with contextlib.suppress(OSError):
        fd = _lock(path, wait=False, create=False)
        if fd is not None:
            release(path, fd, remove=True)


def remove_free_lock_files(db_name: str) -> None:
    """`remove_if_free` for each lock file beside a SQLite database."""
    for purpose in PURPOSES:
        path = lock_file(db_name, purpose)
        if path is not None:
            remove_if_free(path)
