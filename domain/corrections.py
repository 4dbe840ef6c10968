"""Voids and expiries in batches: many deals per transaction, each deal on its own.

`PhaseTracker.void` and `expire` take a transaction each (~200-300 a second); the
expiry sweep of a big imported log closes thousands of deals, and an import voids
hundreds of actions. Here they go the import's way instead: one query for the
deals (from the batch writer's cache when it can), one for the known ids, the
engine per entry, one transaction for all. Each command stands alone (a rejected
void sinks nothing else); ids are deterministic, so writing one twice stores it
once; a batch that meets a concurrent write to one of its deals is staged again,
then halved, then taken one by one, as an import batch is.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from domain.commands import Result, VoidAction, digest_of
from domain.deal import KEY_NAMESPACE, Deal
from domain.engine import Entry, expiry_due, replay
from domain.errors import (
    ActionConflict,
    ActionNotFound,
    AlreadyVoid,
    DealNotFound,
    PhaselogError,
)
from domain.limits import ACTOR_MAX, REASON_MAX, check_id, check_line, check_text
from domain.staging import Plan, Staged, answer_alone

if TYPE_CHECKING:
    import datetime as dt

    from domain.batch import BatchWriter
    from domain.pipeline import Pipeline

DEALS_PER_TRANSACTION = 500

Answer = Result | PhaselogError | None  # None: an expiry not due
# What to write on a loaded deal for the command at an index: the entry and its
# digest, or None when there is nothing to write.
Maker = Callable[[int, Deal, "Pipeline"], tuple[Entry, str] | None]
Alone = Callable[[int], Answer]  # the command at an index, in a transaction of its own


def check_void(command: VoidAction) -> None:
    """What a void may hold, checked before its action is looked up."""
    check_id("action_id", command.action_id)
    check_text("reason", command.reason, REASON_MAX)
    check_line("actor", command.actor, ACTOR_MAX)


def void_entry(command: VoidAction, now: dt.datetime) -> Entry:
    """The void of an earlier action; its id follows from the voided action's."""
    return Entry(
        kind="void",
        entry_id=str(uuid.uuid5(KEY_NAMESPACE, f"void\x1f{command.action_id}")),
        occurred_at=now,
        seq=0,
        voids=command.action_id,
        reason=command.reason,
        actor=command.actor,
    )


def expiry_entry(deal: Deal, pipeline: Pipeline, now: dt.datetime) -> Entry | None:
    """The expiry due on an idle deal by its pipeline's policy, if due by `now`."""
    due = expiry_due(pipeline, replay(pipeline, deal.entries))
    if due is None or due > now:
        return None
    assert pipeline.expiry is not None
    # One id per due time: a sweeper running twice writes one event.
    return Entry(
        kind="expiry",
        entry_id=str(uuid.uuid5(KEY_NAMESPACE, f"expiry\x1f{deal.id}\x1f{due}")),
        occurred_at=due,
        seq=0,
        phase=pipeline.expiry.to,
        fields=dict(pipeline.expiry.fields),
    )


class Corrections:
    """`PhaseTracker.void_many` and `expire_many`, through the batch writer."""

    def __init__(self, writer: BatchWriter) -> None:
        self.writer = writer
        self.tracker = writer.tracker

    def void_many(
        self, commands: Sequence[VoidAction], deals_per_transaction: int
    ) -> list[Answer]:
        answers: list[Answer] = [None] * len(commands)
        for index, command in enumerate(commands):
            try:
                check_void(command)
            except PhaselogError as error:
                answers[index] = error
        checked = [c for c, a in zip(commands, answers, strict=True) if a is None]
        found = self.tracker.keys.find_actions([c.action_id for c in checked])
        groups: dict[uuid.UUID, list[int]] = {}
        for index, command in enumerate(commands):
            if answers[index] is not None:
                continue
            if command.action_id in found:
                groups.setdefault(found[command.action_id][0], []).append(index)
            else:
                answers[index] = ActionNotFound(command.action_id)

        def make(index: int, deal: Deal, pipeline: Pipeline) -> tuple[Entry, str]:
            command = commands[index]
            return void_entry(command, self.tracker.clock()), digest_of(command)

        def alone(index: int) -> Answer:
            return self.tracker.single.void(commands[index])

        self._write(groups, make, alone, answers, deals_per_transaction)
        # A void's id follows from its action's: a conflict on it is a second
        # void of the action, for another reason.
        return [
            AlreadyVoid(c.action_id)
            if isinstance(a, ActionConflict) and not isinstance(a, AlreadyVoid)
            else a
            for c, a in zip(commands, answers, strict=True)
        ]

    def expire_many(
        self, deal_ids: Sequence[uuid.UUID], deals_per_transaction: int
    ) -> list[Answer]:
        answers: list[Answer] = [None] * len(deal_ids)
        groups: dict[uuid.UUID, list[int]] = {}
        for index, deal_id in enumerate(deal_ids):
            groups.setdefault(deal_id, []).append(index)
        now = self.tracker.clock()

        def make(
            index: int, deal: Deal, pipeline: Pipeline
        ) -> tuple[Entry, str] | None:
            entry = expiry_entry(deal, pipeline, now)
            return None if entry is None else (entry, entry.entry_id)

        def alone(index: int) -> Answer:
            return self.tracker.single.expire(deal_ids[index])

        self._write(groups, make, alone, answers, deals_per_transaction)
        return answers

    def _write(
        self,
        groups: dict[uuid.UUID, list[int]],
        make: Maker,
        alone: Alone,
        answers: list[Answer],
        deals_per_transaction: int,
    ) -> None:
        units = list(groups.items())
        for start in range(0, len(units), deals_per_transaction):
            chunk = units[start : start + deals_per_transaction]
            self._batch(chunk, make, alone, answers)

    def _batch(
        self,
        units: list[tuple[uuid.UUID, list[int]]],
        make: Maker,
        alone: Alone,
        answers: list[Answer],
        attempt: int = 1,
    ) -> None:
        """One transaction for `units` (a deal and its commands' indexes)."""
        deals = self.writer.get_deals([deal_id for deal_id, _ in units])
        planned: list[tuple[Deal, list[tuple[int, Plan]]]] = []
        for deal_id, indexes in units:
            deal = deals.get(deal_id)
            if deal is None:
                for index in indexes:
                    answers[index] = DealNotFound(deal_id)
                continue
            pipeline = self.tracker.pipeline(deal.pipeline, deal.pipeline_version)
            plans = []
            for index in indexes:
                made = make(index, deal, pipeline)
                answers[index] = None
                if made is not None:
                    plans.append((index, Plan(deal_id, made[0], made[1], _never)))
            if plans:
                planned.append((deal, plans))
        known = self.tracker.keys.find_actions(
            [plan.entry.entry_id for _, plans in planned for _, plan in plans]
        )
        staged = Staged()
        live: dict[uuid.UUID, Deal] = dict(deals)
        for deal, plans in planned:
            self.writer.stage(deal, plans, known, staged, answers, True, live)
        self.writer.save_staged(
            staged,
            answers,
            units,
            attempt,
            again=lambda part, tries: self._batch(part, make, alone, answers, tries),
            alone=lambda index: answer_alone(partial(alone, index)),
        )


def _never() -> Any:
    raise AssertionError("a void or an expiry never opens a deal")
