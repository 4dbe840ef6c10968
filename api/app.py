"""The app factory: `create_app(settings)`; its lifespan owns the service and runner."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI

from api import errors, openapi
from api.auth import warn_open
from api.bootstrap import open_server
from api.pages import install as install_pages
from api.routes import (
    actions,
    audit,
    deals,
    docs,
    health,
    pipelines,
    problems,
    projections,
    reports,
    webhooks,
)
from api.settings import Settings
from api.waiting import ProjectionWaits
from storage import lifeline
from storage.collector import tune_gc

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from fastapi.telemetry import TelemetryConfig


TELEMETRY_OFF: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        server = open_server(settings)
        try:
            app.state.tracker = server.tracker
            app.state.keys = server.keys
            if server.keys.empty():
                warn_open()
            app.state.reports = server.reports
            app.state.projector = server.projector
            app.state.waits = ProjectionWaits(server.projector)
            app.state.rebuild = None
            app.state.sweeper = server.sweeper
            app.state.webhooks = server.webhooks
            server.projector.start()
            server.webhooks.start()
            if server.sweeper is not None:
                server.sweeper.start()
            try:
                yield
            finally:
                stop_projector(app)
        finally:
            server.tracker.close()

    app = FastAPI(
        title="phaselog",
        version="1",
        summary="Event-sourced phase tracker for sales pipelines",
        lifespan=lifespan,
        docs_url=None,  # ours, in api/routes/docs.py: no CDN
        redoc_url=None,
        telemetry=None if settings.telemetry else TELEMETRY_OFF,
    )
    app.state.settings = settings
    errors.install(app, settings.max_body_bytes)
    # The hottest route answered by Starlette's own routing, ahead of FastAPI's
    # (see `actions.FAST_ROUTES`); under the same middleware and handlers.
    app.router.routes.extend(actions.FAST_ROUTES)
    for module in (
        actions,
        deals,
        reports,
        pipelines,
        projections,
        audit,
        webhooks,
        health,
    ):
        app.include_router(module.router)
    app.include_router(docs.router)
    app.include_router(problems.router)
    app.router.routes.append(docs.assets)
    install_pages(app)
    app.openapi = lambda: openapi.openapi(app)  # type: ignore[method-assign]
    return app


def app_from_env() -> FastAPI:
    """The app on PHASELOG_* settings: what each `phaselog serve` worker runs."""
    lifeline.end_with_serve()
    tune_gc()
    return create_app(Settings())


def stop_projector(app: FastAPI) -> None:
    """Stop the sweeper, then the runner (readiness turns false) after any
    rebuild in progress."""
    app.state.webhooks.stop()
    if app.state.sweeper is not None:
        app.state.sweeper.stop()  # it stops between two chunks of deals
    if app.state.rebuild is not None:
        app.state.rebuild.join()
    app.state.projector.stop()
