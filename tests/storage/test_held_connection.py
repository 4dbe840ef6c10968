"""A batch's reads and its save share one pool loan, and survive losing it.

Group commit runs three statements per batch (known action keys, the deals'
newer events, the save); each on a loan of its own cost as much Python as the
statement. `held()` lends one connection for the whole call instead.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import pytest

from domain.commands import Result, VoidAction
from tests.api.test_lost_connections import end_connections_named
from tests.storage.test_batch_conflicts import viewing

if TYPE_CHECKING:
    from collections.abc import Callable

    from domain.service import PhaseTracker

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


def loans(tracker: PhaseTracker) -> int:
    stats: dict[str, int] = tracker.store.recorder.datastore.pool.get_stats()  # type: ignore[attr-defined]
    return stats.get("requests_num", 0)


def test_a_batch_reads_and_saves_on_one_loan(tracker: PhaseTracker) -> None:
    tracker.log_actions([viewing("a", 0, "a-0"), viewing("b", 0, "b-0")])
    batch = [viewing("a", 5, "a-1"), viewing("c", 0, "c-0"), viewing("b", 5, "b-1")]

    before = loans(tracker)
    answers = tracker.log_actions(batch, isolate=True)

    assert loans(tracker) - before == 1
    assert [type(a) for a in answers] == [Result, Result, Result]
    voids = [VoidAction(action_id=i, reason="typo") for i in ("a-1", "c-0")]
    before = loans(tracker)
    assert all(isinstance(a, Result) for a in tracker.void_many(voids))
    assert loans(tracker) - before == 1


def test_a_held_connection_ended_before_the_save_is_replaced(
    make_tracker: Callable[..., PhaseTracker],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # libpq names the tracker's connections from its environment (PGAPPNAME),
    # so only they are ended, not those of other tests on the server.
    name = f"phaselog-held-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("PGAPPNAME", name)
    tracker = make_tracker()
    tracker.log_action(viewing("a", 0, "a-0"))
    real_save = tracker.store.save

    def save_after_the_server_ended_it(deals: Any, keys: Any = ()) -> Any:
        assert end_connections_named(database_url, name) > 0
        return real_save(deals, keys)

    monkeypatch.setattr(tracker.store, "save", save_after_the_server_ended_it)
    answers = tracker.log_actions(
        [viewing("a", 5, "a-1"), viewing("b", 0, "b-0")], isolate=True
    )
    monkeypatch.undo()

    assert [type(a) for a in answers] == [Result, Result]
    deal = answers[0].deal_id  # type: ignore[union-attr]
    steps = tracker.timeline(deal).steps
    assert [s.entry.entry_id for s in steps] == ["a-0", "a-1"]
    # The broken connection went back to the pool and was dropped there.
    assert tracker.log_actions([viewing("b", 5, "b-1")], isolate=True)[0].phase
