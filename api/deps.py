"""What routes depend on, as `Annotated` aliases: service, runner, caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.auth import ADMIN, AUDIT, READ_DEALS, WRITE, Principal, allow
from api.settings import Settings
from domain.application import PhaseTracker


def get_tracker(request: Request) -> PhaseTracker:
    tracker: PhaseTracker = request.app.state.tracker
    return tracker


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


Tracker = Annotated[PhaseTracker, Depends(get_tracker)]
AppSettings = Annotated[Settings, Depends(get_settings)]

Writer = Annotated[Principal, Depends(allow(*WRITE))]
DealReader = Annotated[Principal, Depends(allow(*READ_DEALS))]
Auditor = Annotated[Principal, Depends(allow(*AUDIT))]
Admin = Annotated[Principal, Depends(allow(*ADMIN))]
