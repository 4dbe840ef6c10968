"""Deals: current state (from the event store), manual moves and timelines."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from api.convert import answer, deal_out, deal_row_out, timeline_out
from api.deps import DealReader, Projected, ReadModels, ReportReader, Tracker, Writer
from api.errors import command_responses, problem_responses
from api.schemas.actions import ActionOut, MoveIn
from api.schemas.base import Key, Through
from api.schemas.deals import DealOut, DealsPage, TimelineOut
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


@router.get(
    "/{deal_id}/timeline",
    response_model=TimelineOut,
    responses=problem_responses(404, 422),
)
def get_timeline(
    deal_id: uuid.UUID,
    tracker: Tracker,
    _: ReportReader,
    as_of: Annotated[
        Through | None,
        Query(description="replay up to this business time (a date: its end)"),
    ] = None,
    known_at: Annotated[
        Through | None,
        Query(description="only what was recorded by then (a date: its end)"),
    ] = None,
) -> Response:
    """Every event in business-time order with the phase before and after it."""
    timeline = timeline_out(tracker.timeline(deal_id, as_of=as_of, known_at=known_at))
    # Rendered here, in the worker thread: returned as a model, it would be
    # validated again on a second thread-pool hop and rendered on the event
    # loop. The same JSON and the same documented schema.
    return Response(timeline.model_dump_json(), media_type="application/json")


@router.get(
    "",
    response_model=DealsPage,
    responses={
        **problem_responses(422, 503),
        200: {"content": {"text/csv": {}}, "description": "JSON, or CSV on request"},
    },
)
def list_deals(
    request: Request,
    reports: ReadModels,
    tracker: Tracker,
    _: DealReader,
    __: Projected,
    pipeline: Key | None = None,
    phase: Key | None = None,
    contact_id: Key | None = None,
    object_id: Key | None = None,
    owner: Key | None = None,
    stale: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    cursor: Annotated[
        uuid.UUID | None, Query(description="next_cursor of the previous page")
    ] = None,
) -> DealsPage | Response:
    """Deals by filter, from the projection; `Accept: text/csv` gives CSV."""
    if pipeline is not None:
        tracker.pipeline(pipeline)
    page = reports.deals(
        pipeline=pipeline,
        phase=phase,
        contact_id=contact_id,
        object_id=object_id,
        owner=owner,
        stale=stale,
        now=tracker.clock(),
        limit=limit,
        cursor=None if cursor is None else str(cursor),
    )
    body = DealsPage(
        data=[deal_row_out(row) for row in page.rows], next_cursor=page.next_cursor
    )
    if "text/csv" in request.headers.get("accept", ""):
        return deals_csv(body)
    return body


def _cell(value: object) -> object:
    return str(value).lower() if isinstance(value, bool) else value


def deals_csv(page: DealsPage) -> Response:
    """One row per deal; the next page's cursor travels in `X-Next-Cursor`."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(DealOut.model_fields))
    writer.writeheader()
    for deal in page.data:
        row = deal.model_dump(mode="json")
        # Spreadsheets and mail tools expect JSON's spelling, not Python's True.
        writer.writerow({k: _cell(v) for k, v in row.items()})
    headers = {"X-Next-Cursor": page.next_cursor} if page.next_cursor else None
    return Response(out.getvalue(), media_type="text/csv", headers=headers)
