"""A correction leaves a deal exactly where the corrected history, typed in order,
would have put it (hypothesis, over the real presets).

A history is typed in business order, each command through `decide` as the
app would; then a void of one of its entries, or an action back-dated among
them, is decided as a correction. The same corrected history typed in order
from scratch is the oracle: the correction is refused exactly when the oracle
refuses one of its commands, and when both take it, the states match, the
first step that chains to another pipeline included.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.engine import decide, replay
from domain.errors import InvalidCommand
from domain.history import DealState, Entry
from tests.helpers.deal_story import START, presets

if TYPE_CHECKING:
    from domain.pipeline import FieldSpec, Pipeline

HOURS = st.integers(min_value=0, max_value=24 * 60)


def _value(spec: FieldSpec) -> Any:
    return {
        "enum": spec.values[0] if spec.values else "x",
        "date": "2024-05-01",
        "number": 1,
        "boolean": True,
    }.get(spec.type, "given")


def complete_fields(pipeline: Pipeline) -> dict[str, Any]:
    """Every field any phase or action of `pipeline` asks for, filled in."""
    specs = [s for p in pipeline.phases for s in p.requires]
    specs += [s for a in pipeline.actions for s in a.requires]
    fields = {s.name: _value(s) for s in specs}
    for spec in specs:
        if spec.detail_field:
            fields[spec.detail_field] = "given"
    return {**fields, "skip_reason": "agreed with the client", "upsell": True}


@st.composite
def commands(draw: st.DrawFn, pipeline: Pipeline, hour: int, name: str) -> Entry:
    """One command at `hour`: mostly an action, now and then a manual move or an
    expiry; its fields complete or missing, as people send them."""
    fields = complete_fields(pipeline) if draw(st.booleans()) else {}
    base = Entry(
        kind="action",
        entry_id=name,
        occurred_at=START + dt.timedelta(hours=hour),
        seq=0,
        fields=fields,
        reason=draw(st.sampled_from((None, "the client asked"))),
    )
    roll = draw(st.integers(0, 9))
    if roll == 0:
        phase = draw(st.sampled_from(pipeline.phases)).key
        return base._replace(kind="move", phase=phase)
    if roll == 1 and pipeline.expiry is not None:
        return base._replace(
            kind="expiry",
            phase=pipeline.expiry.to,
            fields=pipeline.expiry.fields,
            reason=None,
        )
    action = draw(st.sampled_from(pipeline.actions))
    outcome = draw(st.sampled_from((None, *action.outcomes)))
    return base._replace(type=action.key, outcome=outcome, reason=None)


def _kept(entry: Entry) -> Entry:
    """What a deal stores of an entry of its kind (a move keeps its reason)."""
    return entry if entry.kind == "move" else entry._replace(reason=None)


def typed(pipeline: Pipeline, entries: list[Entry]) -> list[Entry]:
    """Each entry typed in business order; those refused are left out."""
    kept: list[Entry] = []
    for entry in sorted(entries, key=lambda e: e.occurred_at):
        new = entry._replace(seq=len(kept) + 1)
        try:
            decide(pipeline, kept, new)
        except InvalidCommand:
            continue
        kept.append(new)
    return kept


def oracle(pipeline: Pipeline, entries: list[Entry]) -> DealState | None:
    """The state of `entries` typed in business order, or None if one is refused."""
    kept = typed(pipeline, entries)
    return replay(pipeline, kept) if len(kept) == len(entries) else None


def first_chain(state: DealState) -> str | None:
    return next((s.entry.entry_id for s in state.steps if s.chain), None)


def assert_same(corrected: DealState | None, expected: DealState | None) -> None:
    assert (corrected is None) == (expected is None)
    if corrected is not None and expected is not None:
        assert corrected.fingerprint() == expected.fingerprint()
        assert first_chain(corrected) == first_chain(expected)


def _corrected(
    pipeline: Pipeline, history: list[Entry], new: Entry
) -> DealState | None:
    try:
        return decide(pipeline, history, new).after
    except InvalidCommand:
        return None


@st.composite
def typed_histories(draw: st.DrawFn) -> tuple[Pipeline, list[Entry], list[int]]:
    pipeline = presets()[draw(st.sampled_from(sorted(presets())))]
    hours = sorted(draw(st.lists(HOURS, min_size=2, max_size=14, unique=True)))
    drafts = [draw(commands(pipeline, h, f"e{i}")) for i, h in enumerate(hours)]
    return pipeline, typed(pipeline, [_kept(d) for d in drafts]), hours


@settings(deadline=None, max_examples=300)
@given(st.data())
def test_a_back_dated_command_decides_as_the_history_typed_in_order(
    data: st.DataObject,
) -> None:
    pipeline, history, hours = data.draw(typed_histories())
    if not history:
        return
    last = max(e.occurred_at for e in history)
    hour = data.draw(
        HOURS.filter(lambda h: h not in hours and START + dt.timedelta(hours=h) < last)
    )
    late = _kept(data.draw(commands(pipeline, hour, "late")))
    new = late._replace(seq=len(history) + 1)

    assert_same(_corrected(pipeline, history, new), oracle(pipeline, [*history, late]))


@settings(deadline=None, max_examples=300)
@given(st.data())
def test_a_void_decides_as_the_history_typed_in_order_without_its_action(
    data: st.DataObject,
) -> None:
    pipeline, history, _ = data.draw(typed_histories())
    if not history:
        return
    victim = data.draw(st.sampled_from(history))
    void = Entry(
        kind="void",
        entry_id="void",
        occurred_at=max(e.occurred_at for e in history) + dt.timedelta(hours=1),
        seq=len(history) + 1,
        voids=victim.entry_id,
        reason="logged on the wrong deal",
    )
    rest = [e for e in history if e is not victim]

    assert_same(_corrected(pipeline, history, void), oracle(pipeline, rest))
