"""What the engine reads and makes: a deal's entries, the steps they take, the
intervals it spends in each phase, and the state they fold into.

Plain values, immutable, with no rules in them (those are `domain.engine`'s).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from domain.amounts import NO_MONEY, Money
from domain.pipeline import Chain, PhaseKind

if TYPE_CHECKING:
    from decimal import Decimal

EntryKind = Literal["action", "move", "void", "expiry"]

# What an entry did to the phase, as shown in timelines.
MOVED = "moved"
RESUMED = "resumed"
KEPT = "kept_by_rule"  # a rule that records without moving (e.g. `postponed`)
NO_RULE = "no_matching_rule"
TERMINAL = "terminal_phase"
BACKWARD = "forward_only"
SAME = "already_in_phase"
NOTHING_TO_RESUME = "nothing_to_resume"
NOT_DUE = "activity_since"  # an expiry that later back-dated activity makes void
VOIDED = "voided"
VOID = "void"


class Entry(NamedTuple):
    """One recorded history entry as the engine sees it.

    A named tuple, immutable like the frozen dataclasses around it but made at
    a third of the cost: a deal makes two per action it records (the entry it
    decides on, the one its event applies), a rebuild one per stored event.
    """

    kind: EntryKind
    entry_id: str
    occurred_at: dt.datetime
    seq: int
    recorded_at: dt.datetime | None = None
    type: str | None = None
    outcome: str | None = None
    fields: Mapping[str, Any] = {}  # one shared empty default: never written to
    phase: str | None = None  # target of a manual move or an expiry
    reason: str | None = None
    voids: str | None = None  # the entry_id a void cancels
    actor: str | None = None
    note: str | None = None
    recorded_by: Mapping[str, str] | None = None  # see domain.commands.Recorder


# Interval and Step are named tuples, immutable like the frozen dataclasses around
# them, but made at a third of the cost: a fold makes one Step per entry and two
# Intervals per move, and a rebuild folds every entry of the log.
class Interval(NamedTuple):
    phase: str
    entered_at: dt.datetime
    exited_at: dt.datetime | None
    cause: str  # entry_id of the entry that entered the phase


class Step(NamedTuple):
    """What one entry did, at its place in business time."""

    entry: Entry
    phase_before: str | None
    phase_after: str | None
    effect: str
    chain: Chain | None = None

    @property
    def moved(self) -> bool:
        return self.phase_before != self.phase_after


@dataclass(frozen=True)
class DealState:
    pipeline: str
    version: int
    phase: str | None = None
    kind: PhaseKind | None = None
    phase_since: dt.datetime | None = None
    held_phase: str | None = None  # last open phase, where `resume` returns
    phase_fields: Mapping[str, Any] = field(default_factory=dict)
    intervals: tuple[Interval, ...] = ()
    steps: tuple[Step, ...] = ()
    opened_at: dt.datetime | None = None
    last_activity_at: dt.datetime | None = None
    owner: str | None = None
    # `fields.amount` and `fields.currency`, each of the latest entry setting it
    money: Money = NO_MONEY

    @property
    def amount(self) -> Decimal | None:
        return self.money.amount

    @property
    def currency(self) -> str | None:
        return self.money.currency

    def step_for(self, entry_id: str) -> Step:
        for step in self.steps:
            if step.entry.entry_id == entry_id and step.effect != VOID:
                return step
        raise KeyError(entry_id)

    def fingerprint(self) -> tuple[Any, ...]:
        """What a phase report sees: equal fingerprints mean equal read models."""
        return (
            self.phase,
            self.kind,
            self.phase_since,
            self.held_phase,
            self.intervals,
            self.last_activity_at,
            dict(self.phase_fields),
            self.money,
        )


class Stood(NamedTuple):
    """Where a deal stood before an entry, as a move or an action's skip is
    judged (`guards.Standing`); kept cheaply while a correction re-derives."""

    phase: str | None
    kind: PhaseKind | None
    held_phase: str | None
