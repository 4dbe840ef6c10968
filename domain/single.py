"""The one-by-one path: each command in a transaction of its own, retried on a race.

`PhaseTracker.log_one`, `move`, `void` and `expire` come here: load the deal,
decide through the aggregate, save with the idempotency key. A command seen
before gets its original answer back, recomputed from the log; the batch paths
(`domain.batch`) share that answer and the chain into another pipeline's deal.
"""

from __future__ import annotations

import random
import time
import uuid
from typing import TYPE_CHECKING

from eventsourcing.persistence import IntegrityError

from domain.commands import Result, digest_of
from domain.corrections import check_void, expiry_entry, void_entry
from domain.deal import (
    DEAL_EVENTS,
    KEY_NAMESPACE,
    Deal,
    deal_id_for,
    entry_from_event,
)
from domain.engine import Entry, replay
from domain.errors import (
    ActionConflict,
    ActionNotFound,
    AlreadyVoid,
    DealNotFound,
    PhaselogError,
    release,
)
from domain.limits import (
    ACTOR_MAX,
    REASON_MAX,
    check_fields,
    check_id,
    check_line,
    check_text,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from domain.application import PhaseTracker
    from domain.commands import MoveDeal, VoidAction
    from domain.engine import Decision
    from domain.pipeline import Pipeline

MAX_ATTEMPTS = 12


class ConcurrencyExhausted(PhaselogError):
    """A deal kept changing under us; the client may simply try again."""


class SingleWriter:
    """`PhaseTracker.move`, `void` and `expire`, and the save behind `log_one`."""

    def __init__(self, tracker: PhaseTracker) -> None:
        self.tracker = tracker

    def move(self, command: MoveDeal) -> Result:
        check_id("phase", command.phase)
        check_text("reason", command.reason, REASON_MAX)
        check_line("actor", command.actor, ACTOR_MAX)
        check_fields(command.fields)
        occurred_at = self.tracker.check_time("occurred_at", command.occurred_at)
        action_id = check_id("action_id", command.action_id or uuid.uuid4().hex)
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
        return self.commit(command.deal_id, entry, digest_of(command), None)

    def void(self, command: VoidAction) -> Result:
        check_void(command)
        found = self.tracker.keys.find_action(command.action_id)
        if found is None:
            raise ActionNotFound(command.action_id)
        entry = void_entry(command, self.tracker.clock())
        try:
            return self.commit(found[0], entry, digest_of(command), None)
        except ActionConflict:
            raise AlreadyVoid(command.action_id) from None

    def expire(self, deal_id: uuid.UUID) -> Result | None:
        deal = self.tracker.get_deal(deal_id)
        pipeline = self.tracker.pipeline(deal.pipeline, deal.pipeline_version)
        entry = expiry_entry(deal, pipeline, self.tracker.clock())
        if entry is None:
            return None
        return self.commit(deal_id, entry, entry.entry_id, None)

    def commit(
        self,
        deal_id: uuid.UUID,
        entry: Entry,
        digest: str,
        open_deal: Callable[[], Deal] | None,
    ) -> Result:
        """Load, decide, save with the idempotency key; retry on a lost race."""
        for attempt in range(MAX_ATTEMPTS):
            known = self.tracker.keys.find_action(entry.entry_id)
            if known is not None:
                return self.replayed(entry.entry_id, digest, *known)
            try:
                deal = self.tracker.get_deal(deal_id)
            except DealNotFound:
                if open_deal is None:
                    raise
                deal = open_deal()
            pipeline = self.tracker.pipeline(deal.pipeline, deal.pipeline_version)
            decision = deal.record(pipeline, entry, digest)
            chained = self.chain(deal, decision)
            keys = [(entry.entry_id, deal.id, digest)] + [
                (e.entry_id, d.id, e.entry_id) for d, e in chained
            ]
            try:
                recordings = self.tracker.save(
                    deal, *(d for d, _ in chained), action_keys=keys
                )
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
                effect=decision.step.effect,
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
        target = self.tracker.pipeline(chain.pipeline)
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
                other = self.tracker.get_deal(other_id)
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
        other.record(
            self.tracker.pipeline(other.pipeline, other.pipeline_version), entry
        )
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
        position = self.tracker.keys.position_of(deal_id, mine.seq)
        assert position is not None
        step = next(s for s in after.steps if s.entry.entry_id == action_id)
        return Result(
            deal_id=deal_id,
            action_id=action_id,
            phase=after.phase,
            previous_phase=before.phase,
            position=position,
            replayed=True,
            effect=step.effect,
        )

    def _deal_pipeline(self, deal_id: uuid.UUID) -> Pipeline:
        deal = self.tracker.get_deal(deal_id)
        return self.tracker.pipeline(deal.pipeline, deal.pipeline_version)

    def _entries(self, deal_id: uuid.UUID) -> list[Entry]:
        """The deal's entries with their recording times, from the stored events."""
        return [
            entry_from_event(event)
            for event in self.tracker.events.get(deal_id)
            if isinstance(event, DEAL_EVENTS)
        ]
