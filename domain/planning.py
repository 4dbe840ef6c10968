"""What each command will write, checked as far as it can be without a history.

A plan is the entry a command adds to one deal, the digest its replay is known
by, and how to open the deal if it is new. Actions, moves and voids are planned
from the command alone; an expiry from the deal it closes; a chained deal's
opening action from the step that first entered the chaining phase, and its
withdrawal when a correction takes that step away. Ids the service
makes itself (voids, expiries, chains) are deterministic, so writing one twice
stores it once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from domain.commands import LogAction, MoveDeal, Recorder, VoidAction, digest_of
from domain.deal import KEY_NAMESPACE, Deal, deal_id_for
from domain.engine import expiry_due, replay
from domain.errors import ChainedDealActive, InvalidCommand
from domain.history import Entry
from domain.limits import (
    ACTOR_MAX,
    NOTE_MAX,
    REASON_MAX,
    check_fields,
    check_id,
    check_line,
    check_text,
    time_problem,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from domain.engine import Decision
    from domain.history import Step
    from domain.pipeline import Pipeline

FUTURE_TOLERANCE = dt.timedelta(days=1)
# Who records the expiries phaselog writes itself.
SWEEPER = {"via": "phaselog", "name": "expiry sweeper"}


@dataclass(frozen=True)
class Plan:
    """A command checked for what needs no history, with the deal it belongs to."""

    deal_id: uuid.UUID
    entry: Entry
    digest: str
    open: partial[Deal] | None = None  # None: the deal must exist


def check_time(name: str, value: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    """A business time: `now` if none is given; at most a day ahead."""
    if value is None:
        return now
    problem = time_problem(value)
    if problem is not None:
        raise InvalidCommand(name, problem)
    if value - now > FUTURE_TOLERANCE:
        raise InvalidCommand(name, "lies more than a day in the future")
    return value


def opener(
    pipeline: Pipeline, contact_id: str, object_id: str | None, process: int = 1
) -> partial[Deal]:
    """How to open a deal of `pipeline` (its latest version) when it is new."""
    return partial(
        Deal,
        pipeline=pipeline.id,
        pipeline_version=pipeline.version,
        contact_id=contact_id,
        object_id=object_id,
        process=process,
    )


def starts_process(pipeline: Pipeline, entry: Entry) -> bool:
    """Whether `entry`, logged by natural keys after the deal they name closed,
    begins the contact's next sales process: on a deal of its own it would
    enter an open phase (an inquiry does; a late note or a second "lost" does
    not, and stays the closed deal's history)."""
    return entry.kind == "action" and replay(pipeline, [entry]).kind == "open"


def plan_action(pipeline: Pipeline, command: LogAction, now: dt.datetime) -> Plan:
    """Validate what needs no history, and name the deal the action belongs to."""
    check_id("contact_id", command.contact_id)
    if command.object_id is not None:
        check_id("object_id", command.object_id)
    if not pipeline.has_action(command.type):
        known = ", ".join(a.key for a in pipeline.actions)
        raise InvalidCommand(
            "type", f"unknown action {command.type!r} in {pipeline.id} (known: {known})"
        )
    check_line("actor", command.actor, ACTOR_MAX)
    check_text("note", command.note, NOTE_MAX)
    check_fields(command.fields)
    occurred_at = check_time("occurred_at", command.occurred_at, now)
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
        recorded_by=command.recorded_by,
    )
    deal_id = deal_id_for(pipeline.id, command.contact_id, command.object_id)
    return Plan(
        deal_id,
        entry,
        digest_of(command),
        opener(pipeline, command.contact_id, command.object_id),
    )


def plan_move(command: MoveDeal, now: dt.datetime) -> Plan:
    check_id("phase", command.phase)
    check_text("reason", command.reason, REASON_MAX)
    check_line("actor", command.actor, ACTOR_MAX)
    check_fields(command.fields)
    entry = Entry(
        kind="move",
        entry_id=check_id("action_id", command.action_id or uuid.uuid4().hex),
        occurred_at=check_time("occurred_at", command.occurred_at, now),
        seq=0,
        phase=command.phase,
        reason=command.reason,
        fields=dict(command.fields),
        actor=command.actor,
        recorded_by=command.recorded_by,
    )
    return Plan(command.deal_id, entry, digest_of(command))


def check_void(command: VoidAction) -> None:
    """What a void may hold, checked before its action is looked up."""
    check_id("action_id", command.action_id)
    check_text("reason", command.reason, REASON_MAX)
    check_line("actor", command.actor, ACTOR_MAX)


def void_entry(
    action_id: str,
    reason: str,
    now: dt.datetime,
    actor: str | None,
    recorded_by: Recorder | None,
) -> Entry:
    """The void of an earlier action; its id follows from the voided action's,
    so voiding it twice stores one void."""
    return Entry(
        kind="void",
        entry_id=str(uuid.uuid5(KEY_NAMESPACE, f"void\x1f{action_id}")),
        occurred_at=now,
        seq=0,
        voids=action_id,
        reason=reason,
        actor=actor,
        recorded_by=recorded_by,
    )


