"""The projector in a process of its own: `phaselog project`, and `serve`'s option.

A server worker that projects folds events and writes pages between requests,
under the same interpreter lock. On SQLite at 1,000 actions/s offered to a
server just started, one worker answered at p99 690-820 ms with its own
projector, and 72-78 ms with the projector beside it in a process of its own;
but a report's `after=` then waits for that process to poll the log (p50 7 ->
105 ms on SQLite), and on a warmed server the tails came out alike
(bench/HISTORY.md). So it is an option: `serve --projector-process` starts
`phaselog project` first and waits until it holds the projection; each
worker's projector stands by, and takes over should that process end.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import subprocess
import sys
import threading
from typing import TYPE_CHECKING

from api.bootstrap import open_projecting

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from api.settings import Settings

logger = logging.getLogger(__name__)
PROJECTING = "projecting"
STANDBY = "standby"
# How long `beside` waits for the child to say whether it projects. Its start
# opens the database (creating nothing: `serve` did that) and asks for the lock.
START_TIMEOUT = 60.0


def project(
    settings: Settings, stop: threading.Event, say: Callable[[str], None]
) -> None:
    """Keep the read models up to date until `stop` is set.

    `say` hears one line once the projector has asked for the projection:
    whether this process projects, or stands by for another that does.
    """
    tracker, projector = open_projecting(settings)
    try:
        projector.start()
        try:
            if projector.leads(START_TIMEOUT):
                say(f"{PROJECTING}: the read models follow the log")
            else:
                say(f"{STANDBY}: another process projects; taking over if it ends")
            stop.wait()
        finally:
            projector.stop()
    finally:
        tracker.close()


def stop_at_end_of_input(stop: threading.Event) -> None:
    """Set `stop` once standard input ends: when the process that started us
    closes its end of the pipe, or ends in any way, even killed."""

    def watch() -> None:
        with contextlib.suppress(OSError):
            while os.read(sys.stdin.fileno(), 4096):
                pass
        stop.set()

    threading.Thread(target=watch, name="phaselog-parent-watch", daemon=True).start()


@contextlib.contextmanager
def beside() -> Iterator[bool]:
    """`phaselog project` in a child process while the block runs.

    Yields once the child has asked for the projection: True if it projects.
    Otherwise (another process projects, or the child could not start) the
    block runs anyway and a worker projects, as it would without the child.
    """
    child = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "project", "--until-input-ends"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        ready, _, _ = select.select([child.stdout], [], [], START_TIMEOUT)
        said = child.stdout.readline() if ready else ""
        projects = said.startswith(PROJECTING)
        if not projects:
            logger.warning(
                "the projector process %s; the workers project",
                said.strip() or "did not start",
            )
        yield projects
    finally:
        child.stdin.close()  # it stops at the end of its input
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        child.stdout.close()
