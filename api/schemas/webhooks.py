"""Webhook subscriptions and their delivery log, as the API shows them."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from api.schemas.base import Schema

# A pipeline id or phase key in a filter (stored comma-joined: never a comma).
FilterKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,100}$")]
Kind = Literal["open", "won", "lost", "paused"]


class WebhookIn(Schema):
    url: str = Field(max_length=2000, examples=["https://crm.example.com/hooks"])
    pipelines: list[FilterKey] = Field(default=[], max_length=100)
    phases: list[FilterKey] = Field(default=[], max_length=100)
    kinds: list[Kind] = Field(default=[], max_length=4)


class WebhookOut(Schema):
    id: str
    url: str
    pipelines: list[str]
    phases: list[str]
    kinds: list[str]
    status: Literal["active", "paused", "disabled"]
    reason: str | None = None  # why it is disabled
    # While the secret rotated out still signs beside the new one.
    old_secret_until: dt.datetime | None = None
    created_at: dt.datetime
    updated_at: dt.datetime


class WebhookCreated(WebhookOut):
    secret: str  # shown once: at creation and at each rotation


class WebhooksOut(Schema):
    data: list[WebhookOut]


class AttemptOut(Schema):
    n: int
    at: dt.datetime
    seconds: float
    response_code: int | None
    error: str | None


class DeliveryOut(Schema):
    id: int
    webhook_id: str  # the `webhook-id` header: the same on every attempt
    deal_id: str
    position: int
    status: Literal["pending", "delivered", "failed"]
    attempts: int  # in this round (a redelivery starts a new one)
    next_attempt_at: dt.datetime | None
    last_attempt_at: dt.datetime | None
    response_code: int | None
    error: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None
    event: dict[str, Any]
    tries: list[AttemptOut]


class DeliveriesPage(Schema):
    data: list[DeliveryOut]
    next_cursor: str | None


class RedeliverIn(Schema):
    after: int = Field(ge=0, description="every delivery after this log position")


class Redelivered(Schema):
    redelivered: int
