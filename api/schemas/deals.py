"""A deal's current state, lists of deals and a deal's timeline."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from api.schemas.base import Schema


class DealOut(Schema):
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
    stale: bool


class DealsPage(Schema):
    data: list[DealOut]
    next_cursor: str | None


class TimelineEntryOut(Schema):
    """One event and what it did; `voided` entries stay but have no effect."""

    action_id: str
    kind: str
    type: str | None
    outcome: str | None
    fields: dict[str, Any]
    note: str | None
    actor: str | None
    occurred_at: dt.datetime
    recorded_at: dt.datetime | None
    phase_before: str | None
    phase_after: str | None
    voided: bool
    reason: str | None
    voids: str | None
    effect: str


class TimelineOut(Schema):
    deal_id: uuid.UUID
    phase: str | None
    entries: list[TimelineEntryOut]
