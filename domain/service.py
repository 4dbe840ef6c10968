"""The application service: pipelines, commands, and a deal's state and timeline.

It loads, decides and saves through ports only (`domain.ports`): the event store,
and, where the process has them, group commit and a runner for big calls
(`storage/`). Every command goes the one write path (`domain.writing`); time
comes from the clock it is given. Nothing here opens a connection, a thread or a
process.
"""

from __future__ import annotations

import itertools
from functools import partial
from typing import TYPE_CHECKING

from eventsourcing.persistence import IntegrityError

from domain.catalog import PipelineHistory
from domain.commands import DealView, LogAction, Result, Timeline
from domain.deal import deal_id_for
from domain.engine import is_stale, replay
from domain.errors import (
    ActionConflict,
    ActionNotFound,
    AlreadyVoid,
    DealNotFound,
    PhaselogError,
    UnknownPipeline,
)
from domain.planning import (
    check_time,
    check_void,
    plan_action,
    plan_expiry,
    plan_move,
    plan_void,
)
from domain.reasons import lost_reason
from domain.staging import Answer, answer_alone, reject
from domain.writing import MAX_ATTEMPTS, Unit, Writer

if TYPE_CHECKING:
    import datetime as dt
    import uuid
    from collections.abc import Callable, Iterable, Sequence

    from domain.commands import MoveDeal, VoidAction
    from domain.deal import Deal
    from domain.history import DealState
    from domain.pipeline import Pipeline
    from domain.planning import Plan
    from domain.ports import BigCalls, Clock, Coalescer, EventStore

# An import's transactions are big: fewer queries, locks and commits per deal
# (100k actions: PostgreSQL CPU ~5 -> ~3 s). Coalesced online requests keep
# smaller ones, so the event table's lock is never held long for them.
IMPORT_DEALS_PER_TRANSACTION = 2_000
ONLINE_DEALS_PER_TRANSACTION = 500
CORRECTIONS_PER_TRANSACTION = 500


