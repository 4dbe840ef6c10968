"""Pipeline definitions, with every version ever registered."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import DealReader, PipelineId, Tracker
from api.errors import PipelineNotFound, problem_responses
from api.schemas.ops import PipelineOut, PipelinesOut, PipelineSummary
from domain.errors import UnknownPipeline

router = APIRouter(prefix="/v1/pipelines", tags=["pipelines"])


@router.get("", responses=problem_responses())
def list_pipelines(tracker: Tracker, _: DealReader) -> PipelinesOut:
    """The latest version of every pipeline, with its phase and action keys."""
    latest = {p.id: p for p in tracker.registered_pipelines()}
    latest.update((p.id, p) for p in tracker.pipelines())  # what this one uses
    return PipelinesOut(
        data=[
            PipelineSummary(
                id=p.id,
                version=p.version,
                label=p.label,
                phases=[phase.key for phase in p.phases],
                actions=[action.key for action in p.actions],
            )
            for _, p in sorted(latest.items())
        ]
    )


@router.get("/{pipeline_id}", responses=problem_responses(404))
def get_pipeline(
    pipeline_id: PipelineId, tracker: Tracker, _: DealReader
) -> PipelineOut:
    """A pipeline's latest definition and all of its versions."""
    try:
        versions = tracker.pipeline_versions(pipeline_id)
    except UnknownPipeline:
        raise PipelineNotFound(pipeline_id) from None
    latest = versions[-1]
    return PipelineOut(
        id=latest.id, version=latest.version, definition=latest, versions=versions
    )
