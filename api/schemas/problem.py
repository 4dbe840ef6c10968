"""RFC 9457 problem details, with `field` naming the offending input."""

from __future__ import annotations

from api.schemas.base import Schema


class FieldError(Schema):
    field: str
    reason: str


class Problem(Schema):
    """What went wrong; served as application/problem+json."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    field: str | None = None
    errors: list[FieldError] | None = None
