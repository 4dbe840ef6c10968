"""`phaselog serve` and `phaselog project`: the server, and the projector alone.

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
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli.common import one_line_errors, opened
from api.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

logger = logging.getLogger(__name__)
PROJECTING = "projecting"
STANDBY = "standby"
# How long `beside` waits for the child to say whether it projects. Its start
# opens the database (creating nothing: `serve` did that) and asks for the lock.
START_TIMEOUT = 60.0

app = typer.Typer()


@app.command()
@one_line_errors
def serve(
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="server processes; each coalesces its own writes, one projects",
        ),
    ] = 1,
    projector_process: Annotated[
        bool,
        typer.Option(
            help="project in a process of its own, the workers standing by: a "
            "steadier tail under heavy logging, slower `after=` reads on SQLite",
        ),
    ] = False,
) -> None:
    """Serve the HTTP API (refuses a non-loopback address while no key exists)."""
    import uvicorn

    from api.auth import check_bind
    from api.bootstrap import open_keys
    from api.settings import eventsourcing_env
    from storage import lifeline
    from storage.helper import shared_database

    settings = Settings()
    with opened(settings) as tracker:
        check_bind(host, open_keys(tracker, settings))
    separate = projector_process and shared_database(eventsourcing_env(settings))
    # From `--workers 2` on, uvicorn starts each worker (spawn) from this, the
    # main, thread, and the worker's app factory asks to end with this process
    # (`lifeline.end_with_serve`). It learns our pid from the environment it
    # inherits: uvicorn hands the factory no arguments of ours. With one
    # worker, uvicorn serves in this process.
    if workers > 1:
        os.environ[lifeline.SERVE_PID] = str(os.getpid())
    else:
        os.environ.pop(lifeline.SERVE_PID, None)
    with beside() if separate else contextlib.nullcontext():
        uvicorn.run(
            "api.app:app_from_env", factory=True, host=host, port=port, workers=workers
        )


@app.command()
@one_line_errors
def project(
    until_input_ends: Annotated[
        bool, typer.Option(hidden=True, help="stop when standard input ends")
    ] = False,
) -> None:
    """Keep the read models up to date and close idle deals, until stopped.

    One process projects a database at a time; the others stand by and take
    over when it ends. `serve --projector-process` starts this first, so its
    workers stand by. Started before a server, on this machine or (PostgreSQL)
    another, it projects for that server too.
    """
    import signal

    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    if until_input_ends:
        stop_at_end_of_input(stop)

    def say(line: str) -> None:
        print(line, flush=True)  # one line a parent process waits for

    project_until(Settings(), stop, say)


def project_until(
    settings: Settings, stop: threading.Event, say: Callable[[str], None]
) -> None:
    """Keep the read models up to date until `stop` is set.

    `say` hears one line once the projector has asked for the projection:
    whether this process projects, or stands by for another that does.
    """
    from api.bootstrap import open_projecting

    parts = open_projecting(settings)
    tracker, projector, sweeper = parts.tracker, parts.projector, parts.sweeper
    try:
        projector.start()
        if sweeper is not None:
            sweeper.start()  # it sweeps while this process projects
        try:
            if projector.leads(START_TIMEOUT):
                say(f"{PROJECTING}: the read models follow the log")
            else:
                say(f"{STANDBY}: another process projects; taking over if it ends")
            stop.wait()
        finally:
            if sweeper is not None:
                sweeper.stop()
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
