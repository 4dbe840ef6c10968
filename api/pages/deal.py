"""A deal's page: a phase stepper with the time spent in each phase, and its
timeline (business time and recording time, who recorded each entry and on
whose behalf, what it did, voids linked to what they void), replayed as of a
business time and as known at a recording time when asked."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from api.auth import REPORTS, Principal
from api.convert import timeline_out
from api.deps import Tracker
from api.pages.common import PageNotFound, failed, query
from api.pages.render import Page, render
from api.pages.session import viewer
from domain.errors import DealNotFound, PhaselogError

if TYPE_CHECKING:
    from domain.history import DealState
    from domain.pipeline import Pipeline

router = APIRouter(include_in_schema=False)
# The timeline is a report's (as `GET /v1/deals/{id}/timeline`).
Viewer = Annotated[Principal, Depends(viewer(*REPORTS))]


@dataclass(frozen=True)
class Stage:
    key: str
    kind: str
    state: str  # done, current, skipped or ahead
    days: float | None  # time spent in it, all stays together


@router.get("/deals/{deal_id}", response_class=HTMLResponse)
def deal_page(
    request: Request, deal_id: str, tracker: Tracker, who: Viewer
) -> HTMLResponse:
    pipeline = None
    try:
        try:
            found = uuid.UUID(deal_id)
        except ValueError:
            raise PageNotFound(f"no deal {deal_id!r}: not a deal id") from None
        asked = query(request, as_of="through", known_at="through")
        try:
            timeline = tracker.timeline(found, **asked)
        except DealNotFound as missing:
            raise PageNotFound(str(missing)) from None
        deal = timeline.deal
        pipeline = tracker.pipeline(deal.pipeline, deal.pipeline_version)
        page = Page(request, who, pipeline, now=tracker.clock())
    except PhaselogError as error:
        return failed(request, who, error, pipeline)
    end = min(asked["as_of"] or page.now, page.now)
    entries = timeline_out(timeline).entries
    return render(
        page,
        "deal.html",
        deal=deal,
        state=timeline.state,
        stages=stages(pipeline, timeline.state, end),
        entries=entries,
        asked={k: request.query_params.get(k, "") for k in asked},
        replayed=any(asked.values()),
        as_of=asked["as_of"],
        known_at=asked["known_at"],
    )


def stages(pipeline: Pipeline, state: DealState, end: dt.datetime) -> list[Stage]:
    """The pipeline's open phases in order, then the paused or closed phase the
    deal is in (or, while it is open, the won phase it aims at)."""
    spent: dict[str, float] = {}
    for interval in state.intervals:
        until = interval.exited_at or end
        seconds = max((until - interval.entered_at).total_seconds(), 0.0)
        spent[interval.phase] = spent.get(interval.phase, 0.0) + seconds
    shown = [p for p in pipeline.phases if p.kind == "open"]
    if state.phase is not None and pipeline.phase(state.phase).kind != "open":
        shown.append(pipeline.phase(state.phase))
    else:
        shown += [p for p in pipeline.phases if p.kind == "won"][:1]
    now_at = next((i for i, p in enumerate(shown) if p.key == state.phase), -1)
    made = []
    for index, phase in enumerate(shown):
        if phase.key == state.phase:
            status = "current"
        elif phase.key in spent:
            status = "done"
        elif index < now_at:
            status = "skipped"
        else:
            status = "ahead"
        days = spent.get(phase.key)
        made.append(
            Stage(phase.key, phase.kind, status, None if days is None else days / 86400)
        )
    return made
