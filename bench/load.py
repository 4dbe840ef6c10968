"""HTTP load: closed loop (clients as fast as they can) and open loop (a fixed rate).

Latencies of the open loop are measured from the moment a request was due, not from
when it was sent, so a stalled server cannot hide its queue (coordinated omission).
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

Request = tuple[str, str, Any]  # method, path, JSON body or None


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)  # seconds
    failures: dict[int, int] = field(default_factory=dict)  # status -> count
    elapsed: float = 0.0
    samples: list[str] = field(default_factory=list)  # a few failure bodies

    @property
    def done(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.done / self.elapsed if self.elapsed else 0.0

    def failed(self, status: int, body: str) -> None:
        self.failures[status] = self.failures.get(status, 0) + 1
        if len(self.samples) < 3:
            self.samples.append(f"{status}: {body[:300]}")


def closed_loop(base: str, per_client: list[list[Request]]) -> Outcome:
    """One thread per client list, each sending its requests back to back."""
    outcome = Outcome()
    lock = threading.Lock()
    barrier = threading.Barrier(len(per_client) + 1)

    def client(requests: list[Request]) -> None:
        mine: list[float] = []
        with httpx.Client(base_url=base, timeout=60) as http:
            http.get("/healthz")  # connect before the clock starts
            barrier.wait()
            for method, path, body in requests:
                started = time.perf_counter()
                response = http.request(method, path, json=body)
                took = time.perf_counter() - started
                if response.status_code >= 300:
                    with lock:
                        outcome.failed(response.status_code, response.text)
                else:
                    mine.append(took)
        with lock:
            outcome.latencies += mine

    threads = [threading.Thread(target=client, args=(r,)) for r in per_client]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    outcome.elapsed = time.perf_counter() - started
    return outcome


def open_loop(
    base: str, requests: list[Request], rate: float, connections: int = 256
) -> Outcome:
    """Send `requests` at `rate` per second whatever the answers' pace."""
    return asyncio.run(_open_loop(base, requests, rate, connections))


async def _open_loop(
    base: str, requests: list[Request], rate: float, connections: int
) -> Outcome:
    outcome = Outcome()
    limits = httpx.Limits(
        max_connections=connections, max_keepalive_connections=connections
    )
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:
        await http.get("/healthz")
        start = time.perf_counter()

        async def one(due: float, request: Request) -> None:
            method, path, body = request
            response = await http.request(method, path, json=body)
            took = time.perf_counter() - due
            if response.status_code >= 300:
                outcome.failed(response.status_code, response.text)
            else:
                outcome.latencies.append(took)

        tasks = []
        for index, request in enumerate(requests):
            due = start + index / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(due, request)))
        await asyncio.gather(*tasks)
        outcome.elapsed = time.perf_counter() - start
    return outcome


def sequential(base: str, request: Request, times: int) -> Outcome:
    """One client, one request repeated: the latency of a single reader."""
    outcome = Outcome()
    method, path, body = request
    with httpx.Client(base_url=base, timeout=60) as http:
        http.request(method, path, json=body)  # warm up
        started = time.perf_counter()
        for _ in range(times):
            began = time.perf_counter()
            response = http.request(method, path, json=body)
            took = time.perf_counter() - began
            if response.status_code >= 300:
                outcome.failed(response.status_code, response.text)
            else:
                outcome.latencies.append(took)
        outcome.elapsed = time.perf_counter() - started
    return outcome
