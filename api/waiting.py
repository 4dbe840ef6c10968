"""Requests that wait for the projections (`?after=`), on the event loop.

A waiting request holds no worker thread: it awaits a future. When this process
projects, the projector wakes the waiters as it commits each page; otherwise one
watcher polls the serving position for all of them, a short query a poll, so a
hundred waiting requests cost what one does and no other route waits behind them.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool

if TYPE_CHECKING:
    from projections.runner import Projector

POLL_SECONDS = 0.02  # how often the watcher reads the position another process moves


class ProjectionWaits:
    """Futures of requests waiting for positions, resolved as the projection moves."""

    def __init__(self, projector: Projector, poll: float = POLL_SECONDS) -> None:
        self.projector = projector
        self.poll = poll
        self._waiting: list[tuple[int, asyncio.Future[None]]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watcher: asyncio.Task[None] | None = None
        projector.listeners.append(self._progressed)

    async def until(self, position: int, timeout: float) -> bool:
        """True once the serving generation includes `position`, False on timeout."""
        if self.projector.known >= position:
            return True
        self._loop = asyncio.get_running_loop()
        future = self._loop.create_future()
        entry = (position, future)
        self._waiting.append(entry)
        self.projector.hurry()
        if self._watcher is None or self._watcher.done():
            self._watcher = self._loop.create_task(self._watch())
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return False
        finally:
            with contextlib.suppress(ValueError):
                self._waiting.remove(entry)
        return True

    def _progressed(self, position: int) -> None:
        """Called by the projector's thread after a page: wake whom it serves."""
        loop = self._loop
        if loop is not None and self._waiting and not loop.is_closed():
            loop.call_soon_threadsafe(self._release, position)

    def _release(self, position: int) -> None:
        for wanted, future in self._waiting:
            if wanted <= position and not future.done():
                future.set_result(None)

    async def _watch(self) -> None:
        """Read the position while anyone waits (another process may project)."""
        while self._waiting:
            self.projector.hurry()
            self._release(await run_in_threadpool(self.projector.served))
            if self._waiting:
                await asyncio.sleep(self.poll)
