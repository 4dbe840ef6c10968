"""Engine properties over random histories of the real presets (hypothesis)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.deal import Deal
from domain.engine import decide, replay
from domain.errors import InvalidCommand
from domain.history import Entry
from tests.helpers.deal_story import START, presets

if TYPE_CHECKING:
    from domain.pipeline import Pipeline

History = tuple["Pipeline", list[Entry]]
HOURS = st.integers(min_value=0, max_value=24 * 365)
# Now and then an entry says what the deal is worth: the latest by business
# time wins, so the properties below hold for the amount and currency too.
MONEY = st.fixed_dictionaries(
    {},
    optional={
        "amount": st.integers(0, 10**6),
        "currency": st.sampled_from(["EUR", "USD"]),
    },
)


@st.composite
def histories(draw: st.DrawFn, min_size: int = 1) -> History:
    """Actions (now and then a manual move or an expiry) at distinct business times.

    The list order is the recording order, so business times arrive shuffled, as
    back-dated entries do.
    """
    pipeline = presets()[draw(st.sampled_from(sorted(presets())))]
    hours = draw(st.lists(HOURS, min_size=min_size, max_size=25, unique=True))
    entries = []
    for seq, hour in enumerate(hours, 1):
        base = Entry(
            kind="action",
            entry_id=f"e{seq}",
            occurred_at=START + dt.timedelta(hours=hour),
            seq=seq,
            recorded_at=START + dt.timedelta(days=400, minutes=seq),
            fields={"n": seq, **draw(MONEY)},
        )
        roll = draw(st.integers(0, 9))
        if roll == 0:
            phase = draw(st.sampled_from(pipeline.phases)).key
            entries.append(base._replace(kind="move", phase=phase))
        elif roll == 1 and pipeline.expiry is not None:
            expiry = base._replace(kind="expiry", phase=pipeline.expiry.to)
            entries.append(expiry)
        else:
            action = draw(st.sampled_from(pipeline.actions))
            outcome = draw(st.sampled_from((None, *action.outcomes)))
            entries.append(base._replace(type=action.key, outcome=outcome))
    return pipeline, entries


@settings(deadline=None)
@given(histories())
def test_replay_is_deterministic(history: History) -> None:
    pipeline, entries = history
    first = replay(pipeline, entries)
    assert replay(pipeline, entries) == first
    assert replay(pipeline, entries[::-1]) == first


@settings(deadline=None)
@given(st.data())
def test_recording_order_does_not_matter_for_distinct_business_times(
    data: st.DataObject,
) -> None:
    pipeline, entries = data.draw(histories())
    order = data.draw(st.permutations(range(len(entries))))
    rerecorded = [entry._replace(seq=order[i] + 1) for i, entry in enumerate(entries)]
    assert (
        replay(pipeline, rerecorded).fingerprint()
        == replay(pipeline, entries).fingerprint()
    )


@settings(deadline=None)
@given(st.data())
def test_voiding_an_entry_equals_never_having_logged_it(data: st.DataObject) -> None:
    pipeline, entries = data.draw(histories())
    victim = data.draw(st.sampled_from(entries))
    void = Entry(
        kind="void",
        entry_id="void",
        occurred_at=START + dt.timedelta(hours=data.draw(HOURS)),
        seq=len(entries) + 1,
        voids=victim.entry_id,
        reason="logged on the wrong deal",
    )
    never = [entry for entry in entries if entry is not victim]
    assert (
        replay(pipeline, [*entries, void]).fingerprint()
        == replay(pipeline, never).fingerprint()
    )


@settings(deadline=None)
@given(histories())
def test_intervals_are_contiguous_non_overlapping_and_only_the_last_is_open(
    history: History,
) -> None:
    pipeline, entries = history
    state = replay(pipeline, entries)
    intervals = state.intervals
    if not intervals:
        assert state.phase is None
        return
    for before, after in zip(intervals, intervals[1:], strict=False):
        assert before.exited_at == after.entered_at
        assert before.entered_at <= before.exited_at
        assert before.phase != after.phase
    last = intervals[-1]
    assert last.exited_at is None
    assert (state.phase, state.phase_since) == (last.phase, last.entered_at)
    assert state.kind == pipeline.phase(last.phase).kind


@settings(deadline=None)
@given(histories(), st.lists(st.booleans(), min_size=25, max_size=25))
def test_a_deal_that_folds_on_from_its_last_decision_decides_as_a_fresh_fold(
    history: History, writers: list[bool]
) -> None:
    """Two copies of one deal take turns recording (two server processes); each
    applies the other's events, so a kept fold goes stale and must not be used."""
    pipeline, entries = history
    copies = [
        Deal(
            pipeline=pipeline.id,
            pipeline_version=pipeline.version,
            contact_id="c-1",
            object_id=None,
        )
        for _ in "ab"
    ]
    copies[1].version = 1  # the same deal, its opening already stored
    for entry, second in zip(entries, writers, strict=False):
        deal, other = copies[second], copies[not second]
        before = list(deal.entries)
        try:
            decision = deal.record(pipeline, entry)  # from deal.last_decision
        except InvalidCommand:
            continue
        deal.pending_events[-1].mutate(other)
        fresh = decide(pipeline, before, deal.entries[-1])
        assert decision.after == fresh.after == replay(pipeline, deal.entries)
        assert decision.step == fresh.step
