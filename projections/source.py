"""What the read side needs of the write side, and nothing more.

The projections read the event log, decode its stored events, look up the
pipeline version a deal is pinned to and the log position of a deal's event,
and read the clock. `source_of` takes these from the service; the modules of
`projections/` are handed an `EventSource`, never the service itself.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import ApplicationRecorder, Mapper

from domain.pipeline import Pipeline
from storage.eventstore import event_store
from storage.wiring import open_service

if TYPE_CHECKING:
    from domain.service import PhaseTracker


@dataclass(frozen=True)
class EventSource:
    """The log and what the projections need to fold it."""

    recorder: ApplicationRecorder  # notifications, the head, the events table
    mapper: Mapper[Any]  # decodes stored events (`storage.decode`)
    # A pipeline at a version; raises UnknownPipeline if none is registered.
    pipeline: Callable[[str, int], Pipeline]
    # The log position of a deal's event (by its version), if it is stored.
    position_of: Callable[[uuid.UUID, int], int | None]
    clock: Callable[[], dt.datetime]
    env: Mapping[str, str]  # how another process (a rebuild's worker) opens it


def source_of(tracker: PhaseTracker) -> EventSource:
    """The service's log, as the projections read it."""
    store = event_store(tracker)
    return EventSource(
        recorder=store.recorder,
        mapper=store.mapper,
        pipeline=tracker.pipeline,
        position_of=store.position_of,
        clock=tracker.clock,
        env=store.env,
    )


def open_source(env: Mapping[str, str]) -> tuple[EventSource, Callable[[], None]]:
    """The log `env` names, opened in this process; and how to close it."""
    tracker = open_service(env, big_calls=False)
    return source_of(tracker), tracker.close
