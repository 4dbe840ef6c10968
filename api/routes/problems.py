"""A page for each kind of problem, where a problem's `type` URI leads.

HTML for people who followed a `type` from an answer or from /docs; open to all.
"""

from __future__ import annotations

import json
import re
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from api.problem_kinds import BY_NAME, KINDS

router = APIRouter(prefix="/problems", tags=["problems"], include_in_schema=False)
templates = Jinja2Templates(directory=FilePath(__file__).parent.parent / "templates")

CODE = re.compile(r"`([^`]+)`")


def code(text: str) -> Markup:
    """`text` escaped, its `quoted` parts set as code."""
    return Markup(CODE.sub(r"<code>\1</code>", str(escape(text))))


templates.env.filters["code"] = code


@router.get("", response_class=HTMLResponse)
def list_problems(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "problems.html", {"kinds": KINDS})


@router.get("/{name}", response_class=HTMLResponse)
def show_problem(
    request: Request,
    name: Annotated[str, Path(description="the last part of a problem's `type`")],
) -> HTMLResponse:
    kind = BY_NAME.get(name)
    if kind is None:
        raise HTTPException(404, f"no problem type {name!r}; /problems lists them")
    example = json.dumps(kind.example(), indent=2, ensure_ascii=False)
    context = {"kind": kind, "example": example}
    return templates.TemplateResponse(request, "problem.html", context)
