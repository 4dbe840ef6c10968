"""The load generator does not add its own pauses to the latencies it records."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
from typing import TYPE_CHECKING, Any

import pytest

from bench import load

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

pytestmark = pytest.mark.process  # starts processes or servers (see pyproject)

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def _server(served: list[int]) -> tuple[str, Callable[[], None]]:
    """A keep-alive server answering every request with 200 in a thread of its own;
    `served[0]` counts the answers."""
    loop = asyncio.new_event_loop()

    async def answer(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                served[0] += 1
                writer.write(OK)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = loop.run_until_complete(asyncio.start_server(answer, "127.0.0.1", 0))
    port = server.sockets[0].getsockname()[1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def shutdown() -> None:
        server.close()
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def stop() -> None:
        asyncio.run_coroutine_threadsafe(shutdown(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()

    return f"http://127.0.0.1:{port}", stop


@contextlib.contextmanager
def _collections(served: list[int]) -> Iterator[list[int]]:
    """The number of answers served at each collection that starts meanwhile."""
    counted: list[int] = []

    def count(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            counted.append(served[0])

    gc.callbacks.append(count)
    try:
        yield counted
    finally:
        gc.callbacks.remove(count)


def test_no_garbage_collection_runs_while_the_loops_measure() -> None:
    served = [0]
    base, stop = _server(served)
    thresholds = gc.get_threshold()
    gc.set_threshold(10)  # unpaused, a collection every few requests
    requests = [("GET", "/x", None)] * 300
    try:
        for run in (
            lambda: load.closed_loop(base, [requests[:150], requests[150:]]),
            lambda: load.open_loop(base, requests, rate=3000),
        ):
            served[0] = 0
            with _collections(served) as counted:
                outcome = run()
            assert outcome.done == len(requests)
            # Before the first answer (the pause's own collection) or after the
            # last: none while answers come in and latencies are recorded.
            assert [n for n in counted if 0 < n < served[0]] == []
        assert gc.isenabled()  # and collection is back afterwards
        assert gc.get_freeze_count() == 0
    finally:
        gc.set_threshold(*thresholds)
        stop()
