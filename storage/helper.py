"""A helper process for big imports: a second core takes a share of the deals.

An import is CPU-bound in Python (planning, the engine, encoding), so one process
uses one of the machine's cores. The helper is a process of its own with its own
tracker on the same database; a big `log_actions` call hands it about half of the
deals and logs the rest itself meanwhile. Deals are shared out by contact (and
object), so a deal and every deal its chain opens or advances stay in one process:
all-or-nothing per deal holds as before. Each process commits its own
transactions; every one takes the event table's lock (PostgreSQL), so the
notification log stays one total order, and the action keys' primary key still
stores an action at most once whichever process gets there first.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import threading
from collections import deque
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from domain.commands import Result
from domain.errors import PhaselogError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from domain.commands import LogAction

Answer = Result | PhaselogError


class HelperFailed(Exception):
    """The helper process could not log its share (it died or raised)."""


class Helper:
    """One helper process, started in the background; `ready` once it can work.

    A plain child (`python -m storage.helper_process`) talking pickle over its stdin and
    stdout: unlike multiprocessing's spawn it never re-runs the caller's
    `__main__`, and unlike fork it copies no open connection or pool thread.
    """

    def __init__(self, env: Mapping[str, str], pipelines: list[tuple[str, int]]):
        self._process = subprocess.Popen(
            [sys.executable, "-m", "storage.helper_process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._started: Future[Any] = Future()
        self._replies: deque[Future[Any]] = deque([self._started])
        self._lock = threading.Lock()
        self.answered = 0  # commands the helper has answered
        self.broken = False
        self._send(({**env, "CREATE_TABLE": "n"}, pipelines))
        self._reader = threading.Thread(
            target=self._read, name="phaselog-helper-reader", daemon=True
        )
        self._reader.start()

    @property
    def ready(self) -> bool:
        return self._started.done() and self._started.exception() is None

    def wait(self, timeout: float) -> bool:
        """Whether the helper came up within `timeout` seconds."""
        try:
            self._started.result(timeout)
        except Exception:  # noqa: BLE001 - not up, whatever the reason
            return False
        return True

    def share(
        self,
        commands: Sequence[LogAction],
        deals_per_transaction: int,
        pipelines: list[tuple[str, int]],
        log_here: Callable[[Sequence[LogAction]], list[Answer]],
    ) -> list[Answer]:
        """Answers to `commands`, in their order: about half of the deals logged
        by the helper, the rest by `log_here` meanwhile.

        Should the helper fail, `log_here` logs its share too (what it stored
        already then answers as replayed) and the helper is `broken`.
        """
        mine, theirs = share_out(commands)
        sent = self.log_actions(
            [commands[i] for i in theirs], deals_per_transaction, pipelines
        )
        answers: list[Answer | None] = [None] * len(commands)
        for index, answer in zip(
            mine, log_here([commands[i] for i in mine]), strict=True
        ):
            answers[index] = answer
        try:
            helped = answers_from(sent.result())
        except HelperFailed:
            self.broken = True
            helped = log_here([commands[i] for i in theirs])
        for index, answer in zip(theirs, helped, strict=True):
            answers[index] = answer
        return [answer for answer in answers if answer is not None]

    def log_actions(
        self,
        commands: Sequence[LogAction],
        deals_per_transaction: int,
        pipelines: list[tuple[str, int]],
    ) -> Future[Any]:
        """The helper's answers to `commands`, as `answers_from` reads them.

        `pipelines`: the latest version of each pipeline here, for the helper to
        open new deals under the same versions (it loads any it does not know).
        """
        future: Future[Any] = Future()
        with self._lock:
            self._replies.append(future)
        try:
            self._send((pipelines, list(commands), deals_per_transaction))
        except OSError as error:
            future.set_exception(HelperFailed(str(error)))
        return future

    def close(self) -> None:
        assert self._process.stdin is not None
        try:
            self._process.stdin.close()  # end of requests: the helper exits
            self._process.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self._process.kill()
            self._process.wait()
        self._reader.join(timeout=5)
        assert self._process.stdout is not None
        self._process.stdout.close()

    def _send(self, message: Any) -> None:
        assert self._process.stdin is not None
        pickle.dump(message, self._process.stdin, pickle.HIGHEST_PROTOCOL)
        self._process.stdin.flush()

    def _read(self) -> None:
        assert self._process.stdout is not None
        try:
            while True:
                ok, payload = pickle.load(self._process.stdout)
                with self._lock:
                    future = self._replies.popleft()
                if ok:
                    self.answered += len(payload or ())
                    future.set_result(payload)
                else:
                    future.set_exception(HelperFailed(payload))
        except (EOFError, OSError, pickle.UnpicklingError):
            with self._lock:
                waiting, self._replies = list(self._replies), deque()
            for future in waiting:
                future.set_exception(HelperFailed("the helper process ended"))


def shared_database(env: Mapping[str, str]) -> bool:
    """Whether another process opening `env` reaches the same database."""
    module = env.get("PERSISTENCE_MODULE")
    if module == "eventsourcing.postgres":
        return True
    name = env.get("SQLITE_DBNAME") or ":memory:"
    return module == "eventsourcing.sqlite" and not name.startswith((":", "file:"))


def share_out(commands: Sequence[LogAction]) -> tuple[list[int], list[int]]:
    """The command indexes for this process and for the helper, by contact.

    Contacts alternate between the two, so each gets about half of the deals.
    """
    turn: dict[tuple[str, str | None], int] = {}
    shares: tuple[list[int], list[int]] = ([], [])
    for index, command in enumerate(commands):
        contact = (command.contact_id, command.object_id)
        share = turn.setdefault(contact, len(turn) % 2)
        shares[share].append(index)
    return shares


def answers_from(portable: list[Any]) -> list[Answer]:
    return [_error(*a) if isinstance(a, tuple) else a for a in portable]


def portable(error: PhaselogError) -> tuple[Any, ...]:
    """Our errors take other arguments than they keep in `args`: pickle by hand."""
    return type(error), error.args, vars(error)


def _error(
    kind: type[PhaselogError], args: tuple[Any, ...], attributes: dict[str, Any]
) -> PhaselogError:
    error = kind.__new__(kind)
    Exception.__init__(error, *args)
    vars(error).update(attributes)
    return error
