"""Every error as an RFC 9457 problem (application/problem+json) naming its field."""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from api.problem_kinds import BY_NAME, of_status
from api.schemas.actions import ActionOut
from api.schemas.base import reason as reason_of
from api.schemas.problem import FieldError, Problem
from domain.errors import (
    ActionConflict,
    ActionNotFound,
    ChainedDealActive,
    ConcurrencyExhausted,
    DealNotFound,
    InvalidCommand,
    NotStored,
    PhaselogError,
)
from domain.staging import UNREACHABLE, DealRejected

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from fastapi import FastAPI, Request
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

PROBLEM_JSON = "application/problem+json"


class NotYetProjected(PhaselogError):
    """The read models have not caught up with the requested position in time."""

    def __init__(self, position: int, waited: float) -> None:
        super().__init__(
            f"the projections have not reached position {position} after {waited:g} s;"
            " try again"
        )


class PipelineNotFound(PhaselogError):
    def __init__(self, pipeline_id: str) -> None:
        super().__init__(f"no pipeline {pipeline_id!r}")


def problem(kind: str, detail: str, field: str | None = None) -> Problem:
    """A problem of the kind named (api/problem_kinds.py)."""
    known = BY_NAME[kind]
    return Problem(
        type=known.type,
        title=known.title,
        status=known.status,
        detail=detail,
        field=field,
    )


def status_problem(status: int, detail: str) -> Problem:
    """A problem for an HTTP error with no cause of ours: the first kind of its
    status, or RFC 9457's `about:blank` for a status we have no page for."""
    kinds = of_status(status)
    if kinds:
        return problem(kinds[0].name, detail)
    title = HTTPStatus(status).phrase
    return Problem(type="about:blank", title=title, status=status, detail=detail)


def problem_for(error: PhaselogError) -> Problem:
    """The problem a domain error becomes, for the API and the CLI's summaries."""
    if isinstance(error, InvalidCommand):
        return problem("invalid-input", str(error), error.field)
    if isinstance(error, ActionConflict | ChainedDealActive):
        return problem("conflict", str(error), "action_id")
    if isinstance(error, DealNotFound):
        return problem("not-found", str(error), "deal_id")
    if isinstance(error, PipelineNotFound):
        return problem("not-found", str(error), "pipeline_id")
    if isinstance(error, ActionNotFound):
        return problem("not-found", str(error), "action_id")
    if isinstance(error, DealRejected):
        return problem("deal-rejected", str(error))
    if isinstance(error, NotStored):
        return problem("not-stored", str(error))
    if isinstance(error, ConcurrencyExhausted):
        return problem("busy", str(error))
    if isinstance(error, NotYetProjected):
        return problem("not-yet-projected", str(error))
    return problem("bad-request", str(error))


def respond(body: Problem, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=body.status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def field_path(loc: Sequence[int | str]) -> str:
    """('body', 'actions', 3, 'occurred_at') -> 'actions[3].occurred_at'."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text or "body"


def _field_error(error: Mapping[str, Any]) -> FieldError:
    if error.get("type") == "json_invalid":
        # FastAPI names the character where parsing stopped as if it were a field.
        where = error["loc"][-1]
        reason = str(error.get("ctx", {}).get("error") or error["msg"])
        at = f" at character {where + 1}" if isinstance(where, int) else ""
        return FieldError(field="body", reason=f"not valid JSON: {reason}{at}")
    return FieldError(field=field_path(error["loc"]), reason=reason_of(error))


def validation_problem(error: RequestValidationError) -> Problem:
    items = [_field_error(e) for e in error.errors()]
    detail = "; ".join(f"{i.field}: {i.reason}" for i in items)
    first = items[0].field if items else None
    return problem("invalid-input", detail, first).model_copy(update={"errors": items})


def problem_response(error: Exception) -> JSONResponse | None:
    """The problem answer for an error the API expects; None for any other."""
    if isinstance(error, PhaselogError):
        body = problem_for(error)
        return respond(body, {"Retry-After": "1"} if body.status == 503 else None)
    if isinstance(error, RequestValidationError):
        return respond(validation_problem(error))
    if isinstance(error, UNREACHABLE):
        detail = "the database cannot be reached just now; try again"
        return respond(problem("database-unreachable", detail), {"Retry-After": "1"})
    if isinstance(error, HTTPException):
        if isinstance(error.__cause__, UnicodeDecodeError):
            # FastAPI's 400 for a JSON body that is not UTF-8: a body like any
            # other that cannot be read, so a 422 naming it.
            reason = "not valid JSON: the body is not UTF-8"
            return respond(problem("invalid-input", f"body: {reason}", "body"))
        body = status_problem(error.status_code, str(error.detail))
        return respond(body, error.headers)
    return None


def wrong_media_type(content_type: str | None) -> str | None:
    """Why a body sent as `content_type` is not read as JSON, or None if it is.

    A body without one is not read as JSON either, as FastAPI does not.
    """
    if not content_type:
        return "expected application/json (the request has no Content-Type)"
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        return None
    return f"expected application/json, not {content_type}"


def install(app: FastAPI, max_body_bytes: int) -> None:
    async def on_error(request: Request, error: Exception) -> JSONResponse:
        if isinstance(error, RequestValidationError):
            # FastAPI validates a body of another media type as raw bytes and
            # says "Input should be a valid dictionary"; say what is wrong.
            wrong = wrong_media_type(request.headers.get("content-type"))
            if wrong and any(e["loc"][:1] == ("body",) for e in error.errors()):
                return respond(problem("invalid-input", f"body: {wrong}", "body"))
        response = problem_response(error)
        assert response is not None
        return response

    async def on_failure(request: Request, error: Exception) -> JSONResponse:
        # Starlette logs the error and raises it again after this answer.
        return problem_response(error) or respond(
            problem("internal-error", "an unexpected error; the server's log has it")
        )

    for kind in (PhaselogError, RequestValidationError, HTTPException):
        app.add_exception_handler(kind, on_error)
    app.add_exception_handler(Exception, on_failure)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)


class BodyLimit:
    """Answer 413 before a handler sees a body larger than `max_bytes`."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = await self.read(scope, receive)
        if body is None:
            await self.refuse(scope, receive, send)
            return
        await self.app(scope, replaying(body, receive), send)

    async def read(self, scope: Scope, receive: Receive) -> bytes | None:
        """The whole body, or None once it is larger than `max_bytes`."""
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            return None
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return None
            more = message.get("more_body", False)
        return b"".join(chunks)

    async def refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"the request body is larger than {self.max_bytes} bytes"
        await respond(problem("request-body-too-large", detail, "body"))(
            scope, receive, send
        )


def replaying(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands out `body` (already read) once, then the real one."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problems a route may answer with."""
    return {code: documented(code) for code in sorted({*codes, 401, 403, 422})}


def documented(status: int) -> dict[str, Any]:
    """A status's entry: an example of each kind of problem it stands for."""
    kinds = of_status(status)
    examples = {k.name: {"summary": k.title, "value": k.example()} for k in kinds}
    return {
        "model": Problem,
        "description": " or ".join(k.title for k in kinds),
        "content": {"application/json": {"examples": examples}},
    }


def command_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """A command's problems, plus 200 for a replay that stored nothing."""
    replay = {"model": ActionOut, "description": "Replayed: answered, nothing stored"}
    return {200: replay, **problem_responses(*codes)}
