"""The batch paths: many deals per transaction, for imports and group commit.

A batch plans every command, looks up known action ids and loads every deal it
touches with one query each, applies the commands in memory through the aggregate
(so through the engine), and saves all that passed in one transaction. Saved deals
stay in an LRU cache, brought up to date by one query at the next batch.
"""

from __future__ import annotations

import gc
import threading
import uuid
from collections import OrderedDict
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from eventsourcing.persistence import IntegrityError

from domain.deal import Deal, deal_id_for
from domain.errors import ActionConflict, PhaselogError, release
from domain.helper import Helper, shared_database
from domain.staging import (
    UNREACHABLE,
    Staged,
    answer_alone,
    answer_saved,
    not_stored,
    reject,
)
from domain.staging import DealRejected as DealRejected
from domain.staging import Plan as Plan

if TYPE_CHECKING:
    from collections.abc import (
        Callable,
        Collection,
        Iterable,
        Iterator,
        Mapping,
        Sequence,
    )

    from domain.application import PhaseTracker
    from domain.commands import LogAction, Result
    from domain.engine import Decision
    from domain.pipeline import Pipeline

DEAL_CACHE_SIZE = 20_000
QUIET_GC_FROM = 1_000  # commands in one call from which the cyclic GC pauses
HELPER_FROM = 4_000  # commands in one call from which a helper process takes half
# Times a batch is staged afresh after another process stored one of its deals
# first, before it is halved (and, down to one deal, taken action by action).
BATCH_ATTEMPTS = 2
Unit = TypeVar("Unit")  # what a batch stages afresh: a deal's commands


