"""orjson encodes what the library's encoder would, or leaves it to the library."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    UUIDAsHex,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.transcoder import FastJSONTranscoder, plain
from tests.projections.conftest import SKIP, log
from tests.projections.test_decode import TRICKY_FIELDS

if TYPE_CHECKING:
    from domain.service import PhaseTracker


def registered(transcoder: JSONTranscoder) -> JSONTranscoder:
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return transcoder


LIBRARY, FAST = registered(JSONTranscoder()), registered(FastJSONTranscoder())

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63 - 2, max_value=2**64 + 1)
    | st.floats()  # NaN and the infinities too
    | st.sampled_from([float("nan"), float("inf"), -0.0, 1e16, 5e-324])
    | st.text(st.characters(codec="utf-8"))
    | st.datetimes(timezones=st.none() | st.just(dt.UTC))
    | st.uuids()
    | st.decimals(allow_nan=False)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=5) | st.integers(), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300)  # cheap examples; the odd values are rare in each
@given(st.dictionaries(st.text(max_size=8), values, max_size=6))
def test_a_state_decodes_as_the_librarys_encoding_does(state: dict[str, Any]) -> None:
    expected = LIBRARY.encode(state)
    got = FAST.encode(state)
    assert got == expected or LIBRARY.decode(got) == LIBRARY.decode(expected)


@pytest.mark.parametrize("refused", [dt.date(2026, 1, 1), "\ud800", object()])
def test_what_the_library_refuses_is_refused_alike(refused: object) -> None:
    state = {"fields": {"x": refused}}
    with pytest.raises(Exception) as expected:  # noqa: PT011 - compared below
        LIBRARY.encode(state)
    with pytest.raises(expected.type):
        FAST.encode(state)


def test_what_orjson_would_write_its_own_way_goes_the_librarys_way() -> None:
    for odd in (uuid.uuid4(), decimal.Decimal("1.10"), 2**70, float("nan"), (1, 2)):
        state = {"fields": {"x": [odd]}}
        assert not plain(state)
        assert FAST.encode(state) == LIBRARY.encode(state)
    assert LIBRARY.decode(FAST.encode({"f": 1e16})) == {"f": 1e16}


def test_stored_events_are_written_fast_and_read_back_whole(
    tracker: PhaseTracker,
) -> None:
    fields = {**TRICKY_FIELDS, "big": 2**70, "price": 1e16, "name": "Ærø ✓"}
    logged = log(tracker, "ann", "contact_captured", 0, **fields)
    log(tracker, "ann", "viewing", 2, actor="agent-02", **SKIP)

    stored = [
        n
        for n in tracker.store.recorder.select_notifications(0, 100)
        if n.topic.endswith("ActionLogged")
    ]
    assert len(stored) == 2
    for n in stored:
        state = LIBRARY.decode(n.state)
        assert n.state == LIBRARY.encode(state) or LIBRARY.decode(
            FAST.encode(state)
        ) == LIBRARY.decode(LIBRARY.encode(state))
    assert plain(LIBRARY.decode(stored[1].state))  # the usual action: orjson's way
    assert not plain(LIBRARY.decode(stored[0].state))  # 2**70: the library's way
    steps = tracker.timeline(logged.deal_id).steps
    assert steps[0].entry.fields == fields
