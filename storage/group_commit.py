"""Group commit: concurrent requests coalesced into one transaction.

Every save on PostgreSQL takes the event table's lock, so one save per request
caps throughput at a few hundred per second however many clients there are. Here
request threads hand their command to one writer thread, which takes whatever has
queued up meanwhile and logs it with one `log_actions(..., isolate=True)` call:
each command still gets its own answer, and one invalid command fails alone.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING

from domain.errors import PhaselogError
from domain.staging import UNREACHABLE, not_stored

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from domain.commands import LogAction, Result

    Batch = Callable[[Sequence[LogAction]], list[Result | PhaselogError]]


class GroupCommit:
    def __init__(self, log_batch: Batch, *, max_batch: int = 500) -> None:
        self._log_batch = log_batch
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[LogAction, Future[Result]] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(
            target=self._run, name="phaselog-group-commit", daemon=True
        )
        self._thread.start()

    def submit(self, command: LogAction) -> Result:
        """Log `command` in the next group; block until it is stored (or rejected)."""
        return self.enqueue(command).result()

    def enqueue(self, command: LogAction) -> Future[Result]:
        """Queue `command` for the next group; the future resolves once it is
        stored (or rejected). An event loop awaits it without a thread per caller."""
        future: Future[Result] = Future()
        self._queue.put((command, future))
        return future

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            while len(batch) < self._max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)  # finish this batch, then stop
                    break
                batch.append(more)
            self._commit(batch)

    def _commit(self, batch: list[tuple[LogAction, Future[Result]]]) -> None:
        try:
            answers = self._log_batch([command for command, _ in batch])
        except UNREACHABLE as error:  # no request can be stored: each one says so
            for _, future in batch:
                future.set_exception(error)
            return
        except Exception as error:
            # The batch path answers each command for what it expects; this is
            # what it did not: halve the group until the request behind it is
            # alone, so every other request is stored as if it came alone.
            if len(batch) == 1:
                batch[0][1].set_exception(not_stored(error))
                return
            half = len(batch) // 2
            self._commit(batch[:half])
            self._commit(batch[half:])
            return
        except BaseException as error:  # noqa: BLE001 - no waiter may hang
            for _, future in batch:
                future.set_exception(error)
            raise
        for (_, future), answer in zip(batch, answers, strict=True):
            if isinstance(answer, PhaselogError):
                future.set_exception(answer)
            else:
                future.set_result(answer)
