"""What the projections answer: plain frozen values, no database types."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from domain.errors import PhaselogError


class Unprojectable(PhaselogError):
    """An event the read models cannot be made of: the deal and its position.

    Its arguments are its fields, so it crosses a process (a rebuild's worker).
    """

    def __init__(
        self, deal_id: uuid.UUID | None, position: int | None, reason: str
    ) -> None:
        super().__init__(deal_id, position, reason)
        self.deal_id, self.position, self.reason = deal_id, position, reason

    def __str__(self) -> str:
        deal = f"deal {self.deal_id}" if self.deal_id else "the log"
        at = f" at position {self.position}" if self.position is not None else ""
        return f"cannot project {deal}{at}: {self.reason}"


@dataclass(frozen=True)
class ProjectionFailure:
    """Why the projection stands still: where, which deal (if known), since when."""

    position: int
    deal_id: uuid.UUID | None
    reason: str
    since: dt.datetime


@dataclass(frozen=True)
class ProjectionStatus:
    name: str
    position: int  # last notification folded into the serving generation
    head: int  # newest notification in the log
    lag: int
    generation: int
    rebuilding: bool
    rebuild_progress: float | None  # 0..1 while rebuilding
    failure: ProjectionFailure | None = None  # while it cannot move on
    rebuild_failure: ProjectionFailure | None = None  # the last rebuild's, if it failed


@dataclass(frozen=True)
class Difference:
    """A stored read-model value that differs from the fold of the log."""

    table: str
    key: str
    column: str  # "*" when the whole row is missing or unexpected
    stored: Any
    expected: Any


@dataclass(frozen=True)
class DealRow:
    deal_id: uuid.UUID
    pipeline: str
    pipeline_version: int
    contact_id: str
    object_id: str | None
    phase: str | None
    phase_kind: str | None
    phase_since: dt.datetime | None
    opened_at: dt.datetime | None
    last_activity_at: dt.datetime | None
    owner: str | None
    probability: int | None
    stale: bool
    lost_reason: str | None
    stale_at: dt.datetime | None = None
    amount: float | None = None  # `fields.amount`, latest set
    currency: str | None = None  # `fields.currency`, latest set


@dataclass(frozen=True)
class DealsPage:
    rows: list[DealRow]
    next_cursor: str | None


@dataclass(frozen=True)
class AmountTotal:
    """Deals with an amount in one currency (None: an amount without one)."""

    currency: str | None
    count: int
    amount: float  # their amounts' sum, to the cent
    weighted: float | None  # sum of amount x probability %; None: no probability


@dataclass(frozen=True)
class PhaseTotal:
    """A board's row: deals now in `phase`, in `currency`, and what they are
    worth; `amount` None counts the phase's deals without an amount."""

    phase: str
    currency: str | None
    count: int
    amount: float | None = None
    weighted: float | None = None


@dataclass(frozen=True)
class FunnelPhase:
    phase: str
    current: int  # deals now in the phase
    reached: int  # deals that ever entered it
    passed: int  # deals that entered it or any later phase
    conversion_to_next: float | None
    # the deals now in it that have an amount, by currency
    amounts: list[AmountTotal] = field(default_factory=list)


@dataclass(frozen=True)
class Funnel:
    pipeline: str
    phases: list[FunnelPhase]
    won: int
    lost: int
    open: int
    win_rate: float | None
    rule: str
    # open deals with an amount, by currency: what the pipeline should bring
    forecast: list[AmountTotal] = field(default_factory=list)


@dataclass(frozen=True)
class StagePhase:
    phase: str
    count: int  # completed intervals
    mean_seconds: float | None
    median_seconds: float | None
    p90_seconds: float | None
    current: int  # deals now in the phase
    current_median_age_seconds: float | None


@dataclass(frozen=True)
class TimeInStage:
    pipeline: str
    phases: list[StagePhase]


@dataclass(frozen=True)
class LostDetail:
    detail: str
    count: int


@dataclass(frozen=True)
class LostReason:
    reason: str | None  # None: the lost phase asks for no reason
    count: int
    # The free text the reason asks for (a competitor's name, "other"'s note),
    # counted within it: never a reason of its own.
    details: list[LostDetail] = field(default_factory=list)


@dataclass(frozen=True)
class LostReasons:
    pipeline: str
    reasons: list[LostReason]
    total: int
