"""Liveness and readiness, open to everyone (load balancers carry no keys)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.convert import projection_out
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
def readyz(request: Request) -> ReadyOut | JSONResponse:
    """Ready to serve: the database answers and the read models keep up with
    the history; 503 with what is wrong otherwise."""
    projector = request.app.state.projector
    try:
        status = projection_out(projector.status())
    except Exception:  # any failure to reach the database means not ready
        status = None
    running = bool(projector.running)
    ready = status is not None and running and status.failure is None
    body = ReadyOut(
        status="ready" if ready else "not ready",
        database=status is not None,
        projector=running,
        projection=status,
    )
    if not ready:
        return JSONResponse(body.model_dump(mode="json"), status_code=503)
    return body
