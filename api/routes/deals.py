"""Deals: current state (from the event store), manual moves and timelines."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status
from pydantic import AwareDatetime

from api.convert import answer, deal_out, timeline_out
from api.deps import Auditor, DealReader, Tracker, Writer
from api.errors import command_responses, problem_responses
from api.schemas.actions import ActionOut, MoveIn
from api.schemas.deals import DealOut, TimelineOut
from domain.commands import MoveDeal

router = APIRouter(prefix="/v1/deals", tags=["deals"])


@router.get("/{deal_id}", responses=problem_responses(404, 422))
def get_deal(deal_id: uuid.UUID, tracker: Tracker, _: DealReader) -> DealOut:
    """A deal's current phase, read from the event store (read-your-writes)."""
    return deal_out(tracker.deal(deal_id))


@router.post(
    "/{deal_id}/moves",
    status_code=status.HTTP_201_CREATED,
    responses=command_responses(404, 409, 413, 422, 503),
)
def move_deal(
    deal_id: uuid.UUID, body: MoveIn, tracker: Tracker, _: Writer, response: Response
) -> ActionOut:
    """Set a deal's phase by hand; the move is an event with its reason."""
    command = MoveDeal(deal_id=deal_id, **body.model_dump())
    return answer(tracker.move(command), response)


@router.get("/{deal_id}/timeline", responses=problem_responses(404, 422))
def get_timeline(
    deal_id: uuid.UUID,
    tracker: Tracker,
    _: Auditor,
    as_of: AwareDatetime | None = None,
    known_at: AwareDatetime | None = None,
) -> TimelineOut:
    """Every event in business-time order with the phase before and after it."""
    return timeline_out(tracker.timeline(deal_id, as_of=as_of, known_at=known_at))
