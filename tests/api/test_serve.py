"""`phaselog serve --workers 2`: the real command, two processes, one database.

Each worker coalesces its own writes and only one of them projects; a request
served by either worker sees its own writes in the reports (`?after=`).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from api.app import open_tracker, startup_lock
from bench.server import free_port
from projections.keys import KeyStore
from projections.runner import Projector
from tests.api.conftest import ADMIN_KEY, START, action, bearer

if TYPE_CHECKING:
    from collections.abc import Iterator

    from api.settings import Settings

PHASELOG = Path(sys.executable).parent / "phaselog"


@contextlib.contextmanager
def _serving(database_url: str, workers: int) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "PHASELOG_DATABASE_URL": database_url,
        "PHASELOG_ADMIN_KEY": ADMIN_KEY,
        "PHASELOG_SWEEP_INTERVAL_SECONDS": "0",
        "PHASELOG_REPORT_WAIT_SECONDS": "10",
    }
    command = [str(PHASELOG), "serve", "--port", str(port)]
    process = subprocess.Popen([*command, "--workers", str(workers)], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "phaselog serve exited"
            assert time.monotonic() < deadline, "phaselog serve did not come up"
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)  # polling the server's start, not timing anything
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_two_workers_store_each_action_once_and_read_their_writes(
    database_url: str,
) -> None:
    bodies: list[dict[str, Any]] = [
        action(contact_id=f"contact-{n % 10}", action_id=f"a-{n}") for n in range(10)
    ] + [
        action(
            contact_id=f"contact-{n % 10}",
            type="viewing",
            occurred_at=START.replace("09:00", "10:00"),
            action_id=f"b-{n}",
        )
        for n in range(5)
    ]
    with (
        _serving(database_url, workers=2) as base,
        httpx.Client(base_url=base, headers=bearer(ADMIN_KEY), timeout=30) as http,
    ):

        def post(body: dict[str, Any]) -> httpx.Response:
            return http.post("/v1/actions", json=body)

        with ThreadPoolExecutor(8) as pool:
            first = list(pool.map(post, bodies[:10]))
        with ThreadPoolExecutor(8) as pool:
            # the viewings, and every first action again (replays)
            second = list(pool.map(post, bodies[10:] + bodies[:10]))

        assert [r.status_code for r in first] == [201] * 10
        assert [r.status_code for r in second] == [201] * 5 + [200] * 10
        assert [r.json() for r in second[5:]] == [r.json() for r in first]
        positions = [r.json()["position"] for r in first + second[:5]]
        assert len(set(positions)) == 15

        funnel = http.get(
            "/v1/reports/funnel",
            params={"pipeline": "nl-tesoro", "after": max(positions)},
        )
        assert funnel.status_code == 200, funnel.text
        current = {p["phase"]: p["current"] for p in funnel.json()["phases"]}
        assert (current["lead"], current["viewing"]) == (5, 5)


def test_workers_starting_together_on_a_fresh_database_all_come_up(
    settings: Settings,
) -> None:
    """Concurrent CREATE ... IF NOT EXISTS collides on PostgreSQL without the lock."""

    def start(_: int) -> int:
        with startup_lock(settings):
            tracker = open_tracker(settings)
            KeyStore(tracker)
            Projector(tracker)
        try:
            return len(tracker.pipelines())
        finally:
            tracker.close()

    with ThreadPoolExecutor(4) as pool:
        started = list(pool.map(start, range(4)))
    assert len(set(started)) == 1
    assert started[0] > 0
