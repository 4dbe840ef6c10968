"""A lean HTTP/1.1 keep-alive client for the load generator.

On a 2-core machine the load generator competes with the server for CPU: httpx
spends about 1.1 ms of CPU per request (measured: 16 threads against /healthz),
which alone would cap a run near 900 requests/s and starve the server. Requests
here are pre-encoded bytes and answers are read by Content-Length, some 50 us each.
The latency readers (`load.sequential`) keep using httpx.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from domain.commands import LogAction

# The bench server is keyed (`bench.server`), as a deployment is: requests carry
# an admin key, so auth is measured as it runs in production, not in open mode.
BENCH_KEY = "plk_bench-only-key-not-secret"
# The pages take the key from their sign-in cookie; the API ignores cookies.
AUTH = {"Authorization": f"Bearer {BENCH_KEY}", "Cookie": f"phaselog_key={BENCH_KEY}"}


def encode(host: str, method: str, path: str, body: Any) -> bytes:
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {BENCH_KEY}\r\n"
    )
    if body is None:
        return (head + "\r\n").encode()
    data = json.dumps(body).encode()
    return (
        head + f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    ).encode() + data


class Connection:
    """One keep-alive connection; `request` sends bytes and returns (status, body)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, base: str) -> Connection:
        url = urlsplit(base)
        reader, writer = await asyncio.open_connection(url.hostname, url.port)
        return cls(reader, writer)

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
                break
        body = await self.reader.readexactly(length) if length else b""
        return status, body

    def close(self) -> None:
        self.writer.close()


def action_body(command: LogAction) -> dict[str, Any]:
    """An action as `POST /v1/actions` takes it, and a line of an NDJSON import."""
    body: dict[str, Any] = {
        "pipeline": command.pipeline,
        "contact_id": command.contact_id,
        "type": command.type,
        "action_id": command.action_id,
        "fields": dict(command.fields),
    }
    for name in ("object_id", "outcome", "actor", "note"):
        value = getattr(command, name)
        if value is not None:
            body[name] = value
    if command.occurred_at is not None:
        body["occurred_at"] = command.occurred_at.isoformat()
    return body
