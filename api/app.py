"""The app factory: `create_app(settings)`; its lifespan owns the service and runner."""

from __future__ import annotations

import contextlib
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import psycopg
from fastapi import FastAPI

from api import errors
from api.auth import warn_open
from api.fast_path import PhaselogAPI
from api.routes import actions, deals, health, pipelines, projections, reports
from api.settings import Settings, eventsourcing_env
from api.sweeping import Sweeper
from api.waiting import ProjectionWaits
from domain.definitions import check_chains
from projections.reports import Reports
from projections.runner import Projector
from storage import lifeline
from storage.api_keys import KeyStore
from storage.collector import tune_gc
from storage.definitions import load_definition, load_presets
from storage.lockfiles import file_lock
from storage.wiring import open_service

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from fastapi.telemetry import TelemetryConfig

    from domain.pipeline import Pipeline
    from domain.service import PhaseTracker


def load_pipelines(settings: Settings) -> list[Pipeline]:
    """The presets, overridden and extended by the YAML files in `pipelines_dir`."""
    found = load_presets()
    if settings.pipelines_dir is not None:
        for path in sorted(settings.pipelines_dir.glob("*.yaml")):
            pipeline = load_definition(path)
            found[pipeline.id] = pipeline
        check_chains(found)
    return list(found.values())


def open_tracker(settings: Settings, *, group_commit: bool = False) -> PhaseTracker:
    """The service on the configured database; the server coalesces its writes."""
    return open_service(
        eventsourcing_env(settings),
        pipelines=load_pipelines(settings),
        group_commit=group_commit,
    )


def open_projector(tracker: PhaseTracker) -> Projector:
    """The projector: the read models follow the log."""
    return Projector(tracker)


def open_sweeper(
    tracker: PhaseTracker, projector: Projector, settings: Settings
) -> Sweeper | None:
    """The expiry sweeper beside `projector`, at the configured interval (None: off)."""
    if not settings.sweep_interval_seconds:
        return None
    return Sweeper(tracker, projector, settings.sweep_interval_seconds)


def open_keys(tracker: PhaseTracker, settings: Settings) -> KeyStore:
    """The key store, with PHASELOG_ADMIN_KEY seeded as an admin key (revoking
    the key the setting held before)."""
    keys = KeyStore(tracker)
    if settings.admin_key is not None:
        keys.seed_admin(settings.admin_key.get_secret_value())
    return keys


@contextlib.contextmanager
def startup_lock(settings: Settings) -> Iterator[None]:
    """One process at a time creates tables and registers pipelines.

    PostgreSQL's CREATE ... IF NOT EXISTS is not safe against a concurrent create
    (two `serve` workers on a fresh database: one failed with a duplicate type).
    A session advisory lock, held on a connection of its own, serialises startup;
    on SQLite a lock file beside the database does (concurrent first opens failed
    now and then with "database is locked"); the file goes once startup is
    done, so none is left beside the database by a server that stopped.
    """
    env = eventsourcing_env(settings)
    if "POSTGRES_SCHEMA" not in env:
        with file_lock(env["SQLITE_DBNAME"], "startup", remove=True):
            yield
        return
    with psycopg.connect(
        dbname=env["POSTGRES_DBNAME"],
        host=env["POSTGRES_HOST"],
        port=env["POSTGRES_PORT"],
        user=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"],
        connect_timeout=int(env["POSTGRES_CONNECT_TIMEOUT"]),
        autocommit=True,
    ) as conn:
        key = f"phaselog:startup:{env['POSTGRES_SCHEMA']}"
        conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [key])
        yield  # closing the connection releases the lock


TELEMETRY_OFF: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with startup_lock(settings):
            tracker = open_tracker(settings, group_commit=True)
            keys = open_keys(tracker, settings)
            projector = open_projector(tracker)
        try:
            app.state.tracker = tracker
            app.state.keys = keys
            if keys.empty():
                warn_open()
            app.state.reports = Reports(tracker)
            app.state.projector = projector
            app.state.waits = ProjectionWaits(projector)
            app.state.rebuild = None
            app.state.sweeper = open_sweeper(tracker, projector, settings)
            projector.start()
            if app.state.sweeper is not None:
                app.state.sweeper.start()
            try:
                yield
            finally:
                stop_projector(app)
        finally:
            tracker.close()

    app = PhaselogAPI(
        title="phaselog",
        version="1",
        summary="Event-sourced phase tracker for sales pipelines",
        lifespan=lifespan,
        telemetry=None if settings.telemetry else TELEMETRY_OFF,
    )
    app.state.settings = settings
    errors.install(app, settings.max_body_bytes)
    for module in (actions, deals, reports, pipelines, projections, health):
        app.include_router(module.router)
    app.openapi = lambda: problem_media_type(app)  # type: ignore[method-assign]
    return app


def app_from_env() -> FastAPI:
    """The app on PHASELOG_* settings: what each `phaselog serve` worker runs."""
    lifeline.end_with_serve()
    tune_gc()
    return create_app(Settings())


def stop_projector(app: FastAPI) -> None:
    """Stop the sweeper, then the runner (readiness turns false) after any
    rebuild in progress."""
    if app.state.sweeper is not None:
        app.state.sweeper.stop()  # it stops between two chunks of deals
    if app.state.rebuild is not None:
        app.state.rebuild.join()
    app.state.projector.stop()


def problem_media_type(app: FastAPI) -> dict[str, Any]:
    """Error responses are documented as application/problem+json, as served."""
    if app.openapi_schema is None:
        schema = FastAPI.openapi(app)
        for path in schema["paths"].values():
            for operation in path.values():
                for _code, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    schema_ref = content.get("application/json", {}).get("schema", {})
                    if schema_ref.get("$ref", "").endswith("/Problem"):
                        content[errors.PROBLEM_JSON] = content.pop("application/json")
        app.openapi_schema = schema
    return app.openapi_schema
