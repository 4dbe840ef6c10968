"""The event store: the eventsourcing library's application, made for phaselog.

It is what the service's `EventStore` port asks for (`domain.ports`): deals read
(and kept between batches), saved with their action keys in one transaction,
pipeline versions, and a deal's entries with their recording times. The recorder
is ours, per database (`storage.sqlite`, `storage.postgres`), reached by topic.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.utils import get_topic

from domain.catalog import PipelineHistory, catalog_id_for
from domain.deal import Deal
from domain.errors import DealNotFound
from storage.decode import ENTRY_TOPICS, OPENED_TOPIC, Decoder, Opening
from storage.migrations import migrate
from storage.seams import eventsourcing as seams
from storage.transcoder import FastJSONTranscoder

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Mapping, Sequence
    from contextlib import AbstractContextManager

    from eventsourcing.persistence import StoredEvent, Transcoder

    from domain.history import Entry
    from domain.ports import ActionKey, Known
    from storage.audit import Ledger
    from storage.migrations import Schema

REGISTERED = get_topic(PipelineHistory.Registered)
# Deals a process keeps between batches (an import's, a server's recent ones).
DEAL_CACHE_SIZE = 20_000


@runtime_checkable
class ActionKeys(Protocol):
    """What the store needs from its recorder beyond the library's interface."""

    def find_action(self, action_id: str) -> tuple[uuid.UUID, str] | None: ...

    def position_of(self, deal_id: uuid.UUID, version: int) -> int | None: ...

    def find_actions(self, action_ids: Sequence[str]) -> Known: ...

    def lookup(
        self, action_ids: Sequence[str], versions: Mapping[uuid.UUID, int]
    ) -> tuple[Known, dict[uuid.UUID, list[StoredEvent]]]:
        """`find_actions`, and each deal's events after a version, at once."""
        ...

    def held(self) -> AbstractContextManager[None]:
        """This thread's statements share one connection until the block ends."""
        ...

    @property
    def schema(self) -> Schema:
        """The database's schema version and migrations."""
        ...

    @property
    def ledger(self) -> Ledger:
        """The events with the leaves recorded with them (storage.ledger)."""
        ...


class EventStore(Application[uuid.UUID]):
    """The log of deals and pipeline versions, on SQLite or PostgreSQL."""

    name = "phaselog"

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        super().__init__(dict(env or {}))
        if not isinstance(self.recorder, ActionKeys):
            raise TypeError("phaselog needs its own recorder (storage.sqlite/postgres)")
        self.keys: ActionKeys = self.recorder
        migrate(self.keys.schema)
        self.decoder = Decoder(self.mapper)
        # A batch takes its deals out and puts them back only once saved, so a
        # kept deal never carries unsaved events.
        self._cache: OrderedDict[uuid.UUID, Deal] = OrderedDict()
        self._cache_lock = threading.Lock()

    def construct_transcoder(self) -> Transcoder:
        """The library's JSON transcoder and transcodings, encoding with orjson."""
        transcoder = FastJSONTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    def close(self) -> None:
        with self._cache_lock:
            self._cache.clear()
        super().close()

    # -- deals -------------------------------------------------------------------

    def deals_and_keys(
        self, deal_ids: Collection[uuid.UUID], action_ids: Sequence[str]
    ) -> tuple[dict[uuid.UUID, Deal], Known]:
        """Many deals in one read, from the kept ones where we can, brought up to
        date with what others stored; and which of `action_ids` are stored."""
        with self._cache_lock:
            deals = {i: d for i in deal_ids if (d := self._cache.pop(i, None))}
            wanted = {i: (deals[i].version if i in deals else 0) for i in deal_ids}
        known, newer = self.keys.lookup(action_ids, wanted)
        to_event = self.mapper.to_domain_event
        for deal_id, stored in newer.items():
            aggregate: Any = deals.get(deal_id)
            for event in stored:
                aggregate = to_event(event).mutate(aggregate)  # type: ignore[attr-defined]
            if isinstance(aggregate, Deal):
                deals[deal_id] = aggregate
        return deals, known

    def keep(self, deals: Iterable[Deal]) -> None:
        with self._cache_lock:
            for deal in deals:
                self._cache[deal.id] = deal
                self._cache.move_to_end(deal.id)
            while len(self._cache) > DEAL_CACHE_SIZE:
                self._cache.popitem(last=False)

    def save(  # type: ignore[override]
        self, deals: Sequence[Deal], keys: Sequence[ActionKey] = ()
    ) -> dict[tuple[uuid.UUID, int], int]:
        """The deals' pending events and the keys in one transaction: the log
        position of each (deal id, version) stored."""
        recordings = seams.save(self, deals, action_keys=list(keys))
        return {
            (r.domain_event.originator_id, r.domain_event.originator_version): (
                r.notification.id
            )
            for r in recordings
        }

    def find_actions(self, action_ids: Sequence[str]) -> Known:
        return self.keys.find_actions(action_ids) if action_ids else {}

    def find_action(self, action_id: str) -> tuple[uuid.UUID, str] | None:
        return self.keys.find_action(action_id)

    def position_of(self, deal_id: uuid.UUID, version: int) -> int | None:
        return self.keys.position_of(deal_id, version)

    def held(self) -> AbstractContextManager[None]:
        return self.keys.held()

    def deal(self, deal_id: uuid.UUID) -> Deal:
        try:
            deal: object = self.repository.get(deal_id)
        except AggregateNotFoundError:
            raise DealNotFound(deal_id) from None
        if not isinstance(deal, Deal):
            raise DealNotFound(deal_id)
        return deal

    def entries(self, deal_id: uuid.UUID) -> tuple[Opening, list[Entry]]:
        """One read of the deal's stored events, decoded straight into entries
        (with their recording times) as the rebuild decodes them."""
        stored = self.recorder.select_events(deal_id)
        if not stored or stored[0].topic != OPENED_TOPIC:
            raise DealNotFound(deal_id)
        first = stored[0]
        opening = self.decoder.opening(
            deal_id, first.originator_version, first.topic, first.state
        )
        entry = self.decoder.entry
        return opening, [
            entry(deal_id, s.originator_version, s.topic, s.state)
            for s in stored
            if s.topic in ENTRY_TOPICS
        ]

    # -- pipeline versions ---------------------------------------------------------

    def history(self, pipeline_id: str) -> PipelineHistory | None:
        try:
            history: object = self.repository.get(catalog_id_for(pipeline_id))
        except AggregateNotFoundError:
            return None
        assert isinstance(history, PipelineHistory)
        return history

    def save_history(self, history: PipelineHistory) -> None:
        seams.save(self, [history])

    def registered_pipeline_ids(self, page: int = 1000) -> list[str]:
        """Every pipeline id ever registered in the log, in the order registered:
        the log read for the one topic that names them."""
        found: list[str] = []
        start = 1
        while True:
            notes = self.recorder.select_notifications(start, page, topics=[REGISTERED])
            for note in notes:
                registered = self.mapper.to_domain_event(note)
                assert isinstance(registered, PipelineHistory.Registered)
                found.append(registered.pipeline_id)
            if len(notes) < page:
                return found
            start = notes[-1].id + 1


def event_store(service: Any) -> EventStore:
    """The event store under a service (`domain.service.PhaseTracker`), for the
    read side and the API, which read the log beyond what the service asks."""
    store = service.store
    if not isinstance(store, EventStore):
        raise TypeError(f"no event store of phaselog's: {type(store).__name__}")
    return store
