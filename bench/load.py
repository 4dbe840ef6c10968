"""HTTP load: closed loop (clients as fast as they can) and open loop (a fixed rate).

The load itself goes through `bench.wire` (cheap on CPU, see there); one reader's
latencies (`sequential`) through httpx.

Latencies of the open loop are measured from the moment a request was due, not from
when it was sent, so a stalled server cannot hide its queue (coordinated omission).
The generator's own garbage collector is off while it measures (`_measuring`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

if TYPE_CHECKING:
    from collections.abc import Iterator

from bench import wire

Request = tuple[str, str, Any]  # method, path, JSON body or None


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)  # seconds
    failures: dict[int, int] = field(default_factory=dict)  # status -> count
    elapsed: float = 0.0
    samples: list[str] = field(default_factory=list)  # a few failure bodies
    progress: list[tuple[float, int, int]] = field(default_factory=list)

    @property
    def projection_lag(self) -> float:
        """Worst seconds the projection trailed the log (0.1 s resolution).

        From `progress` samples (time, head, position): a sample's lag is how long
        ago the head first reached the position the projection is at now.
        """
        worst = 0.0
        for at, _, position in self.progress:
            reached = next((t for t, head, _ in self.progress if head >= position), at)
            worst = max(worst, at - reached)
        return worst

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


@contextlib.contextmanager
def _measuring() -> Iterator[None]:
    """No collection in the load generator while its clock runs.

    The open loop keeps a task per request until its end: with 20,000 of them a
    full collection took 60-100 ms, and each request due meanwhile was recorded
    that much late. 75-150 of 20,000 at 1,000/s, in every run, at the same point:
    enough to make the p99 alone. Reference counting still frees what the loop
    drops; cycles wait for the end.
    """
    gc.collect()
    gc.freeze()  # what exists now is never scanned again
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


def closed_loop(base: str, per_client: list[list[Request]]) -> Outcome:
    """One connection per client list, each sending its requests back to back."""
    with _measuring():
        return asyncio.run(_closed_loop(base, per_client))


async def _closed_loop(base: str, per_client: list[list[Request]]) -> Outcome:
    outcome = Outcome()
    host = urlsplit(base).netloc
    encoded = [[wire.encode(host, *r) for r in requests] for requests in per_client]
    connections = [await wire.Connection.open(base) for _ in per_client]
    for connection in connections:  # connected and served once before the clock
        await connection.request(wire.encode(host, "GET", "/healthz", None))

    async def client(connection: wire.Connection, requests: list[bytes]) -> None:
        for raw in requests:
            started = time.perf_counter()
            status, body = await connection.request(raw)
            _record(outcome, status, body, time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*map(client, connections, encoded))
    outcome.elapsed = time.perf_counter() - started
    for connection in connections:
        connection.close()
    return outcome


def _record(outcome: Outcome, status: int, body: bytes, took: float) -> None:
    if status >= 300:
        outcome.failed(status, body.decode(errors="replace"))
    else:
        outcome.latencies.append(took)


def _contact(request: Request) -> object:
    body = request[2]
    return body.get("contact_id") if isinstance(body, dict) else None


def open_loop(
    base: str, requests: list[Request], rate: float, watch: str | None = None
) -> Outcome:
    """Send `requests` at `rate` per second whatever the answers' pace.

    A contact's next action waits for the answer to its previous one, as any
    client that logs a deal's history in order does: sent at once, two actions
    of one deal may be stored in either order, and a pipeline that asks a skip
    for its reason (nl-tesoro) rightly refuses the one stored first. Its latency
    still counts from when it was due.

    `watch`: a path answering `{"data": [{"head": .., "position": ..}]}`, polled
    every 0.1 s meanwhile (the projection's progress).
    """
    with _measuring():
        return asyncio.run(_open_loop(base, requests, rate, watch))


async def _open_loop(
    base: str, requests: list[Request], rate: float, watch: str | None
) -> Outcome:
    outcome = Outcome()
    host = urlsplit(base).netloc
    encoded = [wire.encode(host, *r) for r in requests]
    idle: list[wire.Connection] = [await wire.Connection.open(base) for _ in range(16)]
    opened = list(idle)
    sending = True

    async def watcher(path: str) -> None:
        connection = await wire.Connection.open(base)
        raw = wire.encode(host, "GET", path, None)
        while sending:
            _, body = await connection.request(raw)
            status = json.loads(body)["data"][0]
            outcome.progress.append(
                (time.perf_counter(), status["head"], status["position"])
            )
            await asyncio.sleep(0.1)
        connection.close()

    watching = asyncio.create_task(watcher(watch)) if watch else None

    async def one(due: float, raw: bytes, after: asyncio.Task[None] | None) -> None:
        if after is not None:  # the contact's previous action is answered first
            await after
        if idle:
            connection = idle.pop()
        else:  # all busy: the server is behind, open another connection
            connection = await wire.Connection.open(base)
            opened.append(connection)
        status, body = await connection.request(raw)
        _record(outcome, status, body, time.perf_counter() - due)
        idle.append(connection)

    start = time.perf_counter()
    tasks = []
    last: dict[object, asyncio.Task[None]] = {}  # each contact's latest request
    for index, raw in enumerate(encoded):
        due = start + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        key = _contact(requests[index])
        task = asyncio.create_task(one(due, raw, last.get(key)))
        if key is not None:
            last[key] = task
        tasks.append(task)
    await asyncio.gather(*tasks)
    outcome.elapsed = time.perf_counter() - start
    sending = False
    if watching is not None:
        await watching
    for connection in opened:
        connection.close()
    return outcome


def sequential(base: str, request: Request, times: int) -> Outcome:
    """One client, one request repeated: the latency of a single reader."""
    outcome = Outcome()
    method, path, body = request
    with (
        _measuring(),
        httpx.Client(base_url=base, timeout=60, headers=wire.AUTH) as http,
    ):
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
