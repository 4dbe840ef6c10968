"""How a call of many commands runs: without the cyclic collector, and from a
few thousand commands on, with a second process logging about half of them.

A big call pauses the cyclic collector (`storage.collector.no_gc`). A bigger one
shares its deals with the helper process (`storage.helper`), started by the
first such call, which logs alone meanwhile.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import TYPE_CHECKING

from storage.collector import no_gc
from storage.helper import Helper, shared_database

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from domain.commands import LogAction, Result
    from domain.errors import PhaselogError

    Answers = list[Result | PhaselogError]

QUIET_GC_FROM = 1_000  # commands in one call from which the cyclic GC pauses
HELPER_FROM = 4_000  # commands in one call from which a helper process takes half
# The transactions of the helper's share, as an import's (domain.service).
HELPER_DEALS_PER_TRANSACTION = 2_000


class BigCalls:
    """`domain.ports.BigCalls` for one process's service.

    `helped`: whether a helper may take a share. Only on a database another
    process can open (not SQLite's `:memory:` or `file:` names) and with the
    real clock (a test's clock stays in this process).
    """

    def __init__(
        self,
        env: Mapping[str, str],
        pipelines: Callable[[], list[tuple[str, int]]],
        *,
        helped: bool,
    ) -> None:
        self.env = env
        self.pipelines = pipelines
        self.helper_from = HELPER_FROM if helped and shared_database(env) else None
        self._helper: Helper | None = None

    def run(
        self,
        commands: Sequence[LogAction],
        log_here: Callable[[Sequence[LogAction]], Answers],
    ) -> Answers:
        quiet = no_gc() if len(commands) >= QUIET_GC_FROM else nullcontext()
        with quiet:
            helper = self._helper_for(len(commands))
            if helper is None:
                return log_here(commands)
            answers = helper.share(
                commands, HELPER_DEALS_PER_TRANSACTION, self.pipelines(), log_here
            )
            if helper.broken:
                self.close()
            return answers

    def _helper_for(self, size: int) -> Helper | None:
        """The helper, if this call is big enough and it is up by now."""
        if self.helper_from is None or size < self.helper_from:
            return None
        if self._helper is None:
            self._helper = Helper(self.env, self.pipelines())
        return self._helper if self._helper.ready else None

    def wait_for_helper(self, timeout: float) -> Helper | None:
        """The helper process once it is up (for tests), None if there is none."""
        helper = self._helper
        return helper if helper is not None and helper.wait(timeout) else None

    def close(self) -> None:
        helper, self._helper = self._helper, None
        if helper is not None:
            helper.close()
