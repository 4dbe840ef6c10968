"""What a decision brings about beyond its own deal.

A command sent by natural keys that meets its deal closed may begin the
contact's next sales process (`process`); a step that first enters a
chaining phase opens a deal in another pipeline, and a correction that takes
that step away withdraws it (`chain`). Both follow the derivation, so a void
or a back-dated entry brings them about as a command in order would.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from domain import planning
from domain.deal import Deal, DealMark, deal_id_for
from domain.errors import DealNotFound
from domain.history import TERMINAL
from domain.pipeline import TERMINAL_KINDS
from domain.planning import Plan, chain_id, plan_chain, starts_process

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from domain.engine import Decision
    from domain.pipeline import Pipeline
    from domain.ports import Clock, EventStore

    PipelineOf = Callable[[str, int | None], Pipeline]


class Deals(dict[uuid.UUID, Deal]):
    """A batch's deals: those stored, and those it may open, opened on first use.

    A deal the batch's one read did not find is new, so it opens here, without
    a read of its own (a chain asks here before it asks the store).
    """

    def __init__(
        self, stored: Mapping[uuid.UUID, Deal], openers: Mapping[uuid.UUID, Any]
    ) -> None:
        super().__init__(stored)
        self._openers = {i: o for i, o in openers.items() if i not in stored}

    def get(self, key: uuid.UUID, default: Any = None) -> Any:
        found = super().get(key)
        if found is None and key in self._openers:
            found = self[key] = self._openers.pop(key)()
        return default if found is None else found


class Consequences:
    """Finds and changes the other deals a batch's decisions reach."""

    def __init__(self, store: EventStore, pipeline: PipelineOf, clock: Clock) -> None:
        self.store = store
        self.pipeline = pipeline
        self.clock = clock  # when a withdrawal of a chained deal is recorded

    def process(
        self, deal: Deal, plan: Plan, decision: Decision, mark: DealMark, live: Deals
    ) -> tuple[Deal, Decision]:
        """The sales process a command sent by natural keys belongs to, now that
        it met `deal` closed: the next process if one was opened since, or if
        the command starts one (`planning.starts_process`); else this deal,
        whose history it then is (a win-back, a late note, a correction of
        this deal's own past)."""
        while decision.before.kind in TERMINAL_KINDS:
            closed_at = decision.before.phase_since
            if decision.corrected and closed_at and plan.entry.occurred_at < closed_at:
                break
            pipeline = self.pipeline(deal.pipeline, deal.pipeline_version)
            assert decision.before.phase is not None  # closed: in a phase
            if pipeline.phase(decision.before.phase).permanent:
                break  # the contact stays where this deal left them, for good
            number = deal.process + 1
            next_id = deal_id_for(
                deal.pipeline, deal.contact_id, deal.object_id, number
            )
            successor = self.deal(next_id, live)
            if successor is None:
                latest = self.pipeline(deal.pipeline, None)
                if decision.step.effect != TERMINAL or not starts_process(
                    latest, plan.entry
                ):
                    break
                opened = planning.opener(
                    latest, deal.contact_id, deal.object_id, number
                )
                successor = live[next_id] = opened()
            deal.restore(mark)
            deal, mark = successor, successor.mark()
            pipeline = self.pipeline(deal.pipeline, deal.pipeline_version)
            decision = deal.record(pipeline, plan.entry, plan.digest)
        return deal, decision

    def chain(
        self, deal: Deal, decision: Decision, live: Deals
    ) -> list[tuple[Deal, str]]:
        """The deals in other pipelines `decision` opens (or advances) or
        withdraws (`planning.chain_changes`): each, and the id of what it got."""
        done: list[tuple[Deal, str]] = []
        for target_id, now, was in planning.chain_changes(decision):
            target = self.pipeline(target_id, None)
            if now is not None:
                plan = plan_chain(deal, now, target)
                other = self.deal(plan.deal_id, live)
                if other is None:
                    assert plan.open is not None
                    other = live[plan.deal_id] = plan.open()
                elif other.entry(plan.entry.entry_id) is not None:
                    continue  # staged again after a lost race: logged already
                mark = other.mark()
                pipeline = self.pipeline(other.pipeline, other.pipeline_version)
                chained = other.record(pipeline, plan.entry, plan.digest)
                if chained.before.kind in TERMINAL_KINDS:
                    other, _ = self.process(other, plan, chained, mark, live)
            else:
                assert was is not None
                first = deal_id_for(target.id, deal.contact_id, deal.object_id)
                holder = self.holder(chain_id(was.entry), first, live)
                if holder is None:
                    continue
                withdrawal = planning.plan_withdrawal(
                    deal, was, decision.step.entry, holder, self.clock()
                )
                if withdrawal is None:
                    continue
                other, plan = holder, withdrawal
                pipeline = self.pipeline(other.pipeline, other.pipeline_version)
                other.record(pipeline, plan.entry)
            done.append((other, plan.entry.entry_id))
        return done

    def holder(self, action_id: str, first: uuid.UUID, live: Deals) -> Deal | None:
        """The deal holding `action_id`: the one `first` names, one of this
        batch's, or the one the stored action keys name."""
        for deal in (dict.get(live, first), *live.values()):
            if deal is not None and deal.entry(action_id) is not None:
                return deal
        stored = self.store.find_actions([action_id]).get(action_id)
        return None if stored is None else self.deal(stored[0], live)

    def deal(self, deal_id: uuid.UUID, live: Deals) -> Deal | None:
        """A deal this batch holds, else the stored one, else None."""
        found: Deal | None = live.get(deal_id)
        if found is None:
            try:
                found = live[deal_id] = self.store.deal(deal_id)
            except DealNotFound:
                return None
        return found
