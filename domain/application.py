"""The application service: load a deal, run the command through the engine, save.

Persistence comes from the eventsourcing environment (SQLite or PostgreSQL). The
recorder is ours (`projections.recorders`): it writes each action's idempotency key
in the same transaction as the events, so a replayed or concurrent request can never
store an action twice.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
)
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording, StoredEvent

from domain.batch import BatchWriter
from domain.catalog import PipelineHistory, catalog_id_for
from domain.commands import (
    DealView,
    LogAction,
    MoveDeal,
    Result,
    Timeline,
    VoidAction,
    digest_of,
)
from domain.corrections import Corrections, expiry_entry, void_entry
from domain.deal import (
    DEAL_EVENTS,
    KEY_NAMESPACE,
    Deal,
    deal_id_for,
    entry_from_event,
)
from domain.engine import Decision, Entry, is_stale, replay
from domain.errors import (
    ActionConflict,
    ActionNotFound,
    DealNotFound,
    InvalidCommand,
    PhaselogError,
    UnknownPipeline,
    release,
)
from domain.group_commit import GroupCommit
from domain.staging import Plan

if TYPE_CHECKING:
    from domain.pipeline import Pipeline

MAX_ATTEMPTS = 12
FUTURE_TOLERANCE = dt.timedelta(days=1)
# An import's transactions are big: fewer queries, locks and commits per deal
# (100k actions: PostgreSQL CPU ~5 -> ~3 s). Coalesced online requests keep
# smaller ones, so the event table's lock is never held long for them.
IMPORT_DEALS_PER_TRANSACTION = 2_000
ONLINE_DEALS_PER_TRANSACTION = 500


class ConcurrencyExhausted(PhaselogError):
    """A deal kept changing under us; the client may simply try again."""


@runtime_checkable
class ActionKeys(Protocol):
    """What the service needs from its recorder beyond the library's interface."""

    def find_action(self, action_id: str) -> tuple[uuid.UUID, str] | None: ...

    def position_of(self, deal_id: uuid.UUID, version: int) -> int | None: ...

    def find_actions(
        self, action_ids: Sequence[str]
    ) -> dict[str, tuple[uuid.UUID, str]]: ...

    def select_events_after(
        self, versions: Mapping[uuid.UUID, int]
    ) -> dict[uuid.UUID, list[StoredEvent]]: ...


Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class PhaseTracker(Application[uuid.UUID]):
    """Logs history actions on deals and answers what phase each deal is in."""

    name = "phaselog"

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        pipelines: Iterable[Pipeline] = (),
        clock: Clock = utc_now,
        group_commit: bool = False,
    ) -> None:
        super().__init__(dict(env or {}))
        if not isinstance(self.recorder, ActionKeys):
            raise TypeError("phaselog needs its own recorder (projections.recorders)")
        self.keys: ActionKeys = self.recorder
        self.clock = clock
        self._versions: dict[tuple[str, int], Pipeline] = {}
        self._latest: dict[str, Pipeline] = {}
        self.batches = BatchWriter(self)
        self.corrections = Corrections(self.batches)
        self.register_pipelines(pipelines)
        self.group_commit = (
            GroupCommit(
                partial(
                    self.log_actions,
                    deals_per_transaction=ONLINE_DEALS_PER_TRANSACTION,
                    isolate=True,
                )
            )
            if group_commit
            else None
        )

    def close(self) -> None:
        if self.group_commit is not None:
            self.group_commit.close()
        self.batches.close()
        super().close()

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[uuid.UUID]]:
        """`Application.save` for our own aggregates, without its Protocol checks.

        The library asks `isinstance(obj, <runtime Protocol>)` twice per
        aggregate, ~18 us on Python 3.11: a tenth of group commit's own CPU.
        """
        processing = ProcessingEvent[uuid.UUID]()
        for obj in objs:
            if isinstance(obj, Aggregate):
                processing.events.extend(obj.collect_events())
                processing.aggregates[obj.id] = obj
            else:
                processing.collect_events(obj)
        processing.saved_kwargs.update(kwargs)
        recordings = self._record(processing)
        self._take_snapshots(processing)
        self._notify(recordings)
        self.notify(processing.events)  # the library's deprecated hook, as it does
        return recordings

    # -- pipelines -----------------------------------------------------------

    def register_pipelines(self, pipelines: Iterable[Pipeline]) -> None:
        """Store each definition as a new version if it changed; load all versions."""
        for pipeline in pipelines:
            for _ in range(MAX_ATTEMPTS):
                history = self._history(pipeline.id) or PipelineHistory(pipeline.id)
                if not history.add_if_changed(pipeline):
                    break
                try:
                    self.save(history)
                    break
                except IntegrityError:
                    continue  # another process registered it first; compare again
            self._load_history(pipeline.id)

    def _history(self, pipeline_id: str) -> PipelineHistory | None:
        try:
            history: object = self.repository.get(catalog_id_for(pipeline_id))
        except AggregateNotFoundError:
            return None
        assert isinstance(history, PipelineHistory)
        return history

    def _load_history(self, pipeline_id: str) -> list[Pipeline]:
        history = self._history(pipeline_id)
        versions = history.versions() if history else []
        for pipeline in versions:
            self._versions[(pipeline.id, pipeline.version)] = pipeline
        if versions:
            self._latest[pipeline_id] = versions[-1]
        return versions

    def pipeline(self, pipeline_id: str, version: int | None = None) -> Pipeline:
        """The latest (or the given) version of a pipeline."""
        if version is None:
            found = self._latest.get(pipeline_id)
        else:
            found = self._versions.get((pipeline_id, version))
            if found is None and self._load_history(pipeline_id):
                found = self._versions.get((pipeline_id, version))
        if found is None:
            raise UnknownPipeline(pipeline_id)
        return found

    def pipelines(self) -> list[Pipeline]:
        return sorted(self._latest.values(), key=lambda p: p.id)

    def pipeline_versions(self, pipeline_id: str) -> list[Pipeline]:
        self.pipeline(pipeline_id)
        return self._load_history(pipeline_id)

    # -- commands --------------------------------------------------------------

    def log_action(self, command: LogAction) -> Result:
        """Log one history action, opening the deal on its first action."""
        if self.group_commit is not None:
            return self.group_commit.submit(command)
        return self.log_one(command)

    def log_one(self, command: LogAction) -> Result:
        plan = self.plan(command)
        return self._commit(plan.deal_id, plan.entry, plan.digest, plan.open)

    def log_actions(
        self,
        commands: Sequence[LogAction],
        *,
        deals_per_transaction: int = IMPORT_DEALS_PER_TRANSACTION,
        isolate: bool = False,
    ) -> list[Result | PhaselogError]:
        """Many deals per transaction: the import path, and group commit.

        Each command gets its own answer, in order: a Result (new or replayed) or
        the error that rejected it. By default a deal is all-or-nothing: when one
        of its actions is rejected, all its actions in this call are rejected.
        With `isolate` (concurrent requests coalesced into one transaction) each
        command stands alone, applied in order.
        """
        return self.batches.log_actions(
            commands, deals_per_transaction=deals_per_transaction, isolate=isolate
        )

    def plan(self, command: LogAction) -> Plan:
        """Validate what needs no history, and name the deal the action belongs to."""
        pipeline = self.pipeline(command.pipeline)
        check_key("contact_id", command.contact_id)
        if command.object_id is not None:
            check_key("object_id", command.object_id)
        if not pipeline.has_action(command.type):
            self._check_action_type(pipeline, command.type)
        occurred_at = self.check_time("occurred_at", command.occurred_at)
        action_id = check_key("action_id", command.action_id or uuid.uuid4().hex)
        entry = Entry(
            kind="action",
            entry_id=action_id,
            occurred_at=occurred_at,
            seq=0,
            type=command.type,
            outcome=command.outcome,
            fields=dict(command.fields),
            actor=command.actor,
            note=command.note,
        )

        def open_deal() -> Deal:
            return Deal(
                pipeline=pipeline.id,
                pipeline_version=pipeline.version,
                contact_id=command.contact_id,
                object_id=command.object_id,
            )

        deal_id = deal_id_for(pipeline.id, command.contact_id, command.object_id)
        return Plan(deal_id, entry, digest_of(command), open_deal)

    def move(self, command: MoveDeal) -> Result:
        """Set a deal's phase by hand; the move is an event with its reason."""
        occurred_at = self.check_time("occurred_at", command.occurred_at)
        action_id = check_key("action_id", command.action_id or uuid.uuid4().hex)
        entry = Entry(
            kind="move",
            entry_id=action_id,
            occurred_at=occurred_at,
            seq=0,
            phase=command.phase,
            reason=command.reason,
            fields=dict(command.fields),
            actor=command.actor,
        )
        return self._commit(command.deal_id, entry, digest_of(command), None)

    def void(self, command: VoidAction) -> Result:
        """Mark an earlier action void; it stays in the log, its effect goes."""
        found = self.keys.find_action(command.action_id)
        if found is None:
            raise ActionNotFound(command.action_id)
        entry = void_entry(command, self.clock())
        return self._commit(found[0], entry, digest_of(command), None)

    def void_many(
        self, commands: Sequence[VoidAction], *, deals_per_transaction: int = 500
    ) -> list[Result | PhaselogError | None]:
        """Many voids, many deals per transaction; each void stands alone.

        Answers in order: a Result (new or replayed) or the error that rejected
        that void (`ActionNotFound`, `ActionConflict`, ...); never None.
        """
        return self.corrections.void_many(commands, deals_per_transaction)

    def expire(self, deal_id: uuid.UUID) -> Result | None:
        """Close an idle deal under its pipeline's expiry policy, if it is due."""
        deal = self._get_deal(deal_id)
        pipeline = self.pipeline(deal.pipeline, deal.pipeline_version)
        entry = expiry_entry(deal, pipeline, self.clock())
        if entry is None:
            return None
        return self._commit(deal_id, entry, entry.entry_id, None)

    def expire_many(
        self, deal_ids: Sequence[uuid.UUID], *, deals_per_transaction: int = 500
    ) -> list[Result | PhaselogError | None]:
        """`expire` for many deals, many per transaction; each deal stands alone.

        Answers in order: a Result, None when the deal is not due, or the error
        for that deal (`DealNotFound`, or `ConcurrencyExhausted` after races).
        """
        return self.corrections.expire_many(deal_ids, deals_per_transaction)

    def _commit(
        self,
        deal_id: uuid.UUID,
        entry: Entry,
        digest: str,
        open_deal: Callable[[], Deal] | None,
    ) -> Result:
        """Load, decide, save with the idempotency key; retry on a lost race."""
        for attempt in range(MAX_ATTEMPTS):
            known = self.keys.find_action(entry.entry_id)
            if known is not None:
                return self.replayed(entry.entry_id, digest, *known)
            try:
                deal = self._get_deal(deal_id)
            except DealNotFound:
                if open_deal is None:
                    raise
                deal = open_deal()
            pipeline = self.pipeline(deal.pipeline, deal.pipeline_version)
            decision = deal.record(pipeline, entry, digest)
            chained = self.chain(deal, decision)
            keys = [(entry.entry_id, deal.id, digest)] + [
                (e.entry_id, d.id, e.entry_id) for d, e in chained
            ]
            try:
                recordings = self.save(deal, *(d for d, _ in chained), action_keys=keys)
            except IntegrityError as error:
                release(error)
                time.sleep(random.uniform(0, 0.002 * (attempt + 1)))
                continue
            position = next(
                r.notification.id
                for r in recordings
                if r.domain_event.originator_id == deal.id
                and r.domain_event.originator_version == deal.version
            )
            return Result(
                deal_id=deal.id,
                action_id=entry.entry_id,
                phase=decision.after.phase,
                previous_phase=decision.before.phase,
                position=position,
            )
        raise ConcurrencyExhausted(f"deal {deal_id} kept changing; try again")

    def chain(
        self,
        deal: Deal,
        decision: Decision,
        live: dict[uuid.UUID, Deal] | None = None,
    ) -> list[tuple[Deal, Entry]]:
        """Entering a chaining phase opens (or advances) a deal in another pipeline.

        `live`: the deals of a batch in progress, to find and keep the other deal in.
        """
        chain = decision.step.chain
        if chain is None:
            return []
        target = self.pipeline(chain.pipeline)
        source = decision.step.entry
        entry = Entry(
            kind="action",
            entry_id=str(uuid.uuid5(KEY_NAMESPACE, f"chain\x1f{source.entry_id}")),
            occurred_at=source.occurred_at,
            seq=0,
            type=chain.action,
            fields={**source.fields, "source_deal_id": str(deal.id)},
            actor=source.actor,
            note=f"opened from {deal.pipeline} deal {deal.id}",
        )
        other_id = deal_id_for(target.id, deal.contact_id, deal.object_id)
        other = live.get(other_id) if live is not None else None
        if other is None:
            try:
                other = self._get_deal(other_id)
            except DealNotFound:
                other = Deal(
                    pipeline=target.id,
                    pipeline_version=target.version,
                    contact_id=deal.contact_id,
                    object_id=deal.object_id,
                )
            if live is not None:
                live[other_id] = other
        if other.entry(entry.entry_id) is not None:
            return []
        other.record(self.pipeline(other.pipeline, other.pipeline_version), entry)
        return [(other, entry)]

    def replayed(
        self, action_id: str, digest: str, deal_id: uuid.UUID, stored_digest: str
    ) -> Result:
        """The original answer to a command seen before, recomputed from the log."""
        if digest != stored_digest:
            raise ActionConflict(action_id)
        entries = self._entries(deal_id)
        mine = next(e for e in entries if e.entry_id == action_id)
        pipeline = self._deal_pipeline(deal_id)
        before = replay(pipeline, [e for e in entries if e.seq < mine.seq])
        after = replay(pipeline, [e for e in entries if e.seq <= mine.seq])
        position = self.keys.position_of(deal_id, mine.seq)
        assert position is not None
        return Result(
            deal_id=deal_id,
            action_id=action_id,
            phase=after.phase,
            previous_phase=before.phase,
            position=position,
            replayed=True,
        )

    # -- queries ---------------------------------------------------------------

    def deal(self, deal_id: uuid.UUID) -> DealView:
        deal = self._get_deal(deal_id)
        pipeline = self.pipeline(deal.pipeline, deal.pipeline_version)
        state = replay(pipeline, deal.entries)
        return self._view(deal.id, pipeline, deal.contact_id, deal.object_id, state)

    def timeline(
        self,
        deal_id: uuid.UUID,
        *,
        as_of: dt.datetime | None = None,
        known_at: dt.datetime | None = None,
    ) -> Timeline:
        """Every entry with the phase before and after it, as of / known at a time.

        One read of the deal's stored events serves both the deal and its entries
        (with their recording times), decoded straight into entries as the
        rebuild decodes them: no event objects, no aggregate.
        """
        # Imported here: the rebuild's decoder, which the rest of the service
        # does not need.
        from projections.decode import ENTRY_TOPICS, OPENED_TOPIC, Decoder

        stored = self.recorder.select_events(deal_id)
        if not stored or stored[0].topic != OPENED_TOPIC:
            raise DealNotFound(deal_id)
        decoder = Decoder(self.mapper)
        first = stored[0]
        opening = decoder.opening(
            deal_id, first.originator_version, first.topic, first.state
        )
        pipeline = self.pipeline(opening.pipeline, opening.version)
        entries = [
            decoder.entry(deal_id, s.originator_version, s.topic, s.state)
            for s in stored
            if s.topic in ENTRY_TOPICS
        ]
        state = replay(pipeline, entries, as_of=as_of, known_at=known_at)
        current = (
            state if as_of is None and known_at is None else replay(pipeline, entries)
        )
        view = self._view(
            deal_id, pipeline, opening.contact_id, opening.object_id, current
        )
        return Timeline(deal=view, state=state, steps=state.steps)

    def _view(
        self,
        deal_id: uuid.UUID,
        pipeline: Pipeline,
        contact_id: str,
        object_id: str | None,
        state: Any,
    ) -> DealView:
        return DealView(
            deal_id=deal_id,
            pipeline=pipeline.id,
            pipeline_version=pipeline.version,
            contact_id=contact_id,
            object_id=object_id,
            state=state,
            stale=is_stale(pipeline, state, self.clock()),
        )

    def _get_deal(self, deal_id: uuid.UUID) -> Deal:
        try:
            deal: object = self.repository.get(deal_id)
        except AggregateNotFoundError:
            raise DealNotFound(deal_id) from None
        if not isinstance(deal, Deal):
            raise DealNotFound(deal_id)
        return deal

    def _deal_pipeline(self, deal_id: uuid.UUID) -> Pipeline:
        deal = self._get_deal(deal_id)
        return self.pipeline(deal.pipeline, deal.pipeline_version)

    def _entries(self, deal_id: uuid.UUID) -> list[Entry]:
        """The deal's entries with their recording times, from the stored events."""
        return [
            entry_from_event(event)
            for event in self.events.get(deal_id)
            if isinstance(event, DEAL_EVENTS)
        ]

    # -- validation ------------------------------------------------------------

    def check_time(self, name: str, value: dt.datetime | None) -> dt.datetime:
        now = self.clock()
        if value is None:
            return now
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidCommand(name, "needs a timezone (e.g. 2026-01-31T10:00:00Z)")
        if value - now > FUTURE_TOLERANCE:
            raise InvalidCommand(name, "lies more than a day in the future")
        return value

    def _check_action_type(self, pipeline: Pipeline, action_type: str) -> None:
        known = ", ".join(a.key for a in pipeline.actions)
        raise InvalidCommand(
            "type", f"unknown action {action_type!r} in {pipeline.id} (known: {known})"
        )


def check_key(name: str, value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidCommand(name, "must not be empty")
    if len(value) > 200:
        raise InvalidCommand(name, "is longer than 200 characters")
    return value
