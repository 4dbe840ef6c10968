"""Pipelines, projections and health."""

from __future__ import annotations

import datetime as dt
import uuid

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


class FailureOut(Schema):
    """Where a projection stands still and why; the deal when one is at fault."""

    position: int
    deal_id: uuid.UUID | None
    reason: str
    since: dt.datetime


class ProjectionOut(Schema):
    name: str
    position: int
    head: int
    lag: int
    generation: int
    rebuilding: bool
    rebuild_progress: float | None
    failure: FailureOut | None = None
    rebuild_failure: FailureOut | None = None


class ProjectionsOut(Schema):
    data: list[ProjectionOut]


class HealthOut(Schema):
    status: str


class ReadyOut(Schema):
    """Ready: the database answers, the projector runs and the projection is
    not stuck (its reports would go on getting older); `projection` says how far
    behind the log it is and why it stands still, if it does."""

    status: str
    database: bool
    projector: bool
    projection: ProjectionOut | None = None
