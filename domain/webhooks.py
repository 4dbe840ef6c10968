"""Webhooks' rules: which phase changes a deal's history makes, what a
phase-entered event says, which subscription wants it, and when to try again.

Pure: the randomness (a secret's bytes, the jitter) and the time are passed in.
The worker that reads the log (`projections.webhooks`) and the sender that
posts (`api.webhooks`) both decide here.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from domain.engine import replay
from domain.history import Entry

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from domain.pipeline import Pipeline

EVENT_TYPE = "deal.phase_entered"
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # Standard Webhooks asks for 24 to 64
# How long a rotated-out secret still signs (beside the new one), so receivers
# can change theirs without dropping a delivery.
ROTATION_GRACE = dt.timedelta(hours=24)
# Standard Webhooks' schedule, after the first attempt: ~3 days in all.
RETRY_SECONDS: tuple[float, ...] = (
    5,
    5 * 60,
    30 * 60,
    2 * 3600,
    5 * 3600,
    10 * 3600,
    14 * 3600,
    20 * 3600,
    24 * 3600,
)
JITTER = 0.2  # a delay is stretched or shrunk by up to this share
# What a receiver's Retry-After may ask at most: the schedule's longest wait.
MAX_RETRY_AFTER = 24 * 3600.0
_ID_SPACE = uuid.UUID("6b1d3f4e-8a51-4b1f-9a57-3c0f2f7e6d21")

Status = Literal["active", "paused", "disabled"]
KINDS = ("open", "won", "lost", "paused")


@dataclass(frozen=True)
class PhaseChange:
    """One entry that changed a deal's derived phase, and what it changed."""

    entry: Entry
    before: str | None
    after: str | None


def phase_changes(
    pipeline: Pipeline, entries: Sequence[Entry], new: Sequence[int]
) -> Iterator[PhaseChange]:
    """The changes of the derived phase made by the entries whose seq is in
    `new`, each judged on the history as recorded up to it (`entries` in
    recording order): a correction is what it changed, not a replay of all."""
    wanted = set(new)
    before: str | None = None
    known = False
    for index, entry in enumerate(entries):
        if entry.seq not in wanted:
            continue
        if not known:
            before = replay(pipeline, entries[:index]).phase if index else None
        after = replay(pipeline, entries[: index + 1]).phase
        if after != before:
            yield PhaseChange(entry, before, after)
        before, known = after, True


def phase_of(pipeline: Pipeline, key: str | None) -> dict[str, Any] | None:
    """A phase as an event shows it: key, label (default language) and kind."""
    if key is None:
        return None
    phase = pipeline.phase(key)
    return {"key": key, "label": pipeline.label_of(key), "kind": phase.kind}


def payload(
    pipeline: Pipeline,
    deal: dict[str, Any],
    change: PhaseChange,
    position: int,
) -> dict[str, Any]:
    """The phase-entered event: Standard Webhooks' `type`, `timestamp`, `data`.

    `deal` holds `deal_id`, `contact_id` and `object_id`.
    """
    entry = change.entry
    recorded = entry.recorded_at
    data = {
        **deal,
        "pipeline": pipeline.id,
        "pipeline_version": pipeline.version,
        "phase_before": phase_of(pipeline, change.before),
        "phase_after": phase_of(pipeline, change.after),
        "cause": {
            "action_id": entry.entry_id,
            "kind": entry.kind,
            "type": entry.type,
            "voids": entry.voids,
        },
        "occurred_at": entry.occurred_at.isoformat(),
        "recorded_at": None if recorded is None else recorded.isoformat(),
        "position": position,
    }
    stamp = recorded or entry.occurred_at
    return {"type": EVENT_TYPE, "timestamp": stamp.isoformat(), "data": data}


# -- subscriptions ---------------------------------------------------------------


@dataclass(frozen=True)
class Filter:
    """What a subscription wants: empty means everything."""

    pipelines: tuple[str, ...] = ()
    phases: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()

    def wants(self, pipeline: str, phase: str | None, kind: str | None) -> bool:
        return (
            (not self.pipelines or pipeline in self.pipelines)
            and (not self.phases or phase in self.phases)
            and (not self.kinds or kind in self.kinds)
        )


def new_secret(random: bytes) -> str:
    """A `whsec_` secret from `random` (SECRET_BYTES of them)."""
    if len(random) < 24:
        raise ValueError("a secret needs 24 random bytes or more")
    return SECRET_PREFIX + base64.b64encode(random).decode()


def message_id(subscription_id: str, deal_id: uuid.UUID, seq: int) -> str:
    """The `webhook-id` of a deal's event for one subscription: the same on
    every attempt and redelivery, so a receiver drops what it has seen."""
    return "msg_" + uuid.uuid5(_ID_SPACE, f"{subscription_id}:{deal_id}:{seq}").hex


def url_problem(url: str) -> str | None:
    """What is wrong with a webhook URL's shape (its addresses are the
    sender's to check), or None."""
    if len(url) > 2000:
        return "is longer than 2000 characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is no number
    except ValueError as error:
        return f"is not a URL ({error})"
    if parts.scheme not in ("http", "https"):
        return "must be an http or https URL"
    if not parts.hostname:
        return "has no host"
    if parts.username or parts.password:
        return "must not carry a user name or password"
    return None


# -- retries ---------------------------------------------------------------------


def next_delay(attempts: int, schedule: Sequence[float], jitter: float) -> float | None:
    """Seconds before the next attempt after `attempts` failed ones; None when
    they are used up. `jitter` in [0, 1) spreads retries that fail together."""
    if attempts > len(schedule):
        return None
    delay = schedule[attempts - 1]
    return delay * (1 - JITTER + 2 * JITTER * jitter)


def retry_after(header: str | None, now: dt.datetime) -> float | None:
    """A Retry-After header's wait in seconds (delay or HTTP date), bounded."""
    if not header:
        return None
    text = header.strip()
    if text.isdigit():
        seconds = float(text)
    else:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - now).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)
