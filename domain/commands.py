"""Commands the application service accepts and the results it returns."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from domain.history import DealState, Entry, Step

# Who stored an entry, set by the server, never by the request: how it came
# (`via`: api_key, open_mode, cli, phaselog) and who (`name`, and a key's
# `key_id`). An entry stored before phaselog recorded it has none: unknown.
Recorder = Mapping[str, str]


@dataclass(frozen=True)
class LogAction:
    pipeline: str
    contact_id: str
    type: str
    object_id: str | None = None
    occurred_at: dt.datetime | None = None
    outcome: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    actor: str | None = None
    note: str | None = None
    action_id: str | None = None
    recorded_by: Recorder | None = None


@dataclass(frozen=True)
class MoveDeal:
    deal_id: uuid.UUID
    phase: str
    reason: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    actor: str | None = None
    occurred_at: dt.datetime | None = None
    action_id: str | None = None
    recorded_by: Recorder | None = None


@dataclass(frozen=True)
class VoidAction:
    action_id: str
    reason: str
    actor: str | None = None
    recorded_by: Recorder | None = None


@dataclass(frozen=True)
class Result:
    """What a command did: the deal's current phase before and after it, and
    what its own entry did (the engine's effect: moved, kept_by_rule, ...)."""

    deal_id: uuid.UUID
    action_id: str
    phase: str | None
    previous_phase: str | None
    position: int
    replayed: bool = False
    effect: str = ""


@dataclass(frozen=True)
class DealView:
    deal_id: uuid.UUID
    pipeline: str
    pipeline_version: int
    contact_id: str
    object_id: str | None
    state: DealState
    stale: bool
    probability: int | None = None  # the current phase's
    phase_label: str | None = None  # in the pipeline's default language
    lost_reason: str | None = None


@dataclass(frozen=True)
class Timeline:
    deal: DealView
    state: DealState  # as of / known at the requested times
    steps: tuple[Step, ...]
    # The void of each voided entry, as known at the requested time: by id.
    voids: Mapping[str, Entry] = field(default_factory=dict)


def digest_of(command: LogAction | MoveDeal | VoidAction) -> str:
    """A stable fingerprint of a command's content, for idempotent replays."""
    data = {name: getattr(command, name) for name in _content_fields(type(command))}
    data["command"] = type(command).__name__
    canonical = _ENCODER.encode(data)
    return hashlib.sha256(canonical.encode()).hexdigest()


_CONTENT_FIELDS: dict[type[Any], tuple[str, ...]] = {}


def _content_fields(kind: type[Any]) -> tuple[str, ...]:
    """A command's fields but its idempotency key and who sent it (the same
    action re-sent by another key is a replay, not a conflict); `fields()` is
    slow per call."""
    names = _CONTENT_FIELDS.get(kind)
    if names is None:
        names = tuple(
            f.name for f in fields(kind) if f.name not in ("action_id", "recorded_by")
        )
        _CONTENT_FIELDS[kind] = names
    return names


def _canonical(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    return str(value)


# What json.dumps(data, sort_keys=True, default=_canonical) uses, built once:
# dumps builds a new encoder on every call with arguments (~10 % of planning an
# action). Same settings, so the same text and the same stored digests.
_ENCODER = json.JSONEncoder(sort_keys=True, default=_canonical)
