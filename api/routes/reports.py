"""Funnel, time-in-stage, stale deals and lost reasons, from the projections.

Every report takes `after=<position>` (from a command's answer): it waits, bounded
by PHASELOG_REPORT_WAIT_SECONDS, until the projections include that position, else
answers 503 so the client may retry. Stale deals come a page at a time, longest
stale first, like the deal list (`limit`, then `cursor=<next_cursor>`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.convert import stale_row_out, time_in_stage_out
from api.deps import Projected, ReadModels, ReportReader, Tracker
from api.errors import problem_responses
from api.schemas.base import Key, Since, Until
from api.schemas.reports import FunnelOut, LostReasonsOut, StaleOut, TimeInStageOut
from domain.errors import InvalidCommand
from domain.pipeline import Pipeline
from projections.reports import STALE_CURSOR

router = APIRouter(
    prefix="/v1/reports",
    tags=["reports"],
    responses=problem_responses(422, 503),
)

Owner = Annotated[Key | None, Query(description="only this owner's deals")]


def report_pipeline(
    pipeline: Annotated[Key, Query(description="a pipeline id")],
    tracker: Tracker,
    _: ReportReader,
    __: Projected,
) -> Pipeline:
    """The pipeline asked for, once the caller may read it and `after` is met."""
    return tracker.pipeline(pipeline)


@dataclass(frozen=True)
class Period:
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    owner: str | None = None


def period(
    since: Annotated[
        Since | None, Query(description="period start (a date: its start)")
    ] = None,
    until: Annotated[
        Until | None,
        Query(description="period end, not included (a date: included whole)"),
    ] = None,
    owner: Owner = None,
) -> Period:
    if since is not None and until is not None and until <= since:
        raise InvalidCommand("until", "must come after since: the period is empty")
    return Period(since, until, owner)


Selected = Annotated[Pipeline, Depends(report_pipeline)]
Filters = Annotated[Period, Depends(period)]


@router.get("/funnel")
def funnel(pipeline: Selected, filters: Filters, reports: ReadModels) -> FunnelOut:
    """Per phase: deals now in it, that reached it, that passed it; win rate."""
    found = reports.funnel(pipeline, **asdict(filters))
    return FunnelOut.model_validate(asdict(found))


@router.get("/time-in-stage")
def time_in_stage(
    pipeline: Selected, filters: Filters, reports: ReadModels, tracker: Tracker
) -> TimeInStageOut:
    """Per phase: count, mean, median, p90 of completed stays; age of current ones."""
    found = reports.time_in_stage(pipeline, now=tracker.clock(), **asdict(filters))
    return time_in_stage_out(found)


@router.get("/stale")
def stale(
    pipeline: Selected,
    reports: ReadModels,
    tracker: Tracker,
    owner: Owner = None,
    limit: Annotated[int, Query(ge=1, le=10_000, description="deals in a page")] = 100,
    cursor: Annotated[
        str | None,
        Query(pattern=STALE_CURSOR, description="next_cursor of the previous page"),
    ] = None,
) -> StaleOut:
    """Open deals past their phase's stale threshold, longest stale first, paged."""
    now = tracker.clock()
    page = reports.stale(pipeline, now=now, owner=owner, limit=limit, cursor=cursor)
    return StaleOut(
        pipeline=pipeline.id,
        data=[stale_row_out(row, tracker, now) for row in page.rows],
        next_cursor=page.next_cursor,
    )


@router.get("/lost-reasons")
def lost_reasons(
    pipeline: Selected, filters: Filters, reports: ReadModels
) -> LostReasonsOut:
    """How many deals were lost for each reason, and for each detail it asks for."""
    found = reports.lost_reasons(pipeline, **asdict(filters))
    return LostReasonsOut.model_validate(asdict(found))