class PhaseTracker:
    """Logs history actions on deals and answers what phase each deal is in."""

    def __init__(
        self,
        store: EventStore,
        *,
        clock: Clock,
        pause: Callable[[int], None],
        pipelines: Iterable[Pipeline] = (),
    ) -> None:
        self.store = store
        self.clock = clock
        self._versions: dict[tuple[str, int], Pipeline] = {}
        self._latest: dict[str, Pipeline] = {}
        self.writer = Writer(store, self.pipeline, pause, clock)
        self.group_commit: Coalescer | None = None  # set where requests coalesce
        self.big_calls: BigCalls | None = None  # set where big calls go further
        self.register_pipelines(pipelines)

    def close(self) -> None:
        for part in (self.group_commit, self.big_calls):
            if part is not None:
                part.close()
        self.store.close()  # type: ignore[attr-defined]

    # -- pipelines -----------------------------------------------------------

    def register_pipelines(self, pipelines: Iterable[Pipeline]) -> None:
        """Store each definition as a new version if it changed; load all versions."""
        for pipeline in pipelines:
            for _ in range(MAX_ATTEMPTS):
                history = self.store.history(pipeline.id) or PipelineHistory(
                    pipeline.id
                )
                if not history.add_if_changed(pipeline):
                    break
                try:
                    self.store.save_history(history)
                    break
                except IntegrityError:
                    continue  # another process registered it first; compare again
            self._load_history(pipeline.id)

    def _load_history(self, pipeline_id: str) -> list[Pipeline]:
        history = self.store.history(pipeline_id)
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
            for pipeline_id in set(self.store.registered_pipeline_ids())
            if (history := self.store.history(pipeline_id)) and history.definitions
        ]
        return sorted(latest, key=lambda p: p.id)

    # -- commands --------------------------------------------------------------

    def log_action(self, command: LogAction) -> Result:
        """Log one history action, opening the deal on its first action."""
        if self.group_commit is not None:
            return self.group_commit.enqueue(command).result()
        return self.log_one(command)

    def log_one(self, command: LogAction) -> Result:
        return _only(self.log_actions([command], isolate=True))

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
        here = partial(self._log_actions, per_transaction=deals_per_transaction)
        if isolate or self.big_calls is None:
            return here(commands, together=not isolate)
        return self.big_calls.run(commands, partial(here, together=True))

    def _log_actions(
        self, commands: Sequence[LogAction], *, per_transaction: int, together: bool
    ) -> list[Result | PhaselogError]:
        answers: list[Answer] = [None] * len(commands)
        groups: dict[tuple[str, str, str | None], list[int]] = {}
        for index, command in enumerate(commands):
            key = (command.pipeline, command.contact_id, command.object_id)
            groups.setdefault(key, []).append(index)
        now = self.clock()
        units: list[Unit] = []
        for group in groups.values():
            plans: list[tuple[int, Plan]] = []
            for index in group:
                planned = answer_alone(partial(self._plan, commands[index], now))
                if not isinstance(planned, PhaselogError):
                    plans.append((index, planned))
                    continue
                answers[index] = planned
                if together:
                    reject(group, index, planned, answers)
                    plans = []
                    break
            if plans:
                units.append((plans[0][1].deal_id, list(plans)))
        self.writer.write(
            units, answers, together=together, per_transaction=per_transaction
        )
        assert all(answer is not None for answer in answers)
        return [answer for answer in answers if answer is not None]

    def _plan(self, command: LogAction, now: dt.datetime) -> Plan:
        return plan_action(self.pipeline(command.pipeline), command, now)

    def move(self, command: MoveDeal) -> Result:
        """Set a deal's phase by hand; the move is an event with its reason."""
        plan = plan_move(command, self.clock())
        return _only(self._write([(plan.deal_id, [(0, plan)])], 1))

    def void(self, command: VoidAction) -> Result:
        """Mark an earlier action void; it stays in the log, its effect goes."""
        return _only(self.void_many([command]))

    def void_many(
        self,
        commands: Sequence[VoidAction],
        *,
        deals_per_transaction: int = CORRECTIONS_PER_TRANSACTION,
    ) -> list[Result | PhaselogError | None]:
        """Many voids, many deals per transaction; each void stands alone.

        Answers in order: a Result (new or replayed) or the error that rejected
        that void (`ActionNotFound`, `AlreadyVoid`, ...); never None.
        """
        with self.store.held():  # its lookup and its batches on one connection
            return self._void_many(commands, deals_per_transaction)

    def _void_many(
        self, commands: Sequence[VoidAction], deals_per_transaction: int
    ) -> list[Result | PhaselogError | None]:
        answers: list[Answer] = [None] * len(commands)
        for index, command in enumerate(commands):
            answers[index] = answer_alone(partial(check_void, command))
        checked = [
            c.action_id for c, a in zip(commands, answers, strict=True) if a is None
        ]
        found = self.store.find_actions(checked)
        units: dict[uuid.UUID, list[tuple[int, Plan | object]]] = {}
        now = self.clock()
        for index, command in enumerate(commands):
            if answers[index] is not None:
                continue
            if command.action_id not in found:
                answers[index] = ActionNotFound(command.action_id)
                continue
            deal_id = found[command.action_id][0]
            units.setdefault(deal_id, []).append(
                (index, plan_void(command, deal_id, now))
            )
        self.writer.write(
            list(units.items()),  # type: ignore[arg-type]
            answers,
            together=False,
            per_transaction=deals_per_transaction,
        )
        # A void's id follows from its action's: a conflict on it is a second
        # void of the action, for another reason.
        return [
            AlreadyVoid(c.action_id)
            if isinstance(a, ActionConflict) and not isinstance(a, AlreadyVoid)
            else a
            for c, a in zip(commands, answers, strict=True)
        ]

    def expire(self, deal_id: uuid.UUID) -> Result | None:
        """Close an idle deal under its pipeline's expiry policy, if it is due."""
        [answer] = self.expire_many([deal_id])
        if isinstance(answer, PhaselogError):
            raise answer
        return answer

    def expire_many(
        self,
        deal_ids: Sequence[uuid.UUID],
        *,
        deals_per_transaction: int = CORRECTIONS_PER_TRANSACTION,
    ) -> list[Result | PhaselogError | None]:
        """`expire` for many deals, many per transaction; each deal stands alone.

        Answers in order: a Result, None when the deal is not due, or the error
        for that deal (`DealNotFound`, or `ConcurrencyExhausted` after races).
        """
        now = self.clock()

        def due(deal: Deal, pipeline: Pipeline) -> Plan | None:
            return plan_expiry(deal, pipeline, now)

        units: dict[uuid.UUID, list[tuple[int, object]]] = {}
        for index, deal_id in enumerate(deal_ids):
            units.setdefault(deal_id, []).append((index, due))
        return self._write(list(units.items()), deals_per_transaction)  # type: ignore[arg-type]

    def _write(self, units: list[Unit], per_transaction: int) -> list[Answer]:
        answers: list[Answer] = [None] * sum(len(items) for _, items in units)
        self.writer.write(
            units, answers, together=False, per_transaction=per_transaction
        )
        return answers

    # -- queries ---------------------------------------------------------------

    def deal(self, deal_id: uuid.UUID) -> DealView:
        deal = self.store.deal(deal_id)
        pipeline = self.pipeline(deal.pipeline, deal.pipeline_version)
        state = replay(pipeline, deal.entries)
        return self._view(deal.id, pipeline, deal.contact_id, deal.object_id, state)

    def latest_process(self, first: uuid.UUID) -> uuid.UUID:
        """The deal natural keys name now: of the sales processes of a contact
        and object in a pipeline (`first` the first one's id), the latest."""
        try:
            deal = self.store.deal(first)
        except DealNotFound:
            return first
        latest = first
        for number in itertools.count(deal.process + 1):
            following = deal_id_for(
                deal.pipeline, deal.contact_id, deal.object_id, number
            )
            try:
                self.store.deal(following)
            except DealNotFound:
                return latest
            latest = following
        raise AssertionError("unreachable")

    def get_deal(self, deal_id: uuid.UUID) -> Deal:
        return self.store.deal(deal_id)

    def timeline(
        self,
        deal_id: uuid.UUID,
        *,
        as_of: dt.datetime | None = None,
        known_at: dt.datetime | None = None,
    ) -> Timeline:
        """Every entry with the phase before and after it, as of / known at a time."""
        opening, entries = self.store.entries(deal_id)
        pipeline = self.pipeline(opening.pipeline, opening.version)
        state = replay(pipeline, entries, as_of=as_of, known_at=known_at)
        current = (
            state if as_of is None and known_at is None else replay(pipeline, entries)
        )
        view = self._view(
            deal_id, pipeline, opening.contact_id, opening.object_id, current
        )
        voids = {
            e.voids: e
            for e in entries
            if e.kind == "void"
            and e.voids is not None
            and (known_at is None or (e.recorded_at or known_at) <= known_at)
        }
        return Timeline(deal=view, state=state, steps=state.steps, voids=voids)

    def _view(
        self,
        deal_id: uuid.UUID,
        pipeline: Pipeline,
        contact_id: str,
        object_id: str | None,
        state: DealState,
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

    def check_time(self, name: str, value: dt.datetime | None) -> dt.datetime:
        return check_time(name, value, self.clock())


def _only(answers: Sequence[Answer]) -> Result:
    """The one command's answer, its error raised."""
    [answer] = answers
    if isinstance(answer, PhaselogError):
        raise answer
    assert answer is not None
    return answer
