"""`phaselog project`: the projector alone, in a process of its own.

One process projects a database at a time; another stands by and takes over
once the first ends. `serve` starts one beside its workers (tests/api/test_serve.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from api.bootstrap import open_tracker
from domain.commands import LogAction
from projections.runner import Projector
from tests.api.conftest import START

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from api.settings import Settings

pytestmark = pytest.mark.process  # starts processes or servers (see pyproject)

PHASELOG = Path(sys.executable).parent / "phaselog"


@contextlib.contextmanager
def _project(
    database_url: str, sweep_seconds: str = "0"
) -> Iterator[subprocess.Popen[str]]:
    env = {
        **os.environ,
        "PHASELOG_DATABASE_URL": database_url,
        "PHASELOG_SWEEP_INTERVAL_SECONDS": sweep_seconds,
    }
    process = subprocess.Popen(
        [str(PHASELOG), "project"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def test_one_process_projects_another_stands_by_then_takes_over(
    settings: Settings,
) -> None:
    tracker = open_tracker(settings)
    try:
        status = Projector(tracker).status
        with contextlib.ExitStack() as running:
            # Step: the first projects, the second (started next) stands by.
            first = running.enter_context(_project(settings.database_url))
            assert first.stdout is not None
            assert first.stdout.readline().startswith("projecting:")
            second = running.enter_context(_project(settings.database_url))
            assert second.stdout is not None
            assert second.stdout.readline().startswith("standby:")
            logged = tracker.log_one(_lead("c-1"))
            _wait(lambda: status().position >= logged.position)

            # Step: the first stops as a service manager stops it: exit status 0.
            first.send_signal(signal.SIGTERM)
            assert first.wait(timeout=30) == 0

            # Step: what is logged next, the second projects.
            logged = tracker.log_one(_lead("c-2"))
            _wait(lambda: status().position >= logged.position)
            second.send_signal(signal.SIGINT)  # Ctrl-C: stops quietly too
            _, errors = second.communicate(timeout=30)
            assert second.returncode == 0
            assert "Traceback" not in errors
    finally:
        tracker.close()


def test_the_projecting_process_also_closes_idle_deals_under_their_expiry_policy(
    settings: Settings,
) -> None:
    tracker = open_tracker(settings)
    try:
        long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=120)
        idle = tracker.log_one(
            LogAction(
                pipeline="hubspot-default",
                contact_id="quiet-buyer",
                type="meeting_booked",
                occurred_at=long_ago,
            )
        )
        with _project(settings.database_url, sweep_seconds="0.05") as process:
            assert process.stdout is not None
            assert process.stdout.readline().startswith("projecting:")

            # Step: it projects the deal, finds it due and writes its expiry.
            _wait(lambda: tracker.deal(idle.deal_id).state.phase == "closed_lost")
    finally:
        tracker.close()


def test_an_unreachable_database_is_one_line_and_exit_status_1() -> None:
    with _project("postgresql://phaselog@127.0.0.1:1/none") as process:
        _, errors = process.communicate(timeout=60)
    assert process.returncode == 1
    assert errors.startswith("error: ")
    assert len(errors.strip().splitlines()) == 1


def _lead(contact_id: str) -> LogAction:
    return LogAction(
        pipeline="nl-tesoro",
        contact_id=contact_id,
        type="contact_captured",
        occurred_at=dt.datetime.fromisoformat(START),
    )


def _wait(done: Callable[[], bool], timeout: float = 30) -> None:
    """Until another process's projection gets there (it polls the log)."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the projection did not get there"
        time.sleep(0.05)  # polling another process's progress, not timing it