@contextmanager
def _no_gc() -> Iterator[None]:
    """No cyclic garbage collection for the length of one import call.

    An import allocates millions of short-lived objects, freed by reference
    counting; meanwhile the collector scans every cached deal over and over
    (half the CPU of a 100k-action import). Cycles made meanwhile wait until
    the end of the call.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _Deals(dict[uuid.UUID, Deal]):
    """A batch's deals: those stored, and those it may open, opened on first use.

    `SingleWriter.chain` looks its target up with `get` and asks the store only
    when it finds none; a deal the batch's one query did not find is new, so it
    opens here instead, without a query of its own.
    """

    def __init__(
        self,
        stored: Mapping[uuid.UUID, Deal],
        openers: Mapping[uuid.UUID, Callable[[], Deal]],
    ) -> None:
        super().__init__(stored)
        self._openers = {i: o for i, o in openers.items() if i not in stored}

    def get(self, key: uuid.UUID, default: Any = None) -> Any:
        found = super().get(key)
        if found is None and key in self._openers:
            found = self[key] = self._openers.pop(key)()
        return default if found is None else found


def _opener(
    pipeline: Pipeline, contact_id: str, object_id: str | None
) -> Callable[[], Deal]:
    return partial(
        Deal,
        pipeline=pipeline.id,
        pipeline_version=pipeline.version,
        contact_id=contact_id,
        object_id=object_id,
    )


class BatchWriter:
    """`PhaseTracker.log_actions`, and the deal cache it keeps."""

    def __init__(self, tracker: PhaseTracker) -> None:
        self.tracker = tracker
        self._cache: OrderedDict[uuid.UUID, Deal] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._helper: Helper | None = None
        self.helper_from = HELPER_FROM

    def log_actions(
        self,
        commands: Sequence[LogAction],
        *,
        deals_per_transaction: int,
        isolate: bool,
    ) -> list[Result | PhaselogError]:
        if isolate or len(commands) < QUIET_GC_FROM:
            return self._log_split(commands, deals_per_transaction, isolate)
        with _no_gc():
            return self._log_split(commands, deals_per_transaction, isolate)

    def _log_split(
        self,
        commands: Sequence[LogAction],
        deals_per_transaction: int,
        isolate: bool,
    ) -> list[Result | PhaselogError]:
        log_here = partial(
            self._log_here,
            deals_per_transaction=deals_per_transaction,
            isolate=isolate,
        )
        helper = None if isolate else self._helper_for(len(commands))
        if helper is None:
            return log_here(commands)
        answers = helper.share(
            commands, deals_per_transaction, self._pipelines(), log_here
        )
        if helper.broken:
            self._close_helper()
        return answers

    def _helper_for(self, size: int) -> Helper | None:
        """The helper process, if this call is big enough and it is up by now.

        Only on a database another process can open (not SQLite's `:memory:`
        or `file:` names) and with the real clock (a test's clock stays in this
        process). The first big call starts it and logs alone meanwhile.
        """
        from domain.application import utc_now

        if size < self.helper_from or self.tracker.clock is not utc_now:
            return None
        if not shared_database(self.tracker.env):
            return None
        if self._helper is None:
            self._helper = Helper(self.tracker.env, self._pipelines())
        return self._helper if self._helper.ready else None

    def _pipelines(self) -> list[tuple[str, int]]:
        return [(p.id, p.version) for p in self.tracker.pipelines()]

    def wait_for_helper(self, timeout: float) -> Helper | None:
        """The helper process once it is up (for tests), None if there is none."""
        helper = self._helper
        return helper if helper is not None and helper.wait(timeout) else None

    def close(self) -> None:
        self._close_helper()
        with self._cache_lock:
            self._cache.clear()

    def _close_helper(self) -> None:
        helper, self._helper = self._helper, None
        if helper is not None:
            helper.close()

    def _log_here(
        self,
        commands: Sequence[LogAction],
        *,
        deals_per_transaction: int,
        isolate: bool,
    ) -> list[Result | PhaselogError]:
        answers: list[Result | PhaselogError | None] = [None] * len(commands)
        groups: dict[tuple[str, str, str | None], list[int]] = {}
        for index, command in enumerate(commands):
            key = (command.pipeline, command.contact_id, command.object_id)
            groups.setdefault(key, []).append(index)
        batch: list[list[int]] = []
        for group in groups.values():
            batch.append(group)
            if len(batch) >= deals_per_transaction:
                self._batch(commands, batch, answers, isolate)
                batch = []
        if batch:
            self._batch(commands, batch, answers, isolate)
        assert all(answer is not None for answer in answers)
        return [answer for answer in answers if answer is not None]

    def _batch(
        self,
        commands: Sequence[LogAction],
        groups: list[list[int]],
        answers: list[Result | PhaselogError | None],
        isolate: bool,
        attempt: int = 1,
    ) -> None:
        plans: dict[int, Plan] = {}
        plan = self.tracker.plan
        for group in groups:
            for index in group:
                planned = answer_alone(partial(plan, commands[index]))
                if isinstance(planned, Plan):
                    plans[index] = planned
                    continue
                answers[index] = planned
                if not isolate:
                    reject(group, index, planned, answers)
                    break
        openers = self._openers(commands, groups, plans)
        stored, known = self.get_deals_and_keys(
            openers, [p.entry.entry_id for p in plans.values()]
        )
        marks = {deal_id: deal.mark() for deal_id, deal in stored.items()}
        deals = _Deals(stored, openers)
        staged = Staged()
        for group in groups:
            planned = [(i, plans[i]) for i in group if i in plans]
            if planned and (isolate or len(planned) == len(group)):
                # `deals` also holds deals opened by a chain earlier in this batch,
                # so a chained deal's own actions land on the same aggregate.
                deal = deals.get(planned[0][1].deal_id) or planned[0][1].open()
                deals[deal.id] = deal
                self.stage(deal, planned, known, staged, answers, isolate, deals)
        self.save_staged(
            staged,
            answers,
            groups,
            attempt,
            again=lambda part, tries: self._batch(
                commands, part, answers, isolate, tries
            ),
            alone=lambda index: self._one_by_one(commands[index]),
            lost=lambda: self.cache_deals(
                deal.restore(marks[deal_id]) for deal_id, deal in stored.items()
            ),
            together=not isolate,
        )

    def save_staged(
        self,
        staged: Staged,
        answers: list[Any],
        units: list[Unit],
        attempt: int,
        again: Callable[[list[Unit], int], None],
        alone: Callable[[int], Any],
        lost: Callable[[], None] | None = None,
        together: bool = False,
    ) -> None:
        """Save a batch's staged deals in one transaction, and answer for them.

        `units` (a deal's commands each) are what `again` stages afresh, on its
        `attempt`; `alone` answers the command at an index in a transaction of
        its own; `lost` runs first when the save fails (the deals' rollback).
        `together`: a unit's commands stand or fall together (a deal of an
        import), else each stands alone (coalesced requests).
        """
        if not staged.decisions:
            return
        try:
            if staged.tainted:
                raise IntegrityError("a staged deal carries a rejected chain event")
            recordings = self.tracker.save(*staged.deals, action_keys=staged.keys)
        except IntegrityError as error:
            release(error)
            if lost is not None:
                lost()
        except UNREACHABLE:
            raise  # no command can be stored: each one's answer
        except Exception as error:
            # One value the database refuses (or a bug) must not sink the
            # batch: halve it until the unit that fails is alone.
            if lost is not None:
                lost()
            if len(units) > 1:
                half = len(units) // 2
                again(units[:half], BATCH_ATTEMPTS)
                again(units[half:], BATCH_ATTEMPTS)
                return
            failed = not_stored(error) if together else None
            for index in staged.indexes():
                answers[index] = failed or alone(index)
            return
        else:
            self.cache_deals(staged.deals)
            answer_saved(staged, recordings, answers)
            return
        if not staged.tainted and attempt < BATCH_ATTEMPTS:
            # Another process stored one of these deals first (two workers,
            # one deal). Its transaction has committed, so staging the batch
            # again reads it; one by one, a busy server fell to 400/s.
            again(units, attempt + 1)
        elif not staged.tainted and len(units) > 1:
            # Still colliding (a big batch meets many deals): halve it, so
            # the deals nobody else is writing get stored together.
            half = len(units) // 2
            again(units[:half], 1)
            again(units[half:], 1)
        else:
            for index in staged.indexes():
                answers[index] = alone(index)

    def stage(
        self,
        deal: Deal,
        group: list[tuple[int, Plan]],
        known: Mapping[str, tuple[uuid.UUID, str]],
        staged: Staged,
        answers: list[Result | PhaselogError | None],
        isolate: bool,
        live: dict[uuid.UUID, Deal],
    ) -> None:
        """Apply one deal's actions in memory; stage them (all, or each alone)."""
        pipeline = self.tracker.pipeline(deal.pipeline, deal.pipeline_version)
        mine = Staged(deals=[deal])
        replays: dict[int, Result] = {}
        seen: dict[str, tuple[str, int]] = {}
        prior: Decision | None = None  # this deal's last decision, to fold on from
        for index, plan in group:
            action_id = plan.entry.entry_id
            recorded = False
            try:
                if action_id in known:
                    stored = known[action_id]
                    replays[index] = self.tracker.single.replayed(
                        action_id, plan.digest, *stored
                    )
                elif action_id in seen:  # twice in this very batch
                    if seen[action_id][0] != plan.digest:
                        raise ActionConflict(action_id)
                    mine.repeats.append((index, seen[action_id][1]))
                else:
                    decision = deal.record(pipeline, plan.entry, plan.digest, prior)
                    prior = decision
                    recorded = True
                    seen[action_id] = (plan.digest, index)
                    mine.keys.append((action_id, deal.id, plan.digest))
                    mine.decisions.append((index, deal, decision))
                    for other, entry in self.tracker.single.chain(deal, decision, live):
                        mine.deals.append(other)
                        mine.keys.append((entry.entry_id, other.id, entry.entry_id))
            except UNREACHABLE:
                raise
            except Exception as caught:
                error = (
                    caught if isinstance(caught, PhaselogError) else not_stored(caught)
                )
                if recorded or not isolate:  # a chain failed after the event
                    reject([i for i, _ in group], index, error, answers)
                    for unsaved in mine.deals:  # they hold events never to be saved
                        live.pop(unsaved.id, None)
                        # A deal another group staged now carries a rejected event.
                        staged.tainted |= any(unsaved is d for d in staged.deals)
                    return
                answers[index] = error  # decide() raised before any event
        for index, result in replays.items():
            answers[index] = result
        if mine.decisions:
            staged.merge(mine)

    def _openers(
        self,
        commands: Sequence[LogAction],
        groups: list[list[int]],
        plans: Mapping[int, Plan],
    ) -> dict[uuid.UUID, Callable[[], Deal]]:
        """How to open each deal the batch may touch: its own, and chain targets.

        Asking for the chain targets in the batch's one query spares the chain
        a query of its own for each deal it opens or advances.
        """
        openers: dict[uuid.UUID, Callable[[], Deal]] = {}
        for group in groups:
            first = next((i for i in group if i in plans), None)
            if first is None:
                continue
            contact, obj = commands[first].contact_id, commands[first].object_id
            pipeline = self.tracker.pipeline(commands[first].pipeline)
            openers[plans[first].deal_id] = _opener(pipeline, contact, obj)
            for _, chain in pipeline.chains():
                target = self.tracker.pipeline(chain.pipeline)
                other = deal_id_for(target.id, contact, obj)
                openers.setdefault(other, _opener(target, contact, obj))
        return openers

    def _one_by_one(self, command: LogAction) -> Result | PhaselogError:
        answer: Result | PhaselogError = answer_alone(
            partial(self.tracker.log_one, command)
        )
        return answer

    def get_deals(self, deal_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Deal]:
        """Many deals in one query for the batch paths, from our cache when we can.

        A batch takes its deals out of the cache and `cache_deals` puts them back
        only once they are saved, so a cached deal never carries unsaved events;
        one query brings every deal up to date with what others have stored.
        """
        return self.get_deals_and_keys(deal_ids, ())[0]

    def get_deals_and_keys(
        self, deal_ids: Collection[uuid.UUID], action_ids: Sequence[str]
    ) -> tuple[dict[uuid.UUID, Deal], Mapping[str, tuple[uuid.UUID, str]]]:
        """`get_deals`, and which of `action_ids` are stored, in the same query."""
        with self._cache_lock:
            deals = {i: d for i in deal_ids if (d := self._cache.pop(i, None))}
            wanted = {i: (deals[i].version if i in deals else 0) for i in deal_ids}
        known, newer = self.tracker.keys.lookup(action_ids, wanted)
        for deal_id, stored in newer.items():
            aggregate: Any = deals.get(deal_id)
            for event in stored:
                aggregate = self.tracker.mapper.to_domain_event(event).mutate(aggregate)  # type: ignore[attr-defined]
            if isinstance(aggregate, Deal):
                deals[deal_id] = aggregate
        return deals, known

    def cache_deals(self, deals: Iterable[Deal]) -> None:
        with self._cache_lock:
            for deal in deals:
                self._cache[deal.id] = deal
                self._cache.move_to_end(deal.id)
            while len(self._cache) > DEAL_CACHE_SIZE:
                self._cache.popitem(last=False)
