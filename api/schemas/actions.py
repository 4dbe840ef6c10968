"""Logging actions, batches of them, manual moves and voids."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

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
    fields: Fields = Field(
        default={},
        description=FIELDS_DESCRIPTION
        + "; `skip_reason` says why an action moves the deal past phases, where "
        "its pipeline's `action_skip_policy` is `reason` (else 422 naming "
        "`fields.skip_reason`)",
    )
    actor: Actor | None = Field(default=None, description="on whose behalf")
    note: Note | None = None


Effect = Literal[
    "moved",
    "resumed",
    "kept_by_rule",
    "no_matching_rule",
    "terminal_phase",
    "forward_only",
    "already_in_phase",
    "nothing_to_resume",
    "activity_since",
    "void",
    "voided",
]
EFFECT = (
    "what the entry did, as the timeline says it: `moved` (into `phase`), "
    "`resumed` (back to the phase held before a pause); stored but the phase "
    "kept: `kept_by_rule` (a rule that records without moving, e.g. postponed), "
    "`no_matching_rule`, `terminal_phase` (the deal is won or lost), "
    "`forward_only` (the pipeline never moves back by itself), "
    "`already_in_phase`, `nothing_to_resume`, `activity_since` (an expiry that "
    "activity made void); `void` for a void itself"
)


class ActionOut(Schema):
    """What a command did; `position` is the value to pass as `after=` to reports.

    A 201 is a new entry stored, whether or not it moved the deal: `effect` says
    which (a refusal on a signed deal is stored and `terminal_phase`).
    """

    deal_id: uuid.UUID
    action_id: str
    phase: str | None
    previous_phase: str | None
    position: int
    effect: Effect = Field(description=EFFECT)


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
