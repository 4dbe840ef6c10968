"""A batch's two reads, known action keys and the deals' newer events, at once."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from domain.deal import deal_id_for
from tests.storage.test_batch_conflicts import viewing

if TYPE_CHECKING:
    from collections.abc import Callable

    from domain.service import PhaseTracker


def test_lookup_answers_what_the_two_reads_answer(tracker: PhaseTracker) -> None:
    tracker.log_actions(
        [viewing("a", m, f"a-{m}") for m in (0, 5, 10)] + [viewing("b", 0, "b-0")]
    )
    a, b, c = (deal_id_for("fr-sale", x, "villa") for x in "abc")
    ids = ["a-5", "b-0", "never", "a-10"]
    versions = {a: 2, b: 0, c: 0}

    found, events = tracker.store.keys.lookup(ids, versions)

    assert found == tracker.store.find_actions(ids)
    assert set(found) == {"a-5", "b-0", "a-10"} and found["b-0"][0] == b
    assert events == tracker.store.keys.select_events_after(versions)
    assert [e.originator_version for e in events[a]] == [3, 4]  # in order
    assert [e.originator_version for e in events[b]] == [1, 2]
    assert c not in events
    assert tracker.store.keys.lookup([], {c: 0}) == ({}, {})


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_postgres_connections_start_without_jit(
    make_tracker: Callable[..., PhaseTracker], monkeypatch: pytest.MonkeyPatch
) -> None:
    """JIT compiling took a big batch's lookup from 12 to 99 ms (no statistics).

    Every connection of the pool has it off from the start, the first ones the
    library opens included, and options given in PGOPTIONS still apply.
    """
    monkeypatch.setenv("PGOPTIONS", "-c statement_timeout=7s")
    tracker = make_tracker()
    pool = tracker.store.recorder.datastore.pool
    with pool.connection() as first, pool.connection() as second:
        for conn in (first, second):
            settings = conn.execute(
                "SELECT current_setting('jit') AS jit, "
                "current_setting('statement_timeout') AS timeout"
            ).fetchone()
            assert settings == {"jit": "off", "timeout": "7s"}
