"""Logging history actions, one or many, and voiding them."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Body, Path, Request, Response, status
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from api.auth import WRITE, allow, authorize, recorder_of
from api.convert import action_out, answer, batch_out, log_action
from api.deps import Tracker, Writer
from api.errors import command_responses, problem_responses
from api.raw_body import json_body, request_body
from api.schemas import examples
from api.schemas.actions import (
    ActionIn,
    ActionOut,
    BatchIn,
    BatchOut,
    VoidIn,
)
from domain.commands import LogAction, Result, VoidAction
from domain.service import PhaseTracker

router = APIRouter(prefix="/v1/actions", tags=["actions"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ActionOut,
    responses=command_responses(409, 413, 422, 503),
    openapi_extra=request_body(ActionIn, examples.ACTION),
    # Documents the key `post_action` checks itself (this route never runs
    # it: FAST_ROUTES answers first).
    dependencies=[allow(*WRITE)],
)
async def post_action(request: Request) -> Response:
    """Log one action; the deal is found, or opened, by its natural keys.

    The natural keys name the contact's latest sales process for the object in
    the pipeline. If that deal is won or lost, an action that would open a deal
    of its own (another inquiry) opens the next process, a new deal; a rule
    the pipeline has from the closed phase, a late note, or a time before the
    close stay the closed deal's history. A back-dated action re-derives the
    later steps, checked as if typed in order (422), and opens or withdraws
    chained deals as the derivation says (409 if a withdrawn one has activity
    of its own). Sent again with the same `action_id`, it answers 200 with the
    original answer.
    """
    principal = await authorize(request, WRITE)
    body = await json_body(request, ActionIn)
    command = log_action(body, recorder_of(principal))
    result = await logged(request.app.state.tracker, command)
    return Response(
        action_out(result).model_dump_json(),
        status_code=status.HTTP_200_OK if result.replayed else status.HTTP_201_CREATED,
        media_type="application/json",
    )


# The hottest route: a Starlette route in front of this router's, which
# documents it in the OpenAPI. It skips FastAPI's per-request machinery (its
# route contexts, dependency solving, response validation): the body validated
# straight from its bytes, the answer serialized once. Under the app's one
# middleware stack and exception handlers: in process, 87 -> 55 us of the app's
# CPU a request; on the bench, PostgreSQL online logging at 64 clients was
# 18-27 % lower without it (bench/HISTORY.md).
FAST_ROUTES = [Route(router.prefix, post_action, methods=["POST"])]


async def logged(tracker: PhaseTracker, command: LogAction) -> Result:
    """The request waits on the event loop for its group commit, so concurrent
    requests cost no thread each; without group commit, a worker thread."""
    if tracker.group_commit is None:
        return await run_in_threadpool(tracker.log_one, command)
    return await asyncio.wrap_future(tracker.group_commit.enqueue(command))


@router.post(":batch", responses=problem_responses(413, 422))
def post_batch(
    body: Annotated[BatchIn, Body(openapi_examples=examples.BATCH)],
    tracker: Tracker,
    principal: Writer,
) -> BatchOut:
    """Log many actions; each deal's actions are all stored or none is."""
    who = recorder_of(principal)
    return batch_out(tracker.log_actions([log_action(a, who) for a in body.actions]))


@router.post(
    # `:path`: an action id may hold a slash (a CRM's `crm/123`), sent as is
    # or as %2F (which the server decodes before routing).
    "/{action_id:path}/void",
    status_code=status.HTTP_201_CREATED,
    responses=command_responses(404, 409, 422, 503),
)
def void_action(
    action_id: Annotated[str, Path(description="the action's id, as logged")],
    body: Annotated[VoidIn, Body(openapi_examples=examples.VOID)],
    tracker: Tracker,
    principal: Writer,
    response: Response,
) -> ActionOut:
    """Mark an earlier action void; it stays in the history without effect.

    The deal's later steps are derived again and checked as if the history had
    been typed without the action: a 422 names a phase that would be entered
    without its required fields. If the action's step opened a deal in another
    pipeline (a chain), that deal's opening action is voided too, its reason
    naming this deal; a 409 if that deal has had activity of its own since. A
    deal so withdrawn has no phase and no report counts it.
    """
    command = VoidAction(
        action_id=action_id,
        reason=body.reason,
        actor=body.actor,
        recorded_by=recorder_of(principal),
    )
    return answer(tracker.void(command), response)
