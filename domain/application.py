"""The application service: load a deal, run the command through the engine, save.

Persistence comes from the eventsourcing environment (SQLite or PostgreSQL). The
recorder is ours (`storage.sqlite`, `storage.postgres`): it writes each action's
idempotency key in the same transaction as the events, so a replayed or concurrent
request can never store an action twice.
"""

from __future__ import annotations

import datetime as dt
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
from eventsourcing.persistence import (
    IntegrityError,
    Recording,
    StoredEvent,
    Transcoder,
)

from domain.batch import BatchWriter
from domain.catalog import PipelineHistory, catalog_id_for, registered_ids
from domain.commands import (
    DealView,
    LogAction,
    MoveDeal,
    Result,
    Timeline,
    VoidAction,
    digest_of,
)
from domain.corrections import Corrections
from domain.deal import Deal, deal_id_for
from domain.engine import Entry, is_stale, lost_reason, replay
from domain.errors import (
    DealNotFound,
    InvalidCommand,
    PhaselogError,
    UnknownPipeline,
)
from domain.group_commit import GroupCommit
from domain.limits import (
    ACTOR_MAX,
    NOTE_MAX,
    check_fields,
    check_id,
    check_line,
    check_text,
    time_problem,
)
from domain.single import MAX_ATTEMPTS, SingleWriter
from domain.single import ConcurrencyExhausted as ConcurrencyExhausted
from domain.staging import Plan
from domain.transcoder import FastJSONTranscoder

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from domain.pipeline import Pipeline

FUTURE_TOLERANCE = dt.timedelta(days=1)
# An import's transactions are big: fewer queries, locks and commits per deal
# (100k actions: PostgreSQL CPU ~5 -> ~3 s). Coalesced online requests keep
# smaller ones, so the event table's lock is never held long for them.
IMPORT_DEALS_PER_TRANSACTION = 2_000
ONLINE_DEALS_PER_TRANSACTION = 500


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

    def lookup(
        self, action_ids: Sequence[str], versions: Mapping[uuid.UUID, int]
    ) -> tuple[dict[str, tuple[uuid.UUID, str]], dict[uuid.UUID, list[StoredEvent]]]:
        """`find_actions` and `select_events_after` at once."""
        ...

    def held(self) -> AbstractContextManager[None]:
        """This thread's statements share one connection until the block ends."""
        ...


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
            raise TypeError("phaselog needs its own recorder (storage.sqlite/postgres)")
        self.keys: ActionKeys = self.recorder
        self.clock = clock
        self._versions: dict[tuple[str, int], Pipeline] = {}
        self._latest: dict[str, Pipeline] = {}
        self.single = SingleWriter(self)
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

    def construct_transcoder(self) -> Transcoder:
        """The library's JSON transcoder and transcodings, encoding with orjson."""
        transcoder = FastJSONTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

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
        """Every stored version, oldest first, whoever registered them."""
        versions = self._load_history(pipeline_id)
        if not versions:
            raise UnknownPipeline(pipeline_id)
        return versions

    def registered_pipelines(self) -> list[Pipeline]:
        """The latest stored version of every pipeline this database holds, by
        id: registered by any process, at any time. Registers nothing."""
        latest = [
            history.versions()[-1]
            for pipeline_id in set(registered_ids(self.recorder, self.mapper))
            if (history := self._history(pipeline_id)) and history.definitions
        ]
        return sorted(latest, key=lambda p: p.id)

    # -- commands --------------------------------------------------------------

    def log_action(self, command: LogAction) -> Result:
        """Log one history action, opening the deal on its first action."""
        if self.group_commit is not None:
            return self.group_commit.submit(command)
        return self.log_one(command)

    def log_one(self, command: LogAction) -> Result:
        plan = self.plan(command)
        return self.single.commit(plan.deal_id, plan.entry, plan.digest, plan.open)

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
        with self.keys.held():  # one connection for its reads and saves
            return self.batches.log_actions(
                commands, deals_per_transaction=deals_per_transaction, isolate=isolate
            )

    def plan(self, command: LogAction) -> Plan:
        """Validate what needs no history, and name the deal the action belongs to."""
        pipeline = self.pipeline(command.pipeline)
        check_id("contact_id", command.contact_id)
        if command.object_id is not None:
            check_id("object_id", command.object_id)
        if not pipeline.has_action(command.type):
            self._check_action_type(pipeline, command.type)
        check_line("actor", command.actor, ACTOR_MAX)
        check_text("note", command.note, NOTE_MAX)
        check_fields(command.fields)
        occurred_at = self.check_time("occurred_at", command.occurred_at)
        action_id = check_id("action_id", command.action_id or uuid.uuid4().hex)
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
        return self.single.move(command)

    def void(self, command: VoidAction) -> Result:
        """Mark an earlier action void; it stays in the log, its effect goes."""
        return self.single.void(command)

    def void_many(
        self, commands: Sequence[VoidAction], *, deals_per_transaction: int = 500
    ) -> list[Result | PhaselogError | None]:
        """Many voids, many deals per transaction; each void stands alone.

        Answers in order: a Result (new or replayed) or the error that rejected
        that void (`ActionNotFound`, `ActionConflict`, ...); never None.
        """
        with self.keys.held():
            return self.corrections.void_many(commands, deals_per_transaction)

    def expire(self, deal_id: uuid.UUID) -> Result | None:
        """Close an idle deal under its pipeline's expiry policy, if it is due."""
        return self.single.expire(deal_id)

    def expire_many(
        self, deal_ids: Sequence[uuid.UUID], *, deals_per_transaction: int = 500
    ) -> list[Result | PhaselogError | None]:
        """`expire` for many deals, many per transaction; each deal stands alone.

        Answers in order: a Result, None when the deal is not due, or the error
        for that deal (`DealNotFound`, or `ConcurrencyExhausted` after races).
        """
        with self.keys.held():
            return self.corrections.expire_many(deal_ids, deals_per_transaction)

    # -- queries ---------------------------------------------------------------

    def deal(self, deal_id: uuid.UUID) -> DealView:
        deal = self.get_deal(deal_id)
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
        phase = pipeline.phase(state.phase) if state.phase else None
        return DealView(
            deal_id=deal_id,
            pipeline=pipeline.id,
            pipeline_version=pipeline.version,
            contact_id=contact_id,
            object_id=object_id,
            state=state,
            stale=is_stale(pipeline, state, self.clock()),
            probability=phase.probability if phase else None,
            phase_label=pipeline.label_of(phase.key) if phase else None,
            lost_reason=lost_reason(pipeline, state),
        )

    def get_deal(self, deal_id: uuid.UUID) -> Deal:
        try:
            deal: object = self.repository.get(deal_id)
        except AggregateNotFoundError:
            raise DealNotFound(deal_id) from None
        if not isinstance(deal, Deal):
            raise DealNotFound(deal_id)
        return deal

    # -- validation ------------------------------------------------------------

    def check_time(self, name: str, value: dt.datetime | None) -> dt.datetime:
        now = self.clock()
        if value is None:
            return now
        problem = time_problem(value)
        if problem is not None:
            raise InvalidCommand(name, problem)
        if value - now > FUTURE_TOLERANCE:
            raise InvalidCommand(name, "lies more than a day in the future")
        return value

    def _check_action_type(self, pipeline: Pipeline, action_type: str) -> None:
        known = ", ".join(a.key for a in pipeline.actions)
        raise InvalidCommand(
            "type", f"unknown action {action_type!r} in {pipeline.id} (known: {known})"
        )
