"""A real HTTP receiver on 127.0.0.1 for the webhook tests: it records every
request and answers as the test says (status, headers, a delay)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class Receiver:
    """Records requests; `answer` decides each reply (the default: 200)."""

    def __init__(self, port: int = 0) -> None:
        self.requests: list[Received] = []
        self.answer: Callable[[Received], Answer] = lambda _: Answer()
        self.changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("content-length") or 0)
                got = Received(
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                answer = receiver.answer(got)
                if answer.delay:
                    time.sleep(answer.delay)
                with receiver.changed:
                    receiver.requests.append(got)
                    receiver.changed.notify_all()
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender gave up waiting

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(
        self, done: Callable[[list[Received]], bool], timeout: float = 30
    ) -> list[Received]:
        """The requests once `done` holds of them (bounded: fails after `timeout`)."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not done(self.requests):
                left = deadline - time.monotonic()
                assert left > 0, f"not received in {timeout} s: {self.requests}"
                self.changed.wait(min(left, 0.2))
            return list(self.requests)


@contextlib.contextmanager
def receiving(port: int = 0) -> Iterator[Receiver]:
    receiver = Receiver(port).start()
    try:
        yield receiver
    finally:
        receiver.close()
