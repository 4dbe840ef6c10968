"""Logging actions, batches of them, manual moves and voids."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import AwareDatetime, Field

from api.schemas.base import Key, Schema
from api.schemas.problem import Problem


class ActionIn(Schema):
    """One history action on a deal, found (or opened) by its natural keys."""

    action_id: Key | None = Field(default=None, description="idempotency key")
    pipeline: Key
    contact_id: Key
    object_id: Key | None = None
    type: Key
    occurred_at: AwareDatetime | None = Field(
        default=None, description="business time, tz-aware; defaults to now"
    )
    outcome: str | None = None
    fields: dict[str, Any] = {}
    actor: str | None = None
    note: str | None = None


class ActionOut(Schema):
    """What a command did; `position` is the value to pass as `after=` to reports."""

    deal_id: uuid.UUID
    action_id: str
    phase: str | None
    previous_phase: str | None
    position: int


class BatchIn(Schema):
    actions: list[ActionIn] = Field(min_length=1, max_length=10_000)


class BatchItemOut(Schema):
    """One action's fate: `status` as if it had been posted alone."""

    index: int
    status: int
    result: ActionOut | None = None
    problem: Problem | None = None


class BatchOut(Schema):
    """Per-item results; a deal's actions are all stored or none of them is."""

    accepted: int
    rejected: int
    results: list[BatchItemOut]


class MoveIn(Schema):
    phase: Key
    reason: str | None = None
    fields: dict[str, Any] = {}
    actor: str | None = None
    occurred_at: AwareDatetime | None = None
    action_id: Key | None = None


class VoidIn(Schema):
    reason: Key
    actor: str | None = None
