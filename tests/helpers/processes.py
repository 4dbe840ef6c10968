"""Other processes, seen from a test: those a process started, their end, and
the locks they wait for."""

from __future__ import annotations

import os
import select
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

PHASELOG = Path(sys.executable).parent / "phaselog"  # the installed command


def children(parent: int, argument: str | None = None) -> list[int]:
    """The processes `parent` started (whose command line has `argument`)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            words = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # ended meanwhile
        if int(stat.rpartition(")")[2].split()[1]) == parent:
            if argument is None or argument.encode() in words:
                found.append(int(entry.name))
    return found


def ended(pid: int, timeout: float) -> bool:
    """Whether process `pid` (not ours to wait for) ends within `timeout`."""
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([handle], [], [], timeout)
        return bool(readable)
    finally:
        os.close(handle)


def waiting_on(file: os.stat_result) -> int:
    """How many descriptors wait for a `flock` on `file` (the kernel's table)."""
    name = f"{os.major(file.st_dev):02x}:{os.minor(file.st_dev):02x}:{file.st_ino}"
    lines = Path("/proc/locks").read_text().splitlines()
    return sum(words[1] == "->" and words[6] == name for words in map(str.split, lines))


def until(condition: Callable[[], object], timeout: float = 60) -> None:
    """Return once `condition()` is true; fail if it is not within `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.02)  # polling another process's state, not timing anything
