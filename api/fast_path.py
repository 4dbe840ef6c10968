"""`POST /v1/actions` straight from ASGI, ahead of the framework's layers.

Every other request goes through FastAPI: its error middleware, exception
handlers, body limit, router and endpoint wrapper. For the one route agents call
all day those layers cost more CPU than the route itself, so the app's ASGI stack
starts with this switch: it applies the same body limit, calls the same
`post_action`, and turns the same errors into the same problems.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI, Request

from api.errors import BodyLimit, problem_response, replaying
from api.routes.actions import post_action, router

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

PATH = router.prefix  # the route `post_action` is registered at ("")


class PhaselogAPI(FastAPI):
    """FastAPI, with the fast path in front of its middleware stack."""

    def build_middleware_stack(self) -> ASGIApp:
        return FastActions(self, super().build_middleware_stack())


class FastActions:
    def __init__(self, app: FastAPI, stack: ASGIApp) -> None:
        self.stack = stack
        self.limit = BodyLimit(stack, app.state.settings.max_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != PATH
            or scope["method"] != "POST"
        ):
            await self.stack(scope, receive, send)
            return
        body = await self.limit.read(scope, receive)
        if body is None:
            await self.limit.refuse(scope, receive, send)
            return
        request = Request(scope, replaying(body, receive))
        try:
            response = await post_action(request)
        except Exception as error:
            problem = problem_response(error)
            if problem is None:
                raise  # unexpected: the server logs it and answers 500
            response = problem
        await response(scope, receive, send)
