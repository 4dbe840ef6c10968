"""Many actions at once, all-or-nothing per deal: the import path of the API and CLI.

Actions are grouped by deal. A group is first rehearsed in memory through the engine
(`decide`, exactly the validation the service runs); only when every action of the
deal passes are they logged, in order, through the service. So a rejected line
leaves its deal untouched; replays of known `action_id`s store nothing.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from domain.application import check_key
from domain.commands import LogAction, Result, digest_of
from domain.deal import deal_id_for
from domain.engine import Entry, decide
from domain.errors import ActionConflict, DealNotFound, PhaselogError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from domain.application import PhaseTracker
    from domain.pipeline import Pipeline


@dataclass(frozen=True)
class Outcome:
    """One action's fate; `blocked_by` names the rejected action of the same deal."""

    index: int
    result: Result | None = None
    error: PhaselogError | None = None
    blocked_by: int | None = None


Item = tuple[int, LogAction]


def log_batch(tracker: PhaseTracker, commands: Sequence[LogAction]) -> list[Outcome]:
    """Log `commands`; the outcomes come back in the order of the commands."""
    outcomes: dict[int, Outcome] = {}
    for items in group_by_deal(enumerate(commands)):
        for outcome in log_group(tracker, items):
            outcomes[outcome.index] = outcome
    return [outcomes[i] for i in range(len(commands))]


def group_by_deal(items: Iterator[Item] | Sequence[Item]) -> list[list[Item]]:
    groups: dict[uuid.UUID, list[Item]] = defaultdict(list)
    for index, command in items:
        deal_id = deal_id_for(command.pipeline, command.contact_id, command.object_id)
        groups[deal_id].append((index, command))
    return list(groups.values())


def log_group(tracker: PhaseTracker, items: Sequence[Item]) -> list[Outcome]:
    """Log one deal's actions if all of them pass; otherwise store none."""
    failed = rehearse(tracker, items)
    if failed is not None:
        bad, error = failed
        return [
            Outcome(i, error=error) if i == bad else Outcome(i, blocked_by=bad)
            for i, _ in items
        ]
    outcomes = []
    for index, command in items:
        try:
            outcomes.append(Outcome(index, result=tracker.log_action(command)))
        except PhaselogError as error:  # a race lost for good; the rest still go
            outcomes.append(Outcome(index, error=error))
    return outcomes


def rehearse(
    tracker: PhaseTracker, items: Sequence[Item]
) -> tuple[int, PhaselogError] | None:
    """The first action of the group the service would reject, and why."""
    failing = items[0][0]
    try:
        pipeline, entries = _history(tracker, items[0][1])
        digests: dict[str, str] = {}
        for index, command in items:
            failing = index
            digest = digest_of(command)
            known = _known_digest(tracker, command.action_id, digests)
            if known is not None:
                if known != digest:
                    raise ActionConflict(str(command.action_id))
                continue  # a replay stores nothing
            entry = _entry(tracker, pipeline, command, seq=len(entries) + 1)
            decide(pipeline, entries, entry)
            entries.append(entry)
            if command.action_id is not None:
                digests[command.action_id] = digest
    except PhaselogError as error:
        return failing, error
    return None


def _history(tracker: PhaseTracker, first: LogAction) -> tuple[Pipeline, list[Entry]]:
    deal_id = deal_id_for(first.pipeline, first.contact_id, first.object_id)
    try:
        timeline = tracker.timeline(deal_id)
    except DealNotFound:
        return tracker.pipeline(first.pipeline), []
    deal = timeline.deal
    pipeline = tracker.pipeline(deal.pipeline, deal.pipeline_version)
    entries = sorted((step.entry for step in timeline.steps), key=lambda e: e.seq)
    return pipeline, entries


def _known_digest(
    tracker: PhaseTracker, action_id: str | None, in_batch: dict[str, str]
) -> str | None:
    if action_id is None:
        return None
    if action_id in in_batch:
        return in_batch[action_id]
    found = tracker.keys.find_action(action_id)
    return None if found is None else found[1]


def _entry(
    tracker: PhaseTracker, pipeline: Pipeline, command: LogAction, seq: int
) -> Entry:
    """The entry `log_action` would record, with the same checks on its input."""
    tracker.pipeline(command.pipeline)
    check_key("contact_id", command.contact_id)
    if command.object_id is not None:
        check_key("object_id", command.object_id)
    return Entry(
        kind="action",
        entry_id=check_key("action_id", command.action_id or uuid.uuid4().hex),
        occurred_at=tracker.check_time("occurred_at", command.occurred_at),
        seq=seq,
        type=command.type,
        outcome=command.outcome,
        fields=dict(command.fields),
        actor=command.actor,
        note=command.note,
    )
