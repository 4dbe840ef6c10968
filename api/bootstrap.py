"""Wiring: the service and the parts beside it, built from `Settings`.

The one place that knows how phaselog is put together: which pipelines (the
presets, overridden and extended by PHASELOG_PIPELINES_DIR), the service on the
configured database, the API keys, the projector, the expiry sweeper beside it,
the reports, and the startup lock the first of them are made under. The app's
lifespan, every CLI command and `phaselog project` build what they need here, so a
constructor that changes is one edit.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from api.settings import Settings, eventsourcing_env
from api.sweeping import Sweeper
from api.webhooks.running import Webhooks
from domain.definitions import check_chains
from domain.service import PhaseTracker
from projections.reports import Reports
from projections.runner import Projector
from storage import startup
from storage.api_keys import KeyStore
from storage.definitions import load_definition, load_presets
from storage.wiring import open_service

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from domain.pipeline import Pipeline


def presets() -> dict[str, Pipeline]:
    """The preset pipelines (domain/pipelines/*.yaml), by id."""
    return load_presets()


def load_pipelines(settings: Settings) -> list[Pipeline]:
    """The presets, overridden and extended by the YAML files in `pipelines_dir`."""
    found = presets()
    if settings.pipelines_dir is not None:
        for path in sorted(settings.pipelines_dir.glob("*.yaml")):
            pipeline = read_pipeline(path)
            found[pipeline.id] = pipeline
        check_chains(found)
    return list(found.values())


def read_pipeline(path: Path) -> Pipeline:
    """One definition file, read and checked; a DefinitionError names the path
    inside the file of what is wrong."""
    return load_definition(path)


def open_tracker(
    settings: Settings, *, group_commit: bool = False, register: bool = True
) -> PhaseTracker:
    """The service on the configured database; the server coalesces its writes.

    With `register`, the pipelines are registered (a new version where one
    changed); a command that only reads registers nothing, so it never adds a
    version behind a running server's back.
    """
    return open_service(
        eventsourcing_env(settings),
        pipelines=load_pipelines(settings) if register else (),
        group_commit=group_commit,
    )


def open_keys(tracker: PhaseTracker, settings: Settings) -> KeyStore:
    """The key store, with PHASELOG_ADMIN_KEY seeded as an admin key (revoking
    the key the setting held before)."""
    keys = KeyStore(tracker)
    if settings.admin_key is not None:
        keys.seed_admin(settings.admin_key.get_secret_value())
    return keys


def open_projector(
    tracker: PhaseTracker, *, rebuild_workers: int | None = None
) -> Projector:
    """The projector: the read models follow the log."""
    return Projector(tracker, rebuild_workers=rebuild_workers)


def open_sweeper(
    tracker: PhaseTracker, projector: Projector, settings: Settings
) -> Sweeper | None:
    """The expiry sweeper beside `projector`, at the configured interval (None: off)."""
    if not settings.sweep_interval_seconds:
        return None
    return Sweeper(tracker, projector, settings.sweep_interval_seconds)


@contextlib.contextmanager
def startup_lock(settings: Settings) -> Iterator[None]:
    """Held while a process creates tables and registers pipelines (storage.startup)."""
    with startup.startup_lock(eventsourcing_env(settings)):
        yield


def open_webhooks(tracker: PhaseTracker, settings: Settings) -> Webhooks:
    """The webhook worker and sender (they run where their lock is won)."""
    return Webhooks(tracker, settings)


@dataclass(frozen=True)
class Projecting:
    """The service with its projector and, if configured, the sweeper beside it."""

    tracker: PhaseTracker
    projector: Projector
    sweeper: Sweeper | None


@dataclass(frozen=True)
class Server(Projecting):
    """What one server process runs: the above, its keys and the reports."""

    keys: KeyStore
    reports: Reports
    webhooks: Webhooks


def open_server(settings: Settings) -> Server:
    """A server process's parts, made under the startup lock; its writes coalesce."""
    with startup_lock(settings):
        tracker = open_tracker(settings, group_commit=True)
        try:
            keys = open_keys(tracker, settings)
            projector = open_projector(tracker)
            webhooks = open_webhooks(tracker, settings)
        except BaseException:
            tracker.close()
            raise
    sweeper = open_sweeper(tracker, projector, settings)
    return Server(tracker, projector, sweeper, keys, Reports(tracker), webhooks)


def open_projecting(settings: Settings) -> Projecting:
    """`phaselog project`'s parts, made under the startup lock: no keys, no server."""
    with startup_lock(settings):
        tracker = open_tracker(settings)
        try:
            projector = open_projector(tracker)
        except BaseException:
            tracker.close()
            raise
    return Projecting(tracker, projector, open_sweeper(tracker, projector, settings))
