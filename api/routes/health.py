"""Liveness and readiness, open to everyone (load balancers carry no keys)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import Tracker
from api.schemas.ops import HealthOut, ReadyOut

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> HealthOut:
    """The process answers."""
    return HealthOut(status="ok")


@router.get(
    "/readyz",
    response_model=ReadyOut,
    responses={503: {"model": ReadyOut, "description": "Not ready"}},
)
def readyz(request: Request, tracker: Tracker) -> ReadyOut | JSONResponse:
    """The database answers and the projector runs."""
    try:
        tracker.recorder.max_notification_id()
        request.app.state.projector.status()
        database = True
    except Exception:  # any failure to reach the database means not ready
        database = False
    running = bool(request.app.state.projector.running)
    body = ReadyOut(
        status="ready" if database and running else "not ready",
        database=database,
        projector=running,
    )
    if body.status != "ready":
        return JSONResponse(body.model_dump(), status_code=503)
    return body
