"""The Deal aggregate: one sales process, its history as immutable events.

Public methods validate through the engine (`decide`) and only then trigger the
private `@event` method, so a rejected command leaves no event behind.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import replace
from typing import Any

from eventsourcing.domain import Aggregate, event

from domain.engine import Decision, Entry, EntryKind, decide
from domain.pipeline import Pipeline

DEAL_NAMESPACE = uuid.UUID("6f0e3c5e-3b7a-4d55-9c1e-5a4f1f6f3a10")


def deal_id_for(pipeline: str, contact_id: str, object_id: str | None) -> uuid.UUID:
    """The deterministic id of a deal: logging by natural keys finds or opens it."""
    key = f"{pipeline}\x1f{contact_id}\x1f{object_id or ''}"
    return uuid.uuid5(DEAL_NAMESPACE, key)


class Deal(Aggregate):
    """A deal in one pipeline, pinned to the pipeline version it was opened under."""

    class Opened(Aggregate.Created):
        pipeline: str
        pipeline_version: int
        contact_id: str
        object_id: str | None

    class ActionLogged(Aggregate.Event):
        action_id: str
        type: str
        occurred_at: dt.datetime
        outcome: str | None
        fields: dict[str, Any]
        actor: str | None
        note: str | None
        digest: str

    class ManuallyMoved(Aggregate.Event):
        action_id: str
        phase: str
        occurred_at: dt.datetime
        reason: str | None
        fields: dict[str, Any]
        actor: str | None
        digest: str

    class ActionVoided(Aggregate.Event):
        action_id: str
        voided_action_id: str
        occurred_at: dt.datetime
        reason: str
        actor: str | None
        digest: str

    class Expired(Aggregate.Event):
        action_id: str
        phase: str
        occurred_at: dt.datetime
        fields: dict[str, Any]

    @event(Opened)
    def __init__(
        self,
        pipeline: str,
        pipeline_version: int,
        contact_id: str,
        object_id: str | None,
    ) -> None:
        self.pipeline = pipeline
        self.pipeline_version = pipeline_version
        self.contact_id = contact_id
        self.object_id = object_id
        self.entries: list[Entry] = []

    @staticmethod
    def create_id(pipeline: str, contact_id: str, object_id: str | None) -> uuid.UUID:
        return deal_id_for(pipeline, contact_id, object_id)

    # -- commands ------------------------------------------------------------

    def record(
        self,
        pipeline: Pipeline,
        entry: Entry,
        digest: str = "",
        prior: Decision | None = None,
    ) -> Decision:
        """Validate `entry` through the engine, then record it as this deal's event.

        `prior`: this deal's previous decision in the same batch, to fold on from.
        """
        self.check_pipeline(pipeline)
        new = replace(entry, seq=self.version + 1)
        decision = decide(pipeline, self.entries, new, prior)
        action_id, occurred_at = entry.entry_id, entry.occurred_at
        fields = dict(entry.fields)
        if entry.kind == "action":
            assert entry.type is not None
            self._log_action(
                action_id=action_id,
                occurred_at=occurred_at,
                type=entry.type,
                outcome=entry.outcome,
                fields=fields,
                actor=entry.actor,
                note=entry.note,
                digest=digest,
            )
        elif entry.kind == "move":
            assert entry.phase is not None
            self._move(
                action_id=action_id,
                occurred_at=occurred_at,
                phase=entry.phase,
                reason=entry.reason,
                fields=fields,
                actor=entry.actor,
                digest=digest,
            )
        elif entry.kind == "void":
            assert entry.voids is not None and entry.reason is not None
            self._void(
                action_id=action_id,
                occurred_at=occurred_at,
                voided_action_id=entry.voids,
                reason=entry.reason,
                actor=entry.actor,
                digest=digest,
            )
        else:
            assert entry.phase is not None
            self._expire(
                action_id=action_id,
                occurred_at=occurred_at,
                phase=entry.phase,
                fields=fields,
            )
        return decision

    def check_pipeline(self, pipeline: Pipeline) -> None:
        if (pipeline.id, pipeline.version) != (self.pipeline, self.pipeline_version):
            raise AssertionError(
                f"deal {self.id} is pinned to {self.pipeline} v{self.pipeline_version}"
            )

    def entry(self, action_id: str) -> Entry | None:
        for entry in self.entries:
            if entry.entry_id == action_id:
                return entry
        return None

    # -- events: each appends the engine's view of itself ----------------------

    @event(ActionLogged)
    def _log_action(
        self,
        action_id: str,
        type: str,
        occurred_at: dt.datetime,
        outcome: str | None,
        fields: dict[str, Any],
        actor: str | None,
        note: str | None,
        digest: str,
    ) -> None:
        self._append(
            "action",
            action_id,
            occurred_at,
            type=type,
            outcome=outcome,
            fields=fields,
            actor=actor,
            note=note,
        )

    @event(ManuallyMoved)
    def _move(
        self,
        action_id: str,
        phase: str,
        occurred_at: dt.datetime,
        reason: str | None,
        fields: dict[str, Any],
        actor: str | None,
        digest: str,
    ) -> None:
        self._append(
            "move",
            action_id,
            occurred_at,
            phase=phase,
            reason=reason,
            fields=fields,
            actor=actor,
        )

    @event(ActionVoided)
    def _void(
        self,
        action_id: str,
        voided_action_id: str,
        occurred_at: dt.datetime,
        reason: str,
        actor: str | None,
        digest: str,
    ) -> None:
        self._append(
            "void",
            action_id,
            occurred_at,
            voids=voided_action_id,
            reason=reason,
            actor=actor,
        )

    @event(Expired)
    def _expire(
        self,
        action_id: str,
        phase: str,
        occurred_at: dt.datetime,
        fields: dict[str, Any],
    ) -> None:
        self._append("expiry", action_id, occurred_at, phase=phase, fields=fields)

    def _append(
        self, kind: EntryKind, action_id: str, occurred_at: dt.datetime, **data: Any
    ) -> None:
        # Runs while the event is applied, before the library bumps `version`.
        self.entries.append(
            Entry(kind, action_id, occurred_at, seq=self.version + 1, **data)
        )


EVENT_KINDS: dict[type[Any], EntryKind] = {
    Deal.ActionLogged: "action",
    Deal.ManuallyMoved: "move",
    Deal.ActionVoided: "void",
    Deal.Expired: "expiry",
}
DEAL_EVENTS = tuple(EVENT_KINDS)


def entry_from_event(source: Any) -> Entry:
    """The engine's view of a stored Deal event, with its recording time."""
    return Entry(
        kind=EVENT_KINDS[type(source)],
        entry_id=source.action_id,
        occurred_at=source.occurred_at,
        seq=source.originator_version,
        recorded_at=source.timestamp,
        type=getattr(source, "type", None),
        outcome=getattr(source, "outcome", None),
        fields=getattr(source, "fields", None) or {},
        phase=getattr(source, "phase", None),
        reason=getattr(source, "reason", None),
        voids=getattr(source, "voided_action_id", None),
        actor=getattr(source, "actor", None),
        note=getattr(source, "note", None),
    )
