"""A deal's current state, lists of deals and a deal's timeline."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import Field

from api.schemas.base import Schema


class DealOut(Schema):
    """A deal as a person looks at it: where it is, since when, whose it is."""

    deal_id: uuid.UUID
    pipeline: str
    pipeline_version: int
    contact_id: str
    object_id: str | None
    phase: str | None
    phase_label: str | None = Field(description="in the pipeline's language")
    phase_kind: str | None
    phase_since: dt.datetime | None
    days_in_phase: int | None = Field(description="whole days since phase_since")
    opened_at: dt.datetime | None
    last_activity_at: dt.datetime | None
    owner: str | None = Field(
        description="`fields.owner` of its latest action naming one, else who "
        "logged its first action (`actor`)"
    )
    probability: int | None = Field(description="the phase's, in percent")
    lost_reason: str | None = Field(description="a lost deal's, as logged")
    stale: bool
    amount: float | None = Field(
        None,
        description="`fields.amount` of its latest entry (in business time) "
        "setting one; voided entries do not count",
    )
    currency: str | None = Field(
        None, description="`fields.currency` (ISO 4217) of its latest entry setting one"
    )
    weighted_amount: float | None = Field(
        None,
        description="amount x probability / 100, to the cent; null without either",
    )


class DealsPage(Schema):
    data: list[DealOut]
    next_cursor: str | None


class StaleDealOut(DealOut):
    """A stale deal: past its phase's `stale_after_days` since `stale_at`."""

    stale_at: dt.datetime
    days_overdue: int = Field(description="whole days since stale_at")


class RecorderOut(Schema):
    """Who stored an entry: set by the server from the caller, never from the
    request. `via`: api_key (`name` and `key_id` of the key), cli (the
    operator `phaselog import --as` named, or the system user), phaselog (an
    entry phaselog wrote itself, as an expiry), open_mode, or unknown (stored
    before phaselog recorded who)."""

    via: str
    name: str
    key_id: str | None = None


UNKNOWN_RECORDER = RecorderOut(via="unknown", name="unknown")


class TimelineEntryOut(Schema):
    """One event and what it did; `voided` entries stay but have no effect.

    A void counts from when it was recorded: a replay `as_of` any time leaves
    out every action voided since (it never happened, as far as is known now),
    while `known_at` before the void shows the action as it was then.
    """

    action_id: str
    kind: str
    type: str | None
    outcome: str | None
    fields: dict[str, Any]
    note: str | None
    actor: str | None = Field(
        description="on behalf of whom, as the caller said (free text)"
    )
    recorded_by: RecorderOut = Field(description="who stored it (see RecorderOut)")
    occurred_at: dt.datetime
    recorded_at: dt.datetime | None
    phase_before: str | None
    phase_after: str | None
    voided: bool
    reason: str | None
    voids: str | None
    voided_by: str | None = Field(
        None, description="the action_id of the void that cancelled this entry"
    )
    void_reason: str | None = Field(None, description="that void's reason")
    effect: str


class TimelineOut(Schema):
    deal_id: uuid.UUID
    phase: str | None
    entries: list[TimelineEntryOut]
