"""Pipelines, projections and health."""

from __future__ import annotations

from api.schemas.base import Schema
from domain.pipeline import Pipeline


class PipelineSummary(Schema):
    id: str
    version: int
    label: dict[str, str]
    phases: list[str]
    actions: list[str]


class PipelinesOut(Schema):
    data: list[PipelineSummary]


class PipelineOut(Schema):
    """The latest definition and every version ever registered."""

    id: str
    version: int
    definition: Pipeline
    versions: list[Pipeline]


class ProjectionOut(Schema):
    name: str
    position: int
    head: int
    lag: int
    generation: int
    rebuilding: bool
    rebuild_progress: float | None


class ProjectionsOut(Schema):
    data: list[ProjectionOut]


class HealthOut(Schema):
    status: str


class ReadyOut(Schema):
    status: str
    database: bool
    projector: bool
