"""What routes depend on, as `Annotated` aliases: service, runner, caller.

The accessors are `async def` on purpose: FastAPI runs a plain `def` dependency in
its thread pool, a thread hop per dependency per request for a dictionary lookup.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from api.auth import ADMIN, AUDIT, READ_DEALS, REPORTS, WRITE, Principal, allow
from api.errors import NotYetProjected
from api.settings import Settings
from api.webhooks.running import Webhooks
from domain.errors import InvalidCommand
from domain.service import PhaseTracker
from projections.reports import Reports
from projections.runner import Projector
from storage.eventstore import event_store

if TYPE_CHECKING:
    from api.waiting import ProjectionWaits


async def get_tracker(request: Request) -> PhaseTracker:
    tracker: PhaseTracker = request.app.state.tracker
    return tracker


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


Tracker = Annotated[PhaseTracker, Depends(get_tracker)]
AppSettings = Annotated[Settings, Depends(get_settings)]

Writer = Annotated[Principal, allow(*WRITE)]
DealReader = Annotated[Principal, allow(*READ_DEALS)]
ReportReader = Annotated[Principal, allow(*REPORTS)]
Admin = Annotated[Principal, allow(*ADMIN)]
Auditor = Annotated[Principal, allow(*AUDIT)]


async def get_projector(request: Request) -> Projector:
    projector: Projector = request.app.state.projector
    return projector


async def get_reports(request: Request) -> Reports:
    reports: Reports = request.app.state.reports
    return reports


async def wait_after(
    request: Request,
    settings: AppSettings,
    after: Annotated[
        int | None,
        Query(
            ge=0,
            description="answer once the read models include this position "
            "(the `position` of a command's answer), so the answer shows that "
            "write; 503 if they do not in time",
        ),
    ] = None,
) -> None:
    """Read-your-writes for projections: wait (bounded) until `after` is folded in.

    A position beyond the log's head is refused at once: no write will ever
    make it true, and waiting for it only holds the caller.
    """
    if after is None:
        return
    waits: ProjectionWaits = request.app.state.waits
    if waits.projector.known < after:
        recorder = event_store(request.app.state.tracker).recorder
        head = await run_in_threadpool(recorder.max_notification_id) or 0
        if after > head:
            raise InvalidCommand(
                "after", f"position {after} is beyond the log's head ({head})"
            )
    if not await waits.until(after, settings.report_wait_seconds):
        raise NotYetProjected(after, settings.report_wait_seconds)


DealId = Annotated[
    uuid.UUID,
    Path(
        description="the deal's id: `deal_id` in the answer to any action on the "
        "deal, or in the deal list"
    ),
]
PipelineId = Annotated[
    str, Path(description="a pipeline's id (`nl-tesoro`), as GET /v1/pipelines lists")
]

Runner = Annotated[Projector, Depends(get_projector)]
ReadModels = Annotated[Reports, Depends(get_reports)]
Projected = Annotated[None, Depends(wait_after)]


async def get_webhooks(request: Request) -> Webhooks:
    webhooks: Webhooks = request.app.state.webhooks
    return webhooks


Hooks = Annotated[Webhooks, Depends(get_webhooks)]
