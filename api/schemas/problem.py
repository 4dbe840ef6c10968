"""RFC 9457 problem details, with `field` naming the offending input."""

from __future__ import annotations

from pydantic import Field

from api.schemas.base import Schema


class FieldError(Schema):
    field: str
    reason: str


class Problem(Schema):
    """What went wrong; served as application/problem+json."""

    type: str = Field(
        default="about:blank",
        description="the kind of problem: a URI relative to the server "
        "(`/problems/invalid-input`); GET it for a page on what it means and "
        "what to do. GET /problems lists them all",
    )
    title: str = Field(description="the kind's title, the same for every problem of it")
    status: int = Field(description="the HTTP status")
    detail: str = Field(description="what went wrong this time")
    field: str | None = Field(
        default=None, description="the offending input (`actions[3].occurred_at`)"
    )
    errors: list[FieldError] | None = Field(
        default=None, description="each offending input, for an invalid-input problem"
    )
