"""What every page does: read its query as the API reads it (same types, same
words in an error), find its pipeline, and show a failure as a page."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError

from api.errors import problem_for
from api.pages.render import Page, render
from api.schemas.base import Key, Since, Through, Until
from api.schemas.base import reason as reason_of
from domain.errors import InvalidCommand, PhaselogError, UnknownPipeline

if TYPE_CHECKING:
    from fastapi import Request
    from starlette.responses import HTMLResponse

    from api.auth import Principal
    from domain.pipeline import Pipeline
    from domain.service import PhaseTracker

_TYPES: dict[str, TypeAdapter[Any]] = {
    "key": TypeAdapter(Key),
    "since": TypeAdapter(Since),
    "until": TypeAdapter(Until),
    "through": TypeAdapter(Through),
}


class PageNotFound(PhaselogError):
    """The page's subject (a pipeline, a deal) does not exist."""


def query(request: Request, **kinds: str) -> dict[str, Any]:
    """The query parameters named in `kinds`, each read as its kind ('key',
    'since', 'until', 'through'); empty means not given. InvalidCommand names
    the first one that is not valid, with the API's reason."""
    values: dict[str, Any] = {}
    for name, kind in kinds.items():
        raw = request.query_params.get(name, "").strip()
        if not raw:
            values[name] = None
            continue
        try:
            values[name] = _TYPES[kind].validate_python(raw)
        except ValidationError as error:
            raise InvalidCommand(name, reason_of(error.errors()[0])) from None
    return values


def pipeline_of(tracker: PhaseTracker, pipeline_id: str) -> Pipeline:
    try:
        return tracker.pipeline(pipeline_id)
    except UnknownPipeline:
        raise PageNotFound(f"no pipeline {pipeline_id!r}") from None


def failed(
    request: Request,
    viewer: Principal | None,
    error: PhaselogError,
    pipeline: Pipeline | None = None,
) -> HTMLResponse:
    """A failure as a page, with the status the API would answer."""
    page = Page(request, viewer, pipeline)
    if isinstance(error, PageNotFound):
        status, title, detail = 404, page.t("not_found"), str(error)
    else:
        found = problem_for(error)
        status, detail = found.status, found.detail
        title = page.t("invalid") if status == 422 else found.title
        if found.field and not detail.startswith(found.field):
            detail = f"{found.field}: {detail}"
    return render(page, "error.html", status, title=title, detail=detail)


def check_period(since: Any, until: Any) -> None:
    """A period that ends before it starts matches nothing: refused, as the API."""
    if since is not None and until is not None and until <= since:
        raise InvalidCommand("until", "must come after since: the period is empty")
