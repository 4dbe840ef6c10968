"""Deals: current state (from the event store), manual moves and timelines."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Body, Query, Request, Response, status

from api.auth import recorder_of
from api.convert import answer, deal_out, deal_row_out, every_deal, timeline_out
from api.csv_export import (
    DEAL_COLUMNS,
    TIMELINE_COLUMNS,
    Bom,
    Format,
    SeparatorParam,
    csv_response,
    deal_pages,
    timeline_rows,
    wants_csv,
)
from api.deps import (
    DealId,
    DealReader,
    Projected,
    ReadModels,
    ReportReader,
    Tracker,
    Writer,
)
from api.errors import command_responses, problem_responses
from api.schemas import examples
from api.schemas.actions import ActionOut, MoveIn
from api.schemas.base import Key, Through
from api.schemas.deals import DealOut, DealsPage, TimelineOut
from domain.commands import MoveDeal
from domain.errors import InvalidCommand
from domain.service import PhaseTracker

router = APIRouter(prefix="/v1/deals", tags=["deals"])


@router.get("/{deal_id}", responses=problem_responses(404, 422))
def get_deal(deal_id: DealId, tracker: Tracker, _: DealReader) -> DealOut:
    """A deal's current phase, including every action already answered."""
    return deal_out(tracker.deal(deal_id), tracker.clock())


@router.post(
    "/{deal_id}/moves",
    status_code=status.HTTP_201_CREATED,
    responses=command_responses(404, 409, 413, 422, 503),
)
def move_deal(
    deal_id: DealId,
    body: Annotated[MoveIn, Body(openapi_examples=examples.MOVE)],
    tracker: Tracker,
    principal: Writer,
    response: Response,
) -> ActionOut:
    """Set a deal's phase by hand; its history keeps the move with its reason."""
    who = recorder_of(principal)
    command = MoveDeal(deal_id=deal_id, **body.model_dump(), recorded_by=who)
    return answer(tracker.move(command), response)


@router.get(
    "/{deal_id}/timeline",
    response_model=TimelineOut,
    responses={
        **problem_responses(404, 422),
        200: {
            "content": {"text/csv": {}},
            "description": "The timeline; with `Accept: text/csv` (or "
            "`format=csv`) its entries as a CSV download, who recorded each "
            "in the recorded_by_* columns",
        },
    },
)
def get_timeline(
    request: Request,
    deal_id: DealId,
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
    format: Format = None,  # noqa: A002 - the parameter's name in the URL
    separator: SeparatorParam = ",",
    bom: Bom = False,
) -> Response:
    """Every event in business-time order with the phase before and after it,
    who recorded it (`recorded_by`) and on whose behalf (`actor`)."""
    timeline = timeline_out(tracker.timeline(deal_id, as_of=as_of, known_at=known_at))
    if wants_csv(request.headers.get("accept"), format):
        name = f"timeline-{deal_id}.csv"
        rows = [timeline_rows(timeline)]
        return csv_response(rows, TIMELINE_COLUMNS, name, separator, bom)
    # Rendered here, in the worker thread: returned as a model, it would be
    # validated again on a second thread-pool hop and rendered on the event
    # loop. The same JSON and the same documented schema.
    return Response(timeline.model_dump_json(), media_type="application/json")


@router.get(
    "",
    response_model=DealsPage,
    responses={
        **problem_responses(422, 503),
        200: {
            "content": {"text/csv": {}},
            "description": "A page of deals; with `Accept: text/csv` (or "
            "`format=csv`) every matching deal, as a CSV download",
        },
    },
)
def list_deals(
    request: Request,
    reports: ReadModels,
    tracker: Tracker,
    _: DealReader,
    __: Projected,
    pipeline: Annotated[Key | None, Query(description="only this pipeline's")] = None,
    phase: Annotated[Key | None, Query(description="only deals now in it")] = None,
    contact_id: Annotated[Key | None, Query(description="only this contact's")] = None,
    object_id: Annotated[Key | None, Query(description="only this object's")] = None,
    owner: Annotated[Key | None, Query(description="only this owner's")] = None,
    stale: Annotated[
        bool | None,
        Query(
            description="true: only open deals past their phase's stale "
            "threshold; false: every other deal"
        ),
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=10_000, description="deals in a JSON page")
    ] = 100,
    cursor: Annotated[
        uuid.UUID | None, Query(description="next_cursor of the previous page")
    ] = None,
    format: Format = None,  # noqa: A002 - the parameter's name in the URL
    separator: SeparatorParam = ",",
    bom: Bom = False,
) -> DealsPage | Response:
    """Deals by filter; a page of JSON, or every match as CSV.

    The list may trail a write by a moment: pass `after=<position>` from a
    command's answer to see that write in it.
    """
    if phase is not None:
        check_phase(tracker, pipeline, phase)
    elif pipeline is not None:
        tracker.pipeline(pipeline)
    now = tracker.clock()
    search = partial(
        reports.deals,
        pipeline=pipeline,
        phase=phase,
        contact_id=contact_id,
        object_id=object_id,
        owner=owner,
        stale=stale,
        now=now,
    )

    start = None if cursor is None else str(cursor)
    if wants_csv(request.headers.get("accept"), format):
        name = f"deals-{pipeline or 'all'}-{now.date().isoformat()}.csv"
        rows = deal_pages(every_deal(search, tracker, now, CSV_PAGE, start))
        return csv_response(rows, DEAL_COLUMNS, name, separator, bom)
    page = search(limit=limit, cursor=start)
    return DealsPage(
        data=[deal_row_out(row, tracker, now) for row in page.rows],
        next_cursor=page.next_cursor,
    )


CSV_PAGE = 1_000  # deals a CSV export reads at a time


def check_phase(tracker: PhaseTracker, pipeline: str | None, phase: str) -> None:
    """A filter by a phase no version of the pipeline (or none at all) has
    matches nothing, for ever: refused, as an unknown pipeline is."""
    chosen = (
        tracker.pipeline_versions(pipeline)
        if pipeline is not None
        else [v for p in tracker.pipelines() for v in tracker.pipeline_versions(p.id)]
    )
    if not any(version.has_phase(phase) for version in chosen):
        where = f"pipeline {pipeline}" if pipeline else "any pipeline"
        raise InvalidCommand("phase", f"unknown phase {phase!r} in {where}")
