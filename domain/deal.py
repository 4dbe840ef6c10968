"""The Deal aggregate: one sales process, its history as immutable events.

`record` checks a new entry through the engine (`decide`: the pipeline's rules
and guards) and only then triggers the event of its kind, so a refused command
leaves no event behind. Each event's `apply` appends the engine's view of its
entry to the deal, whether the event is new or read back from the log.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from typing import Any, NamedTuple

from eventsourcing.domain import Aggregate, event

from domain.engine import Decision, decide
from domain.history import Entry, EntryKind
from domain.pipeline import Pipeline

DEAL_NAMESPACE = uuid.UUID("6f0e3c5e-3b7a-4d55-9c1e-5a4f1f6f3a10")
# Deterministic ids of the entries the service writes itself (voids, expiries,
# chains), so writing one twice stores it once.
KEY_NAMESPACE = uuid.UUID("3d3c0a8e-5b0e-4a43-a7f4-2c6b1b8f9e55")
# What each kind of entry keeps besides its id and time (the rest stays None).
KEPT: dict[EntryKind, tuple[str, ...]] = {
    "action": ("type", "outcome", "fields", "actor", "note", "recorded_by"),
    "move": ("phase", "reason", "fields", "actor", "recorded_by"),
    "void": ("voids", "reason", "actor", "recorded_by"),
    "expiry": ("phase", "fields", "recorded_by"),
}


@functools.lru_cache(maxsize=4096)  # an import asks once for each of a deal's actions
def deal_id_for(
    pipeline: str, contact_id: str, object_id: str | None, process: int = 1
) -> uuid.UUID:
    """The deterministic id of a deal: logging by natural keys finds or opens it.

    `process`: the contact's first sales process for the object in this
    pipeline is 1; each one opened after the one before closed counts on.
    """
    key = f"{pipeline}\x1f{contact_id}\x1f{object_id or ''}"
    if process != 1:
        key = f"{key}\x1f{process}"
    return uuid.uuid5(DEAL_NAMESPACE, key)


class DealMark(NamedTuple):
    version: int
    entries: int
    pending: int
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
        # Which sales process of the contact and object this is (1: the first;
        # a deal opened before processes were counted has none and is the 1st).
        process: int = 1

    class ActionLogged(Aggregate.Event):
        action_id: str
        type: str
        occurred_at: dt.datetime
        outcome: str | None
        fields: dict[str, Any]
        actor: str | None
        note: str | None
        digest: str
        recorded_by: dict[str, str] | None = None  # None: stored before it was

        def apply(self, deal: Deal) -> None:
            deal.append(
                "action",
                self.action_id,
                self.occurred_at,
                type=self.type,
                outcome=self.outcome,
                fields=self.fields,
                actor=self.actor,
                note=self.note,
                recorded_by=self.recorded_by,
            )

    class ManuallyMoved(Aggregate.Event):
        action_id: str
        phase: str
        occurred_at: dt.datetime
        reason: str | None
        fields: dict[str, Any]
        actor: str | None
        digest: str
        recorded_by: dict[str, str] | None = None

        def apply(self, deal: Deal) -> None:
            deal.append(
                "move",
                self.action_id,
                self.occurred_at,
                phase=self.phase,
                reason=self.reason,
                fields=self.fields,
                actor=self.actor,
                recorded_by=self.recorded_by,
            )

    class ActionVoided(Aggregate.Event):
        action_id: str
        voided_action_id: str
        occurred_at: dt.datetime
        reason: str
        actor: str | None
        digest: str
        recorded_by: dict[str, str] | None = None

        def apply(self, deal: Deal) -> None:
            deal.append(
                "void",
                self.action_id,
                self.occurred_at,
                voids=self.voided_action_id,
                reason=self.reason,
                actor=self.actor,
                recorded_by=self.recorded_by,
            )

    class Expired(Aggregate.Event):
        action_id: str
        phase: str
        occurred_at: dt.datetime
        fields: dict[str, Any]
        recorded_by: dict[str, str] | None = None

        def apply(self, deal: Deal) -> None:
            deal.append(
                "expiry",
                self.action_id,
                self.occurred_at,
                phase=self.phase,
                fields=self.fields,
                recorded_by=self.recorded_by,
            )

    @event(Opened)
    def __init__(
        self,
        pipeline: str,
        pipeline_version: int,
        contact_id: str,
        object_id: str | None,
        process: int = 1,
    ) -> None:
        self.pipeline = pipeline
        self.pipeline_version = pipeline_version
        self.contact_id = contact_id
        self.object_id = object_id
        self.process = process
        self.entries: list[Entry] = []

    @staticmethod
    def create_id(
        pipeline: str, contact_id: str, object_id: str | None, process: int = 1
    ) -> uuid.UUID:
        return deal_id_for(pipeline, contact_id, object_id, process)

    # -- commands ------------------------------------------------------------

    def record(
        self,
        pipeline: Pipeline,
        entry: Entry,
        digest: str = "",
        prior: Decision | None = None,
    ) -> Decision:
        """Check `entry` through the engine, then record it as this deal's event.

        `prior`: this deal's previous decision, to fold on from; by default the
        last one this very object made (a cached deal's next action then folds
        one entry, not its whole history).
        """
        self.check_pipeline(pipeline)
        kind = entry.kind
        data = {name: getattr(entry, name) for name in KEPT[kind]}
        if "fields" in data:
            data["fields"] = dict(data["fields"])
        if data["recorded_by"] is not None:
            data["recorded_by"] = dict(data["recorded_by"])
        new = Entry(kind, entry.entry_id, entry.occurred_at, self.version + 1, **data)
        decision = decide(pipeline, self.entries, new, prior or self.last_decision)
        if kind == "void":
            data["voided_action_id"] = data.pop("voids")
        if kind != "expiry":
            data["digest"] = digest
        self.trigger_event(
            EVENTS[kind],
            action_id=entry.entry_id,
            occurred_at=entry.occurred_at,
            **data,
        )
        self.last_decision = decision
        return decision

    def check_pipeline(self, pipeline: Pipeline) -> None:
        if (pipeline.id, pipeline.version) != (self.pipeline, self.pipeline_version):
            raise AssertionError(
                f"deal {self.id} is pinned to {self.pipeline} v{self.pipeline_version}"
            )

    def mark(self) -> DealMark:
        """Where this deal stands now, for `restore` to come back to."""
        return DealMark(
            self.version,
            len(self.entries),
            len(self.pending_events),
            self.modified_on,
            self.last_decision,
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
        del self.pending_events[mark.pending :]
        return self

    def entry(self, action_id: str) -> Entry | None:
        for entry in self.entries:
            if entry.entry_id == action_id:
                return entry
        return None

    # -- what each event does when applied (see the event classes) ------------

    def append(
        self, kind: EntryKind, action_id: str, occurred_at: dt.datetime, **data: Any
    ) -> None:
        """The engine's view of an event being applied, new or read back.

        Runs before the library bumps `version`: the entry's seq is the event's.
        """
        self.entries.append(
            Entry(kind, action_id, occurred_at, seq=self.version + 1, **data)
        )


EVENTS: dict[EntryKind, type[Aggregate.Event]] = {
    "action": Deal.ActionLogged,
    "move": Deal.ManuallyMoved,
    "void": Deal.ActionVoided,
    "expiry": Deal.Expired,
}
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
        recorded_by=getattr(source, "recorded_by", None),
    )
