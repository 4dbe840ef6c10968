"""The Deal aggregate: one sales process, its history as immutable events.

Public methods validate through the engine (`decide`) and only then trigger the
private `@event` method, so a rejected command leaves no event behind.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import operator
import uuid
from typing import Any, NamedTuple

from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import get_topic

from domain.engine import Decision, Entry, EntryKind, decide
from domain.pipeline import Pipeline

DEAL_NAMESPACE = uuid.UUID("6f0e3c5e-3b7a-4d55-9c1e-5a4f1f6f3a10")
# Deterministic ids of the entries the service writes itself (voids, expiries,
# chains), so writing one twice stores it once.
KEY_NAMESPACE = uuid.UUID("3d3c0a8e-5b0e-4a43-a7f4-2c6b1b8f9e55")


@functools.lru_cache(maxsize=4096)  # an import asks once for each of a deal's actions
def deal_id_for(pipeline: str, contact_id: str, object_id: str | None) -> uuid.UUID:
    """The deterministic id of a deal: logging by natural keys finds or opens it."""
    key = f"{pipeline}\x1f{contact_id}\x1f{object_id or ''}"
    return uuid.uuid5(DEAL_NAMESPACE, key)


class DealMark(NamedTuple):
    version: int
    entries: int
    modified_on: dt.datetime
    last_decision: Decision | None


class Deal(Aggregate):
    """A deal in one pipeline, pinned to the pipeline version it was opened under."""

    # Not an event's state: the engine's working fold after this object's last
    # `record`, which `decide` reuses only while it covers every entry.
    last_decision: Decision | None = None

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

    @classmethod
    def open(
        cls,
        pipeline: str,
        pipeline_version: int,
        contact_id: str,
        object_id: str | None,
    ) -> Deal:
        """`Deal(...)` without the library's per-call introspection (batch paths).

        The same aggregate and the same `Opened` event as the constructor; a test
        holds the two equal.
        """
        deal_id = deal_id_for(pipeline, contact_id, object_id)
        timestamp = _now()
        opened = _event(
            _OPENED,
            {
                "originator_id": deal_id,
                "originator_version": 1,
                "timestamp": timestamp,
                "originator_topic": _DEAL_TOPIC,
                "pipeline": pipeline,
                "pipeline_version": pipeline_version,
                "contact_id": contact_id,
                "object_id": object_id,
            },
        )
        deal = cls.__new__(cls)
        deal.__base_init__(deal_id, 1, timestamp)
        deal.pipeline = pipeline
        deal.pipeline_version = pipeline_version
        deal.contact_id = contact_id
        deal.object_id = object_id
        deal.entries = []
        deal.pending_events.append(opened)
        return deal

    def record(
        self,
        pipeline: Pipeline,
        entry: Entry,
        digest: str = "",
        prior: Decision | None = None,
    ) -> Decision:
        """Validate `entry` through the engine, then record it as this deal's event.

        `prior`: this deal's previous decision, to fold on from; by default the
        last one this very object made (a cached deal's next action then folds
        one entry, not its whole history). The event is built and applied here
        directly, as the `@event` methods below would (they still apply stored
        events): the library's generic trigger costs more than the engine itself
        on the import path.
        """
        self.check_pipeline(pipeline)
        version = self.version + 1
        new, event_class, data = _recorded(entry, version, digest)
        decision = decide(pipeline, self.entries, new, prior or self.last_decision)
        timestamp = _now()
        event = _event(
            event_class,
            {
                "originator_id": self.id,
                "originator_version": version,
                "timestamp": timestamp,
                **data,
            },
        )
        self.entries.append(new)
        self.version = version
        self.modified_on = timestamp
        self.pending_events.append(event)
        self.last_decision = decision
        return decision

    def mark(self) -> DealMark:
        """Where this deal stands now, for `restore` to come back to."""
        return DealMark(
            self.version, len(self.entries), self.modified_on, self.last_decision
        )

    def restore(self, mark: DealMark) -> Deal:
        """Undo what `record` did since `mark`: its events were never stored.

        A batch that loses a race to another process puts its deals back in
        the cache this way, so staging it again reads only the winner's events
        instead of every deal's whole history.
        """
        del self.entries[mark.entries :]
        self.version = mark.version
        self.modified_on = mark.modified_on
        self.last_decision = mark.last_decision
        self.pending_events.clear()
        return self

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


_now = Deal.Event.create_timestamp
_DEAL_TOPIC = get_topic(Deal)
_OPENED: type[Any] = Deal.Opened


def _event(event_class: type[Any], state: dict[str, Any]) -> Any:
    """An event object with `state` as its attributes, in the dataclass's order.

    `Mapper.to_stored_event` encodes `vars(event)`: equal dicts in equal order
    store equal bytes.
    """
    event = object.__new__(event_class)
    vars(event).update(state)
    return event


EVENT_KINDS: dict[type[Any], EntryKind] = {
    Deal.ActionLogged: "action",
    Deal.ManuallyMoved: "move",
    Deal.ActionVoided: "void",
    Deal.Expired: "expiry",
}
DEAL_EVENTS = tuple(EVENT_KINDS)

# Each kind's event class, its fields in order, a getter of their values from an
# Entry (the command's digest is filled in after), and what `_append` keeps of an
# entry besides its id and time (the rest stays None).
_ENTRY_ATTRIBUTE = {
    "action_id": "entry_id",
    "voided_action_id": "voids",
    "digest": "entry_id",  # a stand-in, replaced by the digest
}
_KEPT = ("type", "outcome", "fields", "phase", "reason", "voids", "actor", "note")
_REQUIRED = {
    "action": ("type",),
    "move": ("phase",),
    "void": ("voided_action_id", "reason"),
    "expiry": ("phase",),
}


def _shape(
    event_class: type[Any],
) -> tuple[type[Any], tuple[str, ...], Any, tuple[tuple[str, str], ...]]:
    names = tuple(
        f.name
        for f in dataclasses.fields(event_class)
        if f.name not in ("originator_id", "originator_version", "timestamp")
    )
    attributes = [_ENTRY_ATTRIBUTE.get(name, name) for name in names]
    kept = tuple((a, n) for n, a in zip(names, attributes, strict=True) if a in _KEPT)
    return event_class, names, operator.attrgetter(*attributes), kept


_SHAPES = {kind: _shape(cls) for cls, kind in EVENT_KINDS.items()}


def _recorded(
    entry: Entry, version: int, digest: str
) -> tuple[Entry, type[Any], dict[str, Any]]:
    """The entry as the deal keeps it (what `_append` makes), its event's class
    and the event's data."""
    event_class, names, values, kept = _SHAPES[entry.kind]
    data = dict(zip(names, values(entry), strict=True))
    if "fields" in data:
        data["fields"] = dict(entry.fields)
    if "digest" in data:
        data["digest"] = digest
    assert all(data[name] is not None for name in _REQUIRED[entry.kind])
    keep: dict[str, Any] = {attribute: data[name] for attribute, name in kept}
    new = Entry(entry.kind, entry.entry_id, entry.occurred_at, version, **keep)
    return new, event_class, data


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
