"""`phaselog serve` in a process of its own, as the tests start it."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from typing import TYPE_CHECKING

import httpx

from bench.server import free_port
from tests.api.conftest import ADMIN_KEY
from tests.helpers.processes import PHASELOG

if TYPE_CHECKING:
    from collections.abc import Iterator


@contextlib.contextmanager
def server(
    database_url: str, workers: int, *options: str, port: int | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`phaselog serve` up and ready: its base URL and its process; stopped
    (SIGTERM, as a service manager stops it) at the end of the block."""
    port = port or free_port()
    env = {
        **os.environ,
        "PHASELOG_DATABASE_URL": database_url,
        "PHASELOG_ADMIN_KEY": ADMIN_KEY,
        "PHASELOG_SWEEP_INTERVAL_SECONDS": "0",
        "PHASELOG_REPORT_WAIT_SECONDS": "10",
    }
    command = [str(PHASELOG), "serve", "--port", str(port)]
    process = subprocess.Popen([*command, "--workers", str(workers), *options], env=env)
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
        yield base, process
    finally:
        process.terminate()
        process.wait(timeout=30)
