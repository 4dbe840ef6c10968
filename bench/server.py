"""A real uvicorn server in a subprocess, for the HTTP benchmarks.

The server runs in its own process so that the load generator (in the bench's
process) does not share an interpreter lock with it; both share the 2 cores.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from collections.abc import Iterator

    from fastapi import FastAPI


def phaselog_app() -> FastAPI:
    """`uvicorn --factory bench.server:phaselog_app`: the API (group commit on)."""
    from api.app import create_app
    from api.settings import Settings
    from bench.wire import BENCH_KEY
    from storage.collector import tune_gc

    settings = Settings(
        database_url=os.environ["BENCH_DATABASE_URL"],
        pool_size=int(os.environ.get("BENCH_POOL_SIZE", "8")),
        admin_key=BENCH_KEY,
    )
    tune_gc()  # as `phaselog serve` does
    return create_app(settings)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def serve(
    factory: str, database_url: str, *, workers: int = 1, timeout: float = 60
) -> Iterator[str]:
    """Run `factory` under uvicorn on 127.0.0.1; yield its base URL; stop it."""
    port = free_port()
    env = {
        **os.environ,
        "BENCH_DATABASE_URL": database_url,
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        factory,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        "--backlog",
        "4096",
        # Load generators keep connections idle longer than the default 5 s.
        "--timeout-keep-alive",
        "600",
        "--workers",
        str(workers),
    ]
    process = subprocess.Popen(command, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(process, base, timeout)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_ready(process: subprocess.Popen[bytes], base: str, timeout: float) -> None:
    """Until the server at `base` answers (RuntimeError if it ends or is late)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server at {base} did not start in {timeout} s")
