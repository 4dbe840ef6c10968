"""What the service needs from the world, as protocols: storage/ implements them.

The service (domain/service.py) loads deals, decides through them and saves
them; how a deal is read from a database, cached, or saved many to a
transaction is the event store's business (storage/eventstore.py). A save that
loses a race raises the library's IntegrityError (another writer stored the same
deal version or action key first); a database out of reach raises its
OperationalError or InterfaceError (`domain.staging.UNREACHABLE`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from concurrent.futures import Future
    from contextlib import AbstractContextManager

    from domain.catalog import PipelineHistory
    from domain.commands import LogAction, Result
    from domain.deal import Deal
    from domain.errors import PhaselogError
    from domain.history import Entry

Clock = Callable[[], dt.datetime]
ActionKey = tuple[str, uuid.UUID, str]  # action_id, deal_id, digest of the command
Known = dict[str, tuple[uuid.UUID, str]]  # action_id -> (deal_id, digest)


class Opening(Protocol):
    """What a deal's first event says of it."""

    @property
    def deal_id(self) -> uuid.UUID: ...

    @property
    def pipeline(self) -> str: ...

    @property
    def version(self) -> int: ...

    @property
    def contact_id(self) -> str: ...

    @property
    def object_id(self) -> str | None: ...


class EventStore(Protocol):
    """The deals' events, their action keys, and the pipelines' versions."""

    def deals_and_keys(
        self, deal_ids: Collection[uuid.UUID], action_ids: Sequence[str]
    ) -> tuple[dict[uuid.UUID, Deal], Known]:
        """The stored deals among `deal_ids`, up to date, and which of
        `action_ids` are stored, in one read. The deals are the caller's until
        it hands them back to `keep` (or drops them)."""
        ...

    def keep(self, deals: Iterable[Deal]) -> None:
        """Deals whose events are all stored, for the next `deals_and_keys`."""
        ...

    def save(
        self, deals: Sequence[Deal], keys: Sequence[ActionKey]
    ) -> dict[tuple[uuid.UUID, int], int]:
        """Store the deals' pending events and the keys in one transaction: the
        log position of each (deal id, version) stored."""
        ...

    def find_actions(self, action_ids: Sequence[str]) -> Known: ...

    def position_of(self, deal_id: uuid.UUID, version: int) -> int | None: ...

    def deal(self, deal_id: uuid.UUID) -> Deal:
        """The deal as stored; DealNotFound if there is none."""
        ...

    def entries(self, deal_id: uuid.UUID) -> tuple[Opening, list[Entry]]:
        """A deal's opening and entries, each with its recording time."""
        ...

    def history(self, pipeline_id: str) -> PipelineHistory | None: ...

    def save_history(self, history: PipelineHistory) -> None: ...

    def registered_pipeline_ids(self) -> list[str]:
        """Every pipeline id ever registered, by any process."""
        ...

    def held(self) -> AbstractContextManager[None]:
        """This thread's reads and saves share one connection until the end."""
        ...


class Coalescer(Protocol):
    """Concurrent commands coalesced into one transaction (group commit)."""

    def enqueue(self, command: LogAction) -> Future[Result]: ...

    def close(self) -> None: ...


class BigCalls(Protocol):
    """How a call of many commands is run (a second process, no cyclic GC)."""

    def run(
        self,
        commands: Sequence[LogAction],
        log_here: Callable[[Sequence[LogAction]], list[Result | PhaselogError]],
    ) -> list[Result | PhaselogError]: ...

    def close(self) -> None: ...
