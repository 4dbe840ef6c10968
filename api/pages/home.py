"""The start page (the pipelines, each with its pages) and signing in and out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.auth import READ_DEALS, Principal, identify
from api.deps import Tracker
from api.pages.render import Page, render
from api.pages.session import (
    CSRF_FIELD,
    csrf_problem,
    forget_key,
    local,
    remember_key,
    viewer,
)

router = APIRouter(include_in_schema=False)
Viewer = Annotated[Principal, Depends(viewer(*READ_DEALS))]


@router.get("/", response_class=HTMLResponse)
def home(request: Request, tracker: Tracker, who: Viewer) -> HTMLResponse:
    page = Page(request, who)
    pipelines = sorted(tracker.pipelines(), key=lambda p: p.id)
    return render(page, "home.html", pipelines=pipelines)


@router.get("/signin", response_class=HTMLResponse)
def sign_in_form(request: Request, next: str | None = None) -> HTMLResponse:  # noqa: A002
    return _form(request, local(next))


@router.post("/signin", response_class=HTMLResponse)
async def sign_in(
    request: Request,
    key: Annotated[str, Form(max_length=512)] = "",
    csrf: Annotated[str, Form(alias=CSRF_FIELD, max_length=128)] = "",
    next: Annotated[str, Form(max_length=2048)] = "/",  # noqa: A002
) -> Response:
    target = local(next)
    refused = csrf_problem(request, csrf)
    if refused is not None:
        return _form(request, target, refused, status=403)
    try:
        await identify(request.app.state.keys, key.strip())
    except HTTPException:
        return _form(request, target, "wrong_key", status=401)
    response = RedirectResponse(target, status_code=303)
    remember_key(request, response, key.strip())
    return response


@router.post("/signout")
async def sign_out(
    request: Request,
    csrf: Annotated[str, Form(alias=CSRF_FIELD, max_length=128)] = "",
) -> Response:
    refused = csrf_problem(request, csrf)
    if refused is not None:
        return _form(request, "/", refused, status=403)
    response = RedirectResponse("/signin", status_code=303)
    forget_key(response)
    return response


def _form(
    request: Request, target: str, problem: str | None = None, status: int = 200
) -> HTMLResponse:
    page = Page(request, None)
    if problem == "wrong_key":
        problem = page.t("wrong_key")
    return render(page, "signin.html", status, target=target, problem=problem)
