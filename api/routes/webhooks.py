"""Webhook subscriptions (admin only): made, listed, paused, rotated, deleted;
each one's delivery log, and deliveries sent again."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated

import orjson
from fastapi import (
    APIRouter,
    Body,
    HTTPException,
    Path,
    Query,
    Request,
    Response,
    status,
)

from api.deps import Admin, Hooks
from api.errors import problem_responses
from api.schemas import examples
from api.schemas.webhooks import (
    AttemptOut,
    DeliveriesPage,
    DeliveryOut,
    Redelivered,
    RedeliverIn,
    WebhookCreated,
    WebhookIn,
    WebhookOut,
    WebhooksOut,
)
from api.webhooks.admin import WebhookAdmin, WebhookNotFound
from projections.webhooks.outbox import Delivery
from projections.webhooks.subscriptions import Subscription

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
WebhookId = Annotated[
    str, Path(description="the subscription's id (`wh_...`), as created")
]
DeliveryId = Annotated[
    int, Path(description="a delivery's `id` in the subscription's delivery log")
]


def admin_of(request: Request) -> WebhookAdmin:
    return WebhookAdmin(request.app.state.tracker, request.app.state.settings)


@contextlib.contextmanager
def found() -> Iterator[None]:
    try:
        yield
    except WebhookNotFound as error:
        raise HTTPException(404, str(error)) from None


def webhook_out(s: Subscription) -> WebhookOut:
    return WebhookOut(
        id=s.id,
        url=s.url,
        pipelines=list(s.filter.pipelines),
        phases=list(s.filter.phases),
        kinds=list(s.filter.kinds),
        status=s.status,
        reason=s.reason,
        old_secret_until=s.old_secret_until if s.old_secret else None,
        created_at=s.created_at,
        updated_at=s.updated_at,
    )


def created_out(s: Subscription) -> WebhookCreated:
    return WebhookCreated(**webhook_out(s).model_dump(), secret=s.secret)


def delivery_out(d: Delivery) -> DeliveryOut:
    return DeliveryOut(
        id=d.id,
        webhook_id=d.message_id,
        deal_id=d.deal_id,
        position=d.position,
        status=d.status,
        attempts=d.attempts,
        next_attempt_at=d.next_attempt_at if d.status == "pending" else None,
        last_attempt_at=d.last_attempt_at,
        response_code=d.response_code,
        error=d.error,
        created_at=d.created_at,
        finished_at=d.finished_at,
        event=orjson.loads(d.body),
        tries=[AttemptOut(**a.__dict__) for a in d.tries],
    )


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(422))
def create_webhook(
    body: Annotated[WebhookIn, Body(openapi_examples=examples.WEBHOOK)],
    request: Request,
    _: Admin,
) -> WebhookCreated:
    """Subscribe a URL to phase-entered events; the answer shows its secret."""
    made = admin_of(request).create(body.url, body.pipelines, body.phases, body.kinds)
    return created_out(made)


@router.get("", responses=problem_responses())
def list_webhooks(request: Request, _: Admin) -> WebhooksOut:
    """Every subscription, its filter and status (no secrets)."""
    return WebhooksOut(data=[webhook_out(s) for s in admin_of(request).all()])


@router.get("/{webhook_id}", responses=problem_responses(404))
def show_webhook(webhook_id: WebhookId, request: Request, _: Admin) -> WebhookOut:
    """One subscription."""
    with found():
        return webhook_out(admin_of(request).get(webhook_id))


@router.post("/{webhook_id}/pause", responses=problem_responses(404))
def pause_webhook(webhook_id: WebhookId, request: Request, _: Admin) -> WebhookOut:
    """Hold deliveries: events are still recorded, and sent once resumed."""
    with found():
        return webhook_out(admin_of(request).set_status(webhook_id, "paused"))


@router.post("/{webhook_id}/resume", responses=problem_responses(404))
def resume_webhook(
    webhook_id: WebhookId, request: Request, hooks: Hooks, _: Admin
) -> WebhookOut:
    """Send again (a paused or disabled subscription), what is pending first."""
    with found():
        resumed = admin_of(request).set_status(webhook_id, "active")
    hooks.hurry()
    return webhook_out(resumed)


@router.delete(
    "/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404),
)
def delete_webhook(webhook_id: WebhookId, request: Request, _: Admin) -> Response:
    """Remove a subscription and its delivery log."""
    with found():
        admin_of(request).delete(webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{webhook_id}/rotate-secret", responses=problem_responses(404))
def rotate_secret(webhook_id: WebhookId, request: Request, _: Admin) -> WebhookCreated:
    """A new secret; for 24 hours deliveries are signed with the old one too."""
    with found():
        return created_out(admin_of(request).rotate(webhook_id))


@router.get("/{webhook_id}/deliveries", responses=problem_responses(404))
def list_deliveries(
    webhook_id: WebhookId,
    request: Request,
    _: Admin,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$")] = None,
) -> DeliveriesPage:
    """The delivery log: each event, its attempts, status, answer and times."""
    after = int(cursor) if cursor else 0
    with found():
        page = admin_of(request).deliveries(webhook_id, after, limit + 1)
    more = len(page) > limit
    page = page[:limit]
    return DeliveriesPage(
        data=[delivery_out(d) for d in page],
        next_cursor=str(page[-1].id) if more else None,
    )


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    responses=problem_responses(404),
)
def redeliver_one(
    webhook_id: WebhookId,
    delivery_id: DeliveryId,
    request: Request,
    hooks: Hooks,
    _: Admin,
) -> DeliveryOut:
    """Send one delivery again (same webhook-id), its attempts afresh."""
    with found():
        again = admin_of(request).redeliver(webhook_id, delivery_id)
    hooks.hurry()
    return delivery_out(again)


@router.post("/{webhook_id}/redeliver", responses=problem_responses(404, 422))
def redeliver_after(
    webhook_id: WebhookId,
    body: Annotated[RedeliverIn, Body(openapi_examples=examples.REDELIVER)],
    request: Request,
    hooks: Hooks,
    _: Admin,
) -> Redelivered:
    """Send again every delivery of events after a log position."""
    with found():
        count = admin_of(request).redeliver_after(webhook_id, body.after)
    hooks.hurry()
    return Redelivered(redelivered=count)