def plan_void(command: VoidAction, deal_id: uuid.UUID, now: dt.datetime) -> Plan:
    """The void of an earlier action, on the deal that holds it."""
    entry = void_entry(
        command.action_id, command.reason, now, command.actor, command.recorded_by
    )
    return Plan(deal_id, entry, digest_of(command))


def plan_expiry(deal: Deal, pipeline: Pipeline, now: dt.datetime) -> Plan | None:
    """The expiry due on an idle deal by its pipeline's policy, if due by `now`."""
    due = expiry_due(pipeline, replay(pipeline, deal.entries))
    if due is None or due > now:
        return None
    assert pipeline.expiry is not None
    # One id per due time: a sweeper running twice writes one event.
    entry = Entry(
        kind="expiry",
        entry_id=str(uuid.uuid5(KEY_NAMESPACE, f"expiry\x1f{deal.id}\x1f{due}")),
        occurred_at=due,
        seq=0,
        phase=pipeline.expiry.to,
        fields=dict(pipeline.expiry.fields),
        recorded_by=SWEEPER,
    )
    return Plan(deal.id, entry, entry.entry_id)


def chain_changes(
    decision: Decision,
) -> list[tuple[str, Step | None, Step | None]]:
    """Which chained deals `decision` opens or takes away: for each pipeline a
    chain leads to whose cause changed, the step that now first enters the
    chaining phase and the step that did before (one of them None).

    A chained deal follows the derivation: it opens once, when the deal's
    history first enters the chaining phase, however that came about (the
    command's own step, or a void or back-dated entry that re-derived a later
    one), and no longer stands once a correction takes that entry away.
    """
    if not decision.corrected:  # appending can only add the new step's chain
        chain = decision.step.chain
        if chain is None or _first_chain(decision.before.steps, chain.pipeline):
            return []
        return [(chain.pipeline, decision.step, None)]
    steps = (*decision.before.steps, *decision.after.steps)
    changes = []
    for target in dict.fromkeys(s.chain.pipeline for s in steps if s.chain):
        now = _first_chain(decision.after.steps, target)
        was = _first_chain(decision.before.steps, target)
        if (now is None) != (was is None):
            changes.append((target, now, was))
    return changes


def _first_chain(steps: Sequence[Step], pipeline: str) -> Step | None:
    return next((s for s in steps if s.chain and s.chain.pipeline == pipeline), None)


def chain_id(cause: Entry) -> str:
    """The id of the action a chain logs in the other deal: one per cause."""
    return str(uuid.uuid5(KEY_NAMESPACE, f"chain\x1f{cause.entry_id}"))


def plan_chain(deal: Deal, step: Step, target: Pipeline) -> Plan:
    """The action opening (or advancing) `target`'s deal of the same contact and
    object, now that `step` first entered a chaining phase."""
    source = step.entry
    assert step.chain is not None
    entry = Entry(
        kind="action",
        entry_id=chain_id(source),
        occurred_at=source.occurred_at,
        seq=0,
        type=step.chain.action,
        fields={**source.fields, "source_deal_id": str(deal.id)},
        actor=source.actor,
        note=f"opened from {deal.pipeline} deal {deal.id}",
        recorded_by=source.recorded_by,
    )
    other_id = deal_id_for(target.id, deal.contact_id, deal.object_id)
    return Plan(
        other_id,
        entry,
        entry.entry_id,
        opener(target, deal.contact_id, deal.object_id),
    )


def plan_withdrawal(
    deal: Deal, was: Step, correction: Entry, other: Deal, now: dt.datetime
) -> Plan | None:
    """The void that withdraws what `was` opened in `other`, now that a
    correction took `was` out of `deal`'s history; None if nothing stands.

    Refused when the other deal has activity of its own since: voiding under
    it would silently rewrite what people did there.
    """
    chained = other.entry(chain_id(was.entry))
    if chained is None or any(
        e.kind == "void" and e.voids == chained.entry_id for e in other.entries
    ):
        return None
    own = [e for e in other.entries if e.seq > chained.seq]
    if own:
        raise ChainedDealActive(other.id, other.pipeline, own[0].entry_id)
    how = "voiding" if correction.kind == "void" else "back-dating"
    what = correction.voids if correction.kind == "void" else correction.entry_id
    reason = (
        f"withdrawn: {deal.pipeline} deal {deal.id} no longer enters "
        f"{was.phase_after!r} after {how} {what!r} there"
    )
    entry = void_entry(
        chained.entry_id, reason, now, correction.actor, correction.recorded_by
    )
    return Plan(other.id, entry, entry.entry_id)
