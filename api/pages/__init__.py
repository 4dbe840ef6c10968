"""Pages people look at, served by phaselog itself: the board, the funnel, time
in stage, stale deals, lost reasons and each deal's timeline, as HTML made on
the server (Jinja2) from the same read models as the API, with a stylesheet
and no script. `install` adds them to the app."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.staticfiles import StaticFiles

from api.pages import board, deal, home, reports
from api.pages.render import Page, render
from api.pages.session import NotAllowed, SignInNeeded, sign_in_url

if TYPE_CHECKING:
    from fastapi import FastAPI, Request
    from starlette.responses import Response


def install(app: FastAPI) -> None:
    for module in (home, board, reports, deal):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(packages=[("api.pages", "static")]), name="static")

    async def sign_in_first(request: Request, error: Exception) -> Response:
        assert isinstance(error, SignInNeeded)
        return RedirectResponse(sign_in_url(error.target), status_code=303)

    async def not_allowed(request: Request, error: Exception) -> HTMLResponse:
        assert isinstance(error, NotAllowed)
        page = Page(request, error.principal)
        needs = " / ".join(error.roles)
        detail = page.t("forbidden", role=error.principal.role, needs=needs)
        return render(page, "error.html", 403, title="403", detail=detail)

    app.add_exception_handler(SignInNeeded, sign_in_first)
    app.add_exception_handler(NotAllowed, not_allowed)
