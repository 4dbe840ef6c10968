"""Stored Deal events decoded straight into engine Entries: no event objects.

The library's mapper builds a domain event per stored event (topic resolution, an
object-hook JSON decode, an object), and the fold only wants an `Entry`. Here the
state is parsed by orjson (about twice as fast as the standard library's C scanner)
without a hook, and only the datetimes the events are known to carry are turned
back into datetimes, as `DatetimeAsISO` does. What orjson refuses and the standard
library reads (NaN, lone surrogates) goes the library's way, and so does a state
whose free-form `fields` hold a float that may be an integer past 64 bits: orjson
reads those as floats, where the standard library keeps them whole.

That shortcut is exact only when no other value in the state is a transcoded object,
so it is taken only when the state holds exactly as many `"_type_"` keys as the
event's known datetimes (a key inside a JSON string is escaped and never matches);
anything else, and any mapper with a cipher or compressor, goes the library's way.
`tests/projections/test_decode.py` checks both ways give equal entries.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from eventsourcing.persistence import JSONTranscoder, StoredEvent
from eventsourcing.utils import get_topic

from domain.deal import (
    DEAL_EVENTS,
    EVENT_KINDS,  # the one class -> kind table
    Deal,
    entry_from_event,
)
from domain.history import Entry

if TYPE_CHECKING:
    from eventsourcing.persistence import Mapper

OPENED_TOPIC = get_topic(Deal.Opened)
_KINDS = {get_topic(cls): kind for cls, kind in EVENT_KINDS.items()}
ENTRY_TOPICS = frozenset(_KINDS)  # the events that are history entries
DEAL_TOPICS = frozenset({OPENED_TOPIC, *_KINDS})
_TYPED = b'"_type_"'
_ISO = "datetime_iso"
_WIDE = 2.0**63  # past this, a float read by orjson may have been an integer


def _exact(value: Any) -> bool:
    """False if orjson may have read an integer past 64 bits as a float here.

    Only an event's `fields` hold free-form values; its other keys are known.
    """
    kind = type(value)
    if kind is float:
        return bool(-_WIDE < value < _WIDE)
    if kind is dict:
        return all(map(_exact, value.values()))
    if kind is list:
        return all(map(_exact, value))
    return True


@dataclass(frozen=True, slots=True)
class Opening:
    """What a deal's first event says about it."""

    deal_id: uuid.UUID
    pipeline: str
    version: int
    contact_id: str
    object_id: str | None


class Decoder:
    """Turns stored Deal event rows into `Opening`s and `Entry`s."""

    def __init__(self, mapper: Mapper[Any]) -> None:
        self.mapper = mapper
        transcoder = mapper.transcoder
        self.fast = (
            mapper.cipher is None
            and mapper.compressor is None
            and isinstance(transcoder, JSONTranscoder)
            and type(transcoder.names.get(_ISO)).__name__ == "DatetimeAsISO"
            and all(
                getattr(cls, "class_version", 1) == 1
                for cls in (Deal.Opened, *DEAL_EVENTS)
            )
        )

    def opening(
        self, deal_id: uuid.UUID, version: int, topic: str, state: bytes
    ) -> Opening:
        data = self._state(state, ("timestamp",))
        if data is None:
            event: Any = self._event(deal_id, version, topic, state)
            data = event.__dict__
        return Opening(
            deal_id,
            data["pipeline"],
            data["pipeline_version"],
            data["contact_id"],
            data["object_id"],
        )

    def entry(
        self, deal_id: uuid.UUID, version: int, topic: str, state: bytes
    ) -> Entry:
        """The same `Entry` as `entry_from_event(mapper.to_domain_event(...))`."""
        data = self._state(state, ("timestamp", "occurred_at"))
        if data is None:
            return entry_from_event(self._event(deal_id, version, topic, state))
        get = data.get
        # Every field given in order: a rebuild makes one Entry per event.
        return Entry(
            _KINDS[topic],
            data["action_id"],
            data["occurred_at"],
            version,
            data["timestamp"],
            get("type"),
            get("outcome"),
            get("fields") or {},
            get("phase"),
            get("reason"),
            get("voided_action_id"),
            get("actor"),
            get("note"),
            get("recorded_by"),
        )

    def _state(self, state: bytes, times: tuple[str, ...]) -> dict[str, Any] | None:
        """The decoded state, or None when only the library may decode it."""
        if not self.fast or state.count(_TYPED) != len(times):
            return None
        try:
            data = orjson.loads(state)
        except orjson.JSONDecodeError:
            return None
        if type(data) is not dict or not _exact(data.get("fields")):
            return None
        for name in times:
            value = data.get(name)
            if (
                type(value) is not dict
                or len(value) != 2
                or value.get("_type_") != _ISO
            ):
                return None
            data[name] = dt.datetime.fromisoformat(value["_data_"])
        return data

    def _event(self, deal_id: uuid.UUID, version: int, topic: str, state: bytes) -> Any:
        return self.mapper.to_domain_event(
            StoredEvent(
                originator_id=deal_id,
                originator_version=version,
                topic=topic,
                state=state,
            )
        )
