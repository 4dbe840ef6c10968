"""Report answers, read from the projections."""

from __future__ import annotations

from pydantic import Field

from api.schemas.base import Schema
from api.schemas.deals import StaleDealOut


class AmountTotalOut(Schema):
    """Deals with an amount in one currency: how many, their sum, and their sum
    weighted by each phase's probability (null: no phase of theirs has one)."""

    currency: str | None = Field(description="ISO 4217; null: amounts without one")
    count: int
    amount: float
    weighted: float | None


class FunnelPhaseOut(Schema):
    phase: str
    current: int
    reached: int
    passed: int
    conversion_to_next: float | None
    amounts: list[AmountTotalOut] = Field(
        description="the deals now in the phase that have an amount, by currency"
    )


class FunnelOut(Schema):
    """`reached` counts entries into a phase; `passed` entries into it or later."""

    pipeline: str
    phases: list[FunnelPhaseOut]
    won: int
    lost: int
    open: int
    win_rate: float | None
    rule: str
    forecast: list[AmountTotalOut] = Field(
        description="the open deals (phase kind open) that have an amount, by "
        "currency: amount x probability summed in weighted"
    )


class StagePhaseOut(Schema):
    """Completed stays in a phase (count, mean, median, p90) and the age of the
    deals now in it, in seconds and in days (to two decimals)."""

    phase: str
    count: int
    mean_seconds: float | None
    median_seconds: float | None
    p90_seconds: float | None
    current: int
    current_median_age_seconds: float | None
    mean_days: float | None
    median_days: float | None
    p90_days: float | None
    current_median_age_days: float | None


class TimeInStageOut(Schema):
    pipeline: str
    phases: list[StagePhaseOut]


class StaleOut(Schema):
    """A page of open deals longer in their phase than its `stale_after_days`,
    longest stale first; `next_cursor` asks for the next page (None: the last)."""

    pipeline: str
    data: list[StaleDealOut]
    next_cursor: str | None = None


class LostDetailOut(Schema):
    detail: str
    count: int


class LostReasonOut(Schema):
    reason: str | None = Field(
        description="the value of the first field the lost phase requires; None "
        "when it requires none"
    )
    count: int
    details: list[LostDetailOut] = Field(
        description="the free text this reason asks for (a competitor's name, the "
        "note of `other`), counted within it; empty when it asks for none"
    )


class LostReasonsOut(Schema):
    pipeline: str
    reasons: list[LostReasonOut]
    total: int
