"""The one write path: every command, alone or with many, goes the same way.

A batch plans its commands (`domain.planning`), reads every deal it touches and
which of its action ids are stored already in one read, applies the commands to
their deals in memory through the aggregate (so through the engine), and saves
all that passed in one transaction with their action keys. A command seen
before gets its original answer again, recomputed from the log.

A save that loses a race (another process stored one of its deals first) is
staged afresh, reading the winner's events; still colliding, it is halved, and
a command alone is retried after a pause, as the retry policy says. A save that
fails in a way nobody foresaw is halved until the command behind it is alone:
it answers `NotStored`, the others are stored. A deal's commands stand or fall
together (`together`, an import) or each alone (coalesced requests).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import IntegrityError

from domain import planning
from domain.commands import Result
from domain.consequences import Consequences, Deals
from domain.deal import Deal, deal_id_for
from domain.engine import replay
from domain.errors import (
    ActionConflict,
    ConcurrencyExhausted,
    DealNotFound,
    PhaselogError,
    release,
)
from domain.pipeline import TERMINAL_KINDS
from domain.planning import Plan
from domain.staging import (
    UNREACHABLE,
    Answer,
    Staged,
    answer_alone,
    answer_saved,
    not_stored,
    reject,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from domain.engine import Decision
    from domain.pipeline import Pipeline
    from domain.ports import Clock, EventStore, Known

    PipelineOf = Callable[[str, int | None], Pipeline]
    Pause = Callable[[int], None]

# A command's plan, or how to make it once its deal is read (an expiry).
Source = Plan | Callable[[Deal, "Pipeline"], Plan | None]
Unit = tuple[uuid.UUID, list[tuple[int, Source]]]  # one deal's commands, by index
# Times a batch is staged afresh after another process stored one of its deals
# first, before it is halved; times a command alone is tried before it gives up.
BATCH_ATTEMPTS = 2
MAX_ATTEMPTS = 12


class Writer:
    """Stages commands on their deals and saves them, a batch a transaction."""

    def __init__(
        self, store: EventStore, pipeline: PipelineOf, pause: Pause, clock: Clock
    ) -> None:
        self.store = store
        self.pipeline = pipeline
        self.pause = pause  # between two tries of a command alone
        self.after = Consequences(store, pipeline, clock)

    def write(
        self,
        units: Sequence[Unit],
        answers: list[Answer],
        *,
        together: bool,
        per_transaction: int,
    ) -> None:
        """Write `units`, at most `per_transaction` deals a transaction."""
        with self.store.held():  # one connection for the batch's reads and saves
            for start in range(0, len(units), per_transaction):
                self._batch(
                    list(units[start : start + per_transaction]), answers, together
                )

    def _batch(
        self, units: list[Unit], answers: list[Answer], together: bool, attempt: int = 1
    ) -> None:
        openers = dict(self._openers(units))
        ids = [
            s.entry.entry_id
            for _, items in units
            for _, s in items
            if isinstance(s, Plan)
        ]
        stored, known = self.store.deals_and_keys(
            {deal_id for deal_id, _ in units} | set(openers), ids
        )
        marks = {deal_id: deal.mark() for deal_id, deal in stored.items()}
        deals = Deals(stored, openers)
        staged = Staged()
        for deal, plans in self._plans(units, deals, answers, known):
            self._stage(deal, plans, known, staged, answers, together, deals)

        def lost() -> None:  # the deals as they were: their events never stored
            self.store.keep(deal.restore(marks[i]) for i, deal in stored.items())

        self._save(staged, answers, units, together, attempt, lost)

    def _openers(self, units: list[Unit]) -> Iterator[tuple[uuid.UUID, Any]]:
        """How to open each deal the batch may touch: its own, and its chains'
        targets, so a chain asks the batch's one read too."""
        for deal_id, items in units:
            opener = next(
                (s.open for _, s in items if isinstance(s, Plan) and s.open), None
            )
            if opener is None:
                continue
            yield deal_id, opener
            pipeline = self.pipeline(opener.keywords["pipeline"], None)
            contact, obj = opener.keywords["contact_id"], opener.keywords["object_id"]
            for _, chain in pipeline.chains():
                target = self.pipeline(chain.pipeline, None)
                other = deal_id_for(target.id, contact, obj)
                yield other, planning.opener(target, contact, obj)

    def _plans(
        self,
        units: list[Unit],
        deals: Deals,
        answers: list[Answer],
        known: Known,
    ) -> list[tuple[Deal, list[tuple[int, Plan]]]]:
        """Each deal with its commands' plans; those made on the deal read here
        (an expiry) are looked up among the stored keys too."""
        made: list[tuple[Deal, list[tuple[int, Plan]]]] = []
        for deal_id, items in units:
            deal = deals.get(deal_id)
            if deal is None:
                for index, _ in items:
                    answers[index] = DealNotFound(deal_id)
                continue
            pipeline = self.pipeline(deal.pipeline, deal.pipeline_version)
            plans: list[tuple[int, Plan]] = []
            for index, source in items:
                plan = source if isinstance(source, Plan) else source(deal, pipeline)
                answers[index] = None
                if plan is not None:
                    plans.append((index, plan))
            made.append((deal, plans))
        if any(
            not isinstance(s, Plan) for _, items in units for _, s in items
        ):  # `known` is this batch's own: adding to it is safe
            ids = [p.entry.entry_id for _, plans in made for _, p in plans]
            known.update(self.store.find_actions(ids))
        return made

    def _stage(
        self,
        deal: Deal,
        plans: list[tuple[int, Plan]],
        known: Known,
        staged: Staged,
        answers: list[Answer],
        together: bool,
        live: Deals,
    ) -> None:
        """Apply one deal's commands in memory; stage them (all, or each alone)."""
        pipeline = self.pipeline(deal.pipeline, deal.pipeline_version)
        mine = Staged(deals=[deal])
        replays: dict[int, Result] = {}
        seen: dict[str, tuple[str, int]] = {}
        prior: Decision | None = None  # this deal's last decision, to fold on from
        for index, plan in plans:
            action_id = plan.entry.entry_id
            recorded = False
            try:
                if action_id in known:
                    replays[index] = self.replayed(
                        action_id, plan.digest, *known[action_id]
                    )
                elif action_id in seen:  # twice in this very batch
                    if seen[action_id][0] != plan.digest:
                        raise ActionConflict(action_id)
                    mine.repeats.append((index, seen[action_id][1]))
                else:
                    mark = deal.mark()
                    decision = deal.record(pipeline, plan.entry, plan.digest, prior)
                    if plan.open is not None and decision.before.kind in TERMINAL_KINDS:
                        deal, decision = self.after.process(
                            deal, plan, decision, mark, live
                        )
                        if all(deal is not d for d in mine.deals):
                            mine.deals.append(deal)
                        pipeline = self.pipeline(deal.pipeline, deal.pipeline_version)
                    prior, recorded = decision, True
                    seen[action_id] = (plan.digest, index)
                    mine.keys.append((action_id, deal.id, plan.digest))
                    mine.decisions.append((index, deal, decision))
                    for other, chained in self.after.chain(deal, decision, live):
                        mine.deals.append(other)
                        mine.keys.append((chained, other.id, chained))
            except UNREACHABLE:
                raise
            except Exception as caught:
                error = (
                    caught if isinstance(caught, PhaselogError) else not_stored(caught)
                )
                if recorded or together:  # a chain failed after the event
                    reject([i for i, _ in plans], index, error, answers)
                    for unsaved in mine.deals:  # they hold events never to be saved
                        live.pop(unsaved.id, None)
                        # A deal another unit staged now carries a rejected event.
                        staged.tainted |= any(unsaved is d for d in staged.deals)
                    return
                answers[index] = error  # decide() raised before any event
        for index, result in replays.items():
            answers[index] = result
        if mine.decisions:
            staged.merge(mine)

    def _save(
        self,
        staged: Staged,
        answers: list[Answer],
        units: list[Unit],
        together: bool,
        attempt: int,
        lost: Callable[[], None],
    ) -> None:
        """Save what is staged in one transaction; else try again, or smaller."""
        if not staged.decisions:
            return
        try:
            if staged.tainted:
                raise IntegrityError("a staged deal carries a rejected chain event")
            positions = self.store.save(staged.deals, staged.keys)
        except IntegrityError as error:
            release(error)
            lost()
            self._lost_race(staged, answers, units, together, attempt)
        except UNREACHABLE:
            raise  # no command can be stored: each one's answer
        except Exception as error:
            lost()
            if len(units) > 1:  # one value the database refuses: find its unit
                self._halves(units, answers, together, BATCH_ATTEMPTS)
            elif len(units[0][1]) > 1 and not together:
                self._each_alone(units[0], answers, together)
            else:
                failed = not_stored(error)
                for index in staged.indexes():
                    answers[index] = failed
        else:
            self.store.keep(staged.deals)
            answer_saved(staged, positions, answers)

    def _lost_race(
        self,
        staged: Staged,
        answers: list[Answer],
        units: list[Unit],
        together: bool,
        attempt: int,
    ) -> None:
        if len(units) == 1 and len(units[0][1]) == 1:  # a command alone
            if attempt >= MAX_ATTEMPTS:
                deal_id = units[0][0]
                exhausted = ConcurrencyExhausted(
                    f"deal {deal_id} kept changing; try again"
                )
                for index in staged.indexes():
                    answers[index] = exhausted
                return
            self.pause(attempt)
            self._batch(units, answers, together, attempt + 1)
        elif not staged.tainted and attempt < BATCH_ATTEMPTS:
            # Another process stored one of these deals first (two workers,
            # one deal). Its transaction has committed, so staging the batch
            # again reads it; one by one, a busy server fell to 400/s.
            self._batch(units, answers, together, attempt + 1)
        elif not staged.tainted and len(units) > 1:
            # Still colliding (a big batch meets many deals): halve it, so
            # the deals nobody else is writing get stored together.
            self._halves(units, answers, together, 1)
        else:
            for unit in units:
                self._each_alone(unit, answers, together)

    def _halves(
        self, units: list[Unit], answers: list[Answer], together: bool, attempt: int
    ) -> None:
        half = len(units) // 2
        self._batch(units[:half], answers, together, attempt)
        self._batch(units[half:], answers, together, attempt)

    def _each_alone(self, unit: Unit, answers: list[Answer], together: bool) -> None:
        deal_id, items = unit
        for item in items:
            run = partial(self._batch, [(deal_id, [item])], answers, together)
            failed = answer_alone(run)
            if failed is not None:  # what `_batch` raised: that command's answer
                answers[item[0]] = failed

    def replayed(
        self, action_id: str, digest: str, deal_id: uuid.UUID, stored_digest: str
    ) -> Result:
        """The original answer to a command seen before, recomputed from the log."""
        if digest != stored_digest:
            raise ActionConflict(action_id)
        opening, entries = self.store.entries(deal_id)
        mine = next(e for e in entries if e.entry_id == action_id)
        pipeline = self.pipeline(opening.pipeline, opening.version)
        before = replay(pipeline, [e for e in entries if e.seq < mine.seq])
        after = replay(pipeline, [e for e in entries if e.seq <= mine.seq])
        position = self.store.position_of(deal_id, mine.seq)
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


def _planned(source: Source) -> bool:
    return isinstance(source, Plan)
