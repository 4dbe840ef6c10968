"""The projections' progress, and rebuilding them from the log."""

from __future__ import annotations

import threading

from fastapi import APIRouter, HTTPException, Request, status

from api.convert import projection_out
from api.deps import Admin, ReportReader, Runner
from api.errors import problem_responses
from api.schemas.ops import ProjectionOut, ProjectionsOut

router = APIRouter(prefix="/v1/projections", tags=["projections"])


@router.get("", responses=problem_responses())
def list_projections(projector: Runner, _: ReportReader) -> ProjectionsOut:
    """How far the read models (deal list, reports) are behind the history:
    each one's position, the log's head and the lag between them."""
    return ProjectionsOut(data=[projection_out(projector.status())])


@router.post(
    "/rebuild",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(409),
)
def rebuild(request: Request, projector: Runner, _: Admin) -> ProjectionOut:
    """Rebuild the read models from the whole history, in the background;
    the deal list and reports answer from the current ones until it is done."""
    running: threading.Thread | None = request.app.state.rebuild
    if running is not None and running.is_alive():
        raise HTTPException(409, "a rebuild is already running")
    thread = threading.Thread(target=projector.rebuild, name="rebuild", daemon=True)
    request.app.state.rebuild = thread
    thread.start()
    return projection_out(projector.status())
