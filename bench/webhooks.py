"""Webhooks: the lag from an action to its delivery at 1,000 actions/s offered,
and the sender's throughput draining a backlog.

The real server (one worker, group commit, its own webhook worker and sender)
on a fresh database; one subscription wanting every phase change, posting to
a receiver on 127.0.0.1 in this process (a threaded http.server answering 200
at once). Step 1 offers actions at `rate` per second (open loop) and times
each delivery from the event's `recorded_at` to its arrival. Step 2 sends
every delivery again (`POST /v1/webhooks/{id}/redeliver {after: 0}`) and
times the drain: the sender alone, no logging beside it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import httpx

from bench import load, wire
from bench.db import scratch
from bench.server import serve
from bench.table import Figure, percentile

if TYPE_CHECKING:
    from collections.abc import Callable

    from bench.run import Size

MS = 1000.0


class Receiver:
    """Counts deliveries; for each, its arrival time and its event's times."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, str, str]] = []  # (at, id, recorded_at)
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["content-length"]))
                at = time.time()
                recorded = json.loads(body)["data"]["recorded_at"]
                with receiver.lock:
                    receiver.arrivals.append((at, self.headers["webhook-id"], recorded))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self) -> int:
        with self.lock:
            return len(self.arrivals)

    def quiet(self, settle: float, timeout: float) -> None:
        """Until nothing has arrived for `settle` seconds (bounded)."""
        deadline = time.monotonic() + timeout
        last, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            now = self.count()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= settle:
                return
            time.sleep(0.05)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def run_webhooks(
    database: str, size: Size, postgres_dsn: str, seed: int, say: Callable[[str], None]
) -> list[Figure]:
    from bench.requests import arrival_requests

    figures: list[Figure] = []
    os.environ["PHASELOG_WEBHOOKS_ALLOW_PRIVATE"] = "true"  # the server inherits it
    receiver = Receiver()
    try:
        with (
            scratch(database, postgres_dsn, "hooks") as url,
            serve("bench.server:phaselog_app", url) as base,
            httpx.Client(base_url=base, headers=wire.AUTH, timeout=60) as http,
        ):
            made = http.post("/v1/webhooks", json={"url": receiver.url})
            made.raise_for_status()
            hook = made.json()["id"]

            # Step 1: actions offered at `rate`, delivered as they come.
            offered = arrival_requests(seed + 2, size.open_loop)
            steady = load.open_loop(base, offered, size.rate)
            receiver.quiet(settle=3.0, timeout=600)
            arrivals = list(receiver.arrivals)
            lags = [
                at - dt.datetime.fromisoformat(recorded).timestamp()
                for at, _, recorded in arrivals
            ]
            span = max(a[0] for a in arrivals) - min(a[0] for a in arrivals)
            say(
                f"  {database}: {len(offered)} actions at {steady.rate:,.0f}/s; "
                f"{len(arrivals)} deliveries"
            )
            figures += [
                Figure(
                    database,
                    f"webhook lag p{p}, action to delivery at {size.rate:,.0f}/s",
                    percentile(lags, p / 100) * MS,
                    "ms",
                    higher_is_better=False,
                    count=len(lags),
                )
                for p in (50, 95, 99)
            ]
            figures.append(
                Figure(
                    database,
                    f"webhooks delivered while logging at {size.rate:,.0f}/s",
                    len(arrivals) / span if span else 0.0,
                    "deliveries/s",
                    count=len(arrivals),
                )
            )

            # Step 2: everything again, the sender alone: its throughput.
            before = receiver.count()
            started = time.time()
            again = http.post(f"/v1/webhooks/{hook}/redeliver", json={"after": 0})
            again.raise_for_status()
            expected = again.json()["redelivered"]
            deadline = time.monotonic() + 600
            while receiver.count() - before < expected:
                assert time.monotonic() < deadline, "the redelivery did not finish"
                time.sleep(0.01)
            took = receiver.arrivals[-1][0] - started
            figures.append(
                Figure(
                    database,
                    "webhook delivery throughput, a backlog drained",
                    expected / took,
                    "deliveries/s",
                    count=expected,
                )
            )
            for figure in figures:
                say(f"  {database}: {figure.name}: {figure.ours:,.1f} {figure.unit}")
    finally:
        receiver.close()
    return figures
