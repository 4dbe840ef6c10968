"""What routes depend on, as `Annotated` aliases: service, runner, caller.

The accessors are `async def` on purpose: FastAPI runs a plain `def` dependency in
its thread pool, a thread hop per dependency per request for a dictionary lookup.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from api.auth import ADMIN, READ_DEALS, REPORTS, WRITE, Principal, allow
from api.errors import NotYetProjected
from api.settings import Settings
from domain.application import PhaseTracker
from projections.reports import Reports
from projections.runner import Projector


async def get_tracker(request: Request) -> PhaseTracker:
    tracker: PhaseTracker = request.app.state.tracker
    return tracker


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


Tracker = Annotated[PhaseTracker, Depends(get_tracker)]
AppSettings = Annotated[Settings, Depends(get_settings)]

Writer = Annotated[Principal, Depends(allow(*WRITE))]
DealReader = Annotated[Principal, Depends(allow(*READ_DEALS))]
ReportReader = Annotated[Principal, Depends(allow(*REPORTS))]
Admin = Annotated[Principal, Depends(allow(*ADMIN))]


async def get_projector(request: Request) -> Projector:
    projector: Projector = request.app.state.projector
    return projector


async def get_reports(request: Request) -> Reports:
    reports: Reports = request.app.state.reports
    return reports


def wait_after(
    projector: Annotated[Projector, Depends(get_projector)],
    settings: AppSettings,
    after: Annotated[
        int | None,
        Query(ge=0, description="answer once the projections include this position"),
    ] = None,
) -> None:
    """Read-your-writes for projections: wait (bounded) until `after` is folded in."""
    if after is not None and not projector.wait_for(
        after, settings.report_wait_seconds
    ):
        raise NotYetProjected(after, settings.report_wait_seconds)


Runner = Annotated[Projector, Depends(get_projector)]
ReadModels = Annotated[Reports, Depends(get_reports)]
Projected = Annotated[None, Depends(wait_after)]
