"""Logging actions, batches of them, manual moves and voids."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import Field

from api.schemas.base import (
    FIELDS_DESCRIPTION,
    Actor,
    BusinessTime,
    Fields,
    Key,
    Note,
    Reason,
    Schema,
)
from api.schemas.problem import Problem


class ActionIn(Schema):
    """One history action on a deal, found (or opened) by its natural keys."""

    action_id: Key | None = Field(default=None, description="idempotency key")
    pipeline: Key
    contact_id: Key
    object_id: Key | None = None
    type: Key
    occurred_at: BusinessTime | None = Field(
        default=None,
        description="business time, with a timezone, from 1900 to one day ahead; "
        "defaults to now",
    )
    outcome: Key | None = None
    fields: Fields = Field(default={}, description=FIELDS_DESCRIPTION)
    actor: Actor | None = Field(default=None, description="on whose behalf")
    note: Note | None = None


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
    reason: Reason | None = None
    fields: Fields = Field(default={}, description=FIELDS_DESCRIPTION)
    actor: Actor | None = None
    occurred_at: BusinessTime | None = None
    action_id: Key | None = None


class VoidIn(Schema):
    reason: Annotated[Reason, Field(min_length=1)]
    actor: Actor | None = None
