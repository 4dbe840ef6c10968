"""The fast decoder gives exactly the entries the library's mapper path gives."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from domain.commands import MoveDeal, VoidAction
from domain.deal import entry_from_event
from storage.decode import DEAL_TOPICS, OPENED_TOPIC, Decoder
from tests.projections.conftest import SKIP, day, log

if TYPE_CHECKING:
    from domain.service import PhaseTracker

# Field values a naive decoder could get wrong: markers inside strings, a dict
# that looks like a transcoded object but is not one, dates as plain text.
TRICKY_FIELDS = {
    "note": 'said "_type_" and "_data_"',
    "shape": {"_type_": "datetime_iso", "_data_": "2026-01-01", "extra": 1},
    "when": "2026-03-02T09:00:00+00:00",
    "nested": [{"a": None, "b": [1, 2.5, True]}],
    "owner": "agent-07",
}


def test_every_stored_deal_event_decodes_to_the_mappers_entry(
    tracker: PhaseTracker,
) -> None:
    # Step: a history with every kind of deal event, some with tricky fields.
    first = log(tracker, "ann", "contact_captured", 0, **TRICKY_FIELDS)
    log(tracker, "ann", "viewing", 2, actor="agent-02", **SKIP)
    log(tracker, "ann", "budget_confirmed", 1)  # back-dated
    voided = log(tracker, "bob", "contact_captured", 0)
    tracker.void(VoidAction(voided.action_id, reason="wrong deal"))
    phase = tracker.pipeline("nl-tesoro").phases[-1].key
    tracker.move(MoveDeal(first.deal_id, phase, reason="signed", occurred_at=day(3)))
    idle = log(tracker, "idle", "meeting_booked", 0, pipeline="hubspot-default")
    tracker.clock = lambda: day(120)
    tracker.expire(idle.deal_id)

    # Step: decode every stored deal event both ways.
    decoder = Decoder(tracker.store.mapper)
    assert decoder.fast
    stored = [
        n
        for n in tracker.store.recorder.select_notifications(0, 1000)
        if n.topic in DEAL_TOPICS
    ]
    assert {n.topic.rsplit(".", 1)[-1] for n in stored} == {
        "Opened",
        "ActionLogged",
        "ActionVoided",
        "ManuallyMoved",
        "Expired",
    }
    fast = 0
    for n in stored:
        deal_id = uuid.UUID(str(n.originator_id))
        event = tracker.store.mapper.to_domain_event(n)
        if n.topic == OPENED_TOPIC:
            opening = decoder.opening(deal_id, n.originator_version, n.topic, n.state)
            assert (
                opening.pipeline,
                opening.version,
                opening.contact_id,
                opening.object_id,
            ) == (
                event.pipeline,  # type: ignore[attr-defined]
                event.pipeline_version,  # type: ignore[attr-defined]
                event.contact_id,  # type: ignore[attr-defined]
                event.object_id,  # type: ignore[attr-defined]
            )
        else:
            entry = decoder.entry(deal_id, n.originator_version, n.topic, n.state)
            assert entry == entry_from_event(event)
            fast += decoder._state(n.state, ("timestamp", "occurred_at")) is not None
            assert entry.recorded_at is not None
            assert entry.recorded_at.tzinfo is not None
    assert fast == len(stored) - 4  # all but the Openings and the tricky action


def test_a_state_with_unknown_transcoded_values_goes_the_librarys_way(
    tracker: PhaseTracker,
) -> None:
    result = log(tracker, "ann", "contact_captured", 0, **TRICKY_FIELDS)
    decoder = Decoder(tracker.store.mapper)
    [n] = [
        n
        for n in tracker.store.recorder.select_notifications(0, 1000)
        if n.originator_version == 2 and n.topic in DEAL_TOPICS
    ]
    assert decoder._state(n.state, ("timestamp", "occurred_at")) is None
    entry = decoder.entry(result.deal_id, 2, n.topic, n.state)
    assert entry.fields == TRICKY_FIELDS


def test_values_orjson_refuses_go_the_librarys_way_and_the_rest_stay_fast(
    tracker: PhaseTracker,
) -> None:
    # Step: one action orjson cannot read (an integer past 64 bits), one it can
    # (floats that round, text outside ASCII).
    unusual = {"big": 2**70 + 1, "ratio": 0.1, "tiny": 5e-324, "text": "é€😀\u2028"}
    wide = log(tracker, "ann", "contact_captured", 0, **unusual)
    plain = log(tracker, "bob", "contact_captured", 0, ratio=0.1, text="é€😀\u2028")
    decoder = Decoder(tracker.store.mapper)
    stored = {
        n.originator_id: n
        for n in tracker.store.recorder.select_notifications(0, 1000)
        if n.originator_version == 2 and n.topic in DEAL_TOPICS
    }
    times = ("timestamp", "occurred_at")

    # Step: both decode to the mapper's entry; only the wide one took its way.
    for result, fast in ((plain, True), (wide, False)):
        n = stored[result.deal_id]
        assert (decoder._state(n.state, times) is not None) is fast
        entry = decoder.entry(result.deal_id, 2, n.topic, n.state)
        assert entry == entry_from_event(tracker.store.mapper.to_domain_event(n))
        assert type(entry.fields.get("big", 0)) is int  # whole, not a float
    assert entry.fields["big"] == 2**70 + 1
