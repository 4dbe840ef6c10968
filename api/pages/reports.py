"""The report pages: funnel (with the weighted forecast), time in stage, stale
deals and lost reasons; the same numbers as their API routes, with the same
filters (a period and an owner), as bookmarkable URLs."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from api.auth import REPORTS, Principal
from api.convert import stale_row_out, time_in_stage_out
from api.deps import ReadModels, Tracker
from api.pages.charts import bars
from api.pages.common import check_period, failed, pipeline_of, query
from api.pages.render import Page, render
from api.pages.session import viewer
from domain.errors import InvalidCommand, PhaselogError
from projections.reports import STALE_CURSOR

if TYPE_CHECKING:
    from collections.abc import Callable

    from domain.pipeline import Pipeline
    from domain.service import PhaseTracker
    from projections.models import DealsPage
    from projections.reports import Reports

router = APIRouter(include_in_schema=False)
Viewer = Annotated[Principal, Depends(viewer(*REPORTS))]
PERIOD = {"since": "since", "until": "until", "owner": "key"}
STALE_PAGE = 100


def _page(
    template: str,
    active: str,
    request: Request,
    pipeline_id: str,
    tracker: PhaseTracker,
    who: Principal,
    answer: Callable[[Pipeline, Page, dict[str, Any]], dict[str, Any]],
    **kinds: str,
) -> HTMLResponse:
    """A report page: its pipeline, its query read and checked, `answer`'s
    context rendered; a failure shown as a page with the API's status."""
    pipeline = None
    try:
        pipeline = pipeline_of(tracker, pipeline_id)
        asked = query(request, **kinds)
        check_period(asked.get("since"), asked.get("until"))
        page = Page(request, who, pipeline, now=tracker.clock())
        context = answer(pipeline, page, asked)
    except PhaselogError as error:
        return failed(request, who, error, pipeline)
    shown = {name: request.query_params.get(name, "") for name in kinds}
    return render(page, template, active=active, asked=shown, **context)


@router.get("/pipelines/{pipeline_id}/funnel", response_class=HTMLResponse)
def funnel(
    request: Request,
    pipeline_id: str,
    tracker: Tracker,
    reports: ReadModels,
    who: Viewer,
) -> HTMLResponse:
    def answer(pipeline: Pipeline, page: Page, asked: dict[str, Any]) -> dict[str, Any]:
        found = reports.funnel(pipeline, **asked)
        chart = bars(
            [(page.phase_label(p.phase), p.passed) for p in found.phases],
            [p.current for p in found.phases],
        )
        return {"funnel": found, "chart": chart}

    return _page(
        "funnel.html", "funnel", request, pipeline_id, tracker, who, answer, **PERIOD
    )


@router.get("/pipelines/{pipeline_id}/time-in-stage", response_class=HTMLResponse)
def time_in_stage(
    request: Request,
    pipeline_id: str,
    tracker: Tracker,
    reports: ReadModels,
    who: Viewer,
) -> HTMLResponse:
    def answer(pipeline: Pipeline, page: Page, asked: dict[str, Any]) -> dict[str, Any]:
        found = reports.time_in_stage(pipeline, now=page.now, **asked)
        return {"stages": time_in_stage_out(found)}

    return _page(
        "time_in_stage.html",
        "time_in_stage",
        request,
        pipeline_id,
        tracker,
        who,
        answer,
        **PERIOD,
    )


@router.get("/pipelines/{pipeline_id}/stale", response_class=HTMLResponse)
def stale(
    request: Request,
    pipeline_id: str,
    tracker: Tracker,
    reports: ReadModels,
    who: Viewer,
) -> HTMLResponse:
    def answer(pipeline: Pipeline, page: Page, asked: dict[str, Any]) -> dict[str, Any]:
        cursor = request.query_params.get("cursor") or None
        found = _stale(reports, pipeline, page, asked["owner"], cursor)
        rows = [stale_row_out(row, tracker, page.now) for row in found.rows]
        return {"rows": rows, "next_cursor": found.next_cursor}

    return _page(
        "stale.html", "stale", request, pipeline_id, tracker, who, answer, owner="key"
    )


def _stale(
    reports: Reports,
    pipeline: Pipeline,
    page: Page,
    owner: str | None,
    cursor: str | None,
) -> DealsPage:
    if cursor is not None and not re.fullmatch(STALE_CURSOR, cursor):
        raise InvalidCommand("cursor", "is not a cursor this report handed out")
    return reports.stale(
        pipeline, now=page.now, owner=owner, limit=STALE_PAGE, cursor=cursor
    )


@router.get("/pipelines/{pipeline_id}/lost-reasons", response_class=HTMLResponse)
def lost_reasons(
    request: Request,
    pipeline_id: str,
    tracker: Tracker,
    reports: ReadModels,
    who: Viewer,
) -> HTMLResponse:
    def answer(pipeline: Pipeline, page: Page, asked: dict[str, Any]) -> dict[str, Any]:
        found = reports.lost_reasons(pipeline, **asked)
        chart = bars(
            [
                (_reason(r.reason) if r.reason else page.t("no_reason"), r.count)
                for r in found.reasons
            ]
        )
        return {"lost": found, "chart": chart, "reason": _reason}

    return _page(
        "lost_reasons.html",
        "lost_reasons",
        request,
        pipeline_id,
        tracker,
        who,
        answer,
        **PERIOD,
    )


def _reason(value: str) -> str:
    """A reason's key as words (`property_issue`: "property issue"); the
    pipelines label their phases and actions, not the values of a field."""
    return value.replace("_", " ")
