"""Report answers, read from the projections."""

from __future__ import annotations

from api.schemas.base import Schema
from api.schemas.deals import DealOut


class FunnelPhaseOut(Schema):
    phase: str
    current: int
    reached: int
    passed: int
    conversion_to_next: float | None


class FunnelOut(Schema):
    """`reached` counts entries into a phase; `passed` entries into it or later."""

    pipeline: str
    phases: list[FunnelPhaseOut]
    won: int
    lost: int
    open: int
    win_rate: float | None
    rule: str


class StagePhaseOut(Schema):
    phase: str
    count: int
    mean_seconds: float | None
    median_seconds: float | None
    p90_seconds: float | None
    current: int
    current_median_age_seconds: float | None


class TimeInStageOut(Schema):
    pipeline: str
    phases: list[StagePhaseOut]


class StaleOut(Schema):
    """A page of open deals longer in their phase than its `stale_after_days`,
    longest stale first; `next_cursor` asks for the next page (None: the last)."""

    pipeline: str
    data: list[DealOut]
    next_cursor: str | None = None


class LostReasonOut(Schema):
    reason: str | None
    count: int


class LostReasonsOut(Schema):
    pipeline: str
    reasons: list[LostReasonOut]
    total: int
