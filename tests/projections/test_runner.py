"""The batched runner: pages, exactly once, back-dated actions, waking up."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import pytest

from domain.commands import VoidAction
from projections.runner import Projector
from projections.wakeup import SQLITE_POLL, FileWakeup, Wakeup
from tests.projections.conftest import SKIP, Crash, CrashingWriter, day, log, rows

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from domain.service import PhaseTracker


def _twelve_deals(tracker: PhaseTracker) -> None:
    for n in range(12):
        log(tracker, f"c{n}", "contact_captured", 0)
        log(tracker, f"c{n}", "budget_confirmed", 2)


def test_pipeline_versions_in_the_log_only_advance_the_position(
    projector: Projector,
) -> None:
    consumed = projector.catch_up()

    status = projector.status()
    assert consumed > 0  # the presets were registered as pipeline versions
    assert (status.position, status.lag, status.generation) == (status.head, 0, 1)
    assert rows(projector) == ([], [])


def test_a_crash_mid_page_leaves_nothing_half_done_and_resumes_exactly_once(
    tracker: PhaseTracker,
    projector: Projector,
    make_tracker: Callable[..., PhaseTracker],
) -> None:
    _twelve_deals(tracker)
    projector.writer = CrashingWriter(projector.store, projector.schema, crash_on=3)
    projector.run_once()
    projector.run_once()
    before = projector.status().position
    rows_before = rows(projector)

    with pytest.raises(Crash):
        projector.run_once()

    assert projector.status().position == before
    assert rows(projector) == rows_before
    # Step: a new process takes over from the tracked position.
    restarted = Projector(make_tracker(), page_size=5)
    restarted.catch_up()
    resumed = rows(restarted)
    assert restarted.status().lag == 0
    assert restarted.verify() == []
    funnel = restarted.reports.funnel(tracker.pipeline("nl-tesoro"))
    assert [(p.phase, p.reached, p.current) for p in funnel.phases[:2]] == [
        ("lead", 12, 0),
        ("qualification", 12, 12),
    ]
    # Step: a clean run from position 0 gives the very same rows.
    restarted.rebuild()
    assert rows(restarted) == resumed


def test_a_page_already_written_by_another_runner_is_not_written_again(
    tracker: PhaseTracker, make_tracker: Callable[..., PhaseTracker]
) -> None:
    log(tracker, "anna", "contact_captured", 0)
    first = Projector(tracker)
    second = Projector(make_tracker())

    assert first.page(1, "active", 0)
    assert second.page(1, "active", 0) is None
    assert len(rows(first)[0]) == 1


def test_a_back_dated_action_re_derives_the_deals_intervals(
    tracker: PhaseTracker, projector: Projector
) -> None:
    log(tracker, "anna", "contact_captured", 0)
    log(tracker, "anna", "offer_made", 10, **SKIP)
    projector.catch_up()
    deal_intervals = [(r[3], r[4], r[5]) for r in _intervals(projector)]
    assert deal_intervals == [("lead", day(0), day(10)), ("negotiation", day(10), None)]

    log(tracker, "anna", "budget_confirmed", 5)  # logged late, happened before
    projector.catch_up()

    assert [(r[3], r[4], r[5]) for r in _intervals(projector)] == [
        ("lead", day(0), day(5)),
        ("qualification", day(5), day(10)),
        ("negotiation", day(10), None),
    ]
    assert [r[1] for r in _intervals(projector)] == [0, 1, 2]


def test_a_void_takes_the_phase_back_in_the_read_model(
    tracker: PhaseTracker, projector: Projector
) -> None:
    log(tracker, "anna", "contact_captured", 0)
    offer = log(tracker, "anna", "offer_made", 3, **SKIP)
    projector.catch_up()

    tracker.void(VoidAction(action_id=offer.action_id, reason="typo"))
    projector.catch_up()

    [deal] = projector.reports.deals(now=day(4)).rows
    assert (deal.phase, deal.phase_since) == ("lead", day(0))
    assert [r[3] for r in _intervals(projector)] == ["lead"]


def test_wait_for_returns_once_the_position_is_processed(
    tracker: PhaseTracker, projector: Projector
) -> None:
    result = log(tracker, "anna", "contact_captured", 0)

    assert projector.wait_for(result.position, timeout=10)  # no thread: runs pages
    assert projector.status().position >= result.position
    assert not projector.wait_for(result.position + 1000, timeout=0.2)


def test_the_background_loop_stops_at_a_short_page_not_chasing_new_events(
    tracker: PhaseTracker, projector: Projector
) -> None:
    projector.catch_up()  # the presets' pipeline versions
    _twelve_deals(tracker)
    pages: list[int] = []
    page = projector.run_once

    def page_while_agents_log() -> int:
        consumed = page()
        pages.append(consumed)
        if len(pages) <= 30:  # a request lands while each page is written
            log(tracker, f"late{len(pages)}", "contact_captured", 0)
        return consumed

    projector.run_once = page_while_agents_log  # type: ignore[method-assign]

    consumed = projector.follow()

    assert sum(pages) == consumed
    assert all(n == projector.page_size for n in pages[:-1])
    assert 0 < pages[-1] < projector.page_size  # caught up as of its read: stop
    assert projector.status().lag > 0  # what came meanwhile waits for the settle
    projector.catch_up()
    assert projector.status().lag == 0


def test_a_lost_notify_does_not_stall_the_runner(
    make_tracker: Callable[..., PhaseTracker], projector: Projector
) -> None:
    writer = make_tracker()
    # A fake recorder hook: this writer never NOTIFYs (on SQLite there is none).
    writer.store.recorder._notify_channel = lambda cursor: None  # type: ignore[attr-defined]
    projector.catch_up()
    projector.start()

    result = log(writer, "anna", "contact_captured", 0)

    # Wait on committed pages only: nothing pokes the runner, polling must find it.
    with projector.progressed:
        reached = projector.progressed.wait_for(
            lambda: projector.status().position >= result.position, timeout=10
        )
    assert reached
    projector.stop()
    projector.start()  # restartable, and start is idempotent
    projector.start()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # NOTIFY, locks
def test_a_standby_is_not_woken_by_commits_and_takes_over_when_the_holder_goes(
    tracker: PhaseTracker, projector: Projector
) -> None:
    holder = projector.store.wakeup(projector.lock_key)
    standby = projector.store.wakeup(projector.lock_key)
    commits: list[threading.Timer] = []
    limit = 10.0  # a wait that ends before this was woken, not timed out

    def commit_soon(contact: str) -> None:
        commit = threading.Timer(0.2, log, (tracker, contact, "contact_captured", 0))
        commit.start()
        commits.append(commit)

    try:
        assert holder.acquire()
        assert not standby.acquire()

        # Step: a commit while both wait: the standby sleeps its whole interval
        # (it would otherwise ask for the lock at every commit); the holder has
        # the commit's NOTIFY waiting and wakes for it.
        commit_soon("anna")
        assert _waited(standby, 1.0) >= 1.0
        assert _waited(holder, limit) < limit

        # Step: the holder goes; the standby takes the lock and is woken by commits.
        holder.close()
        assert standby.acquire()
        commit_soon("bert")
        assert _waited(standby, limit) < limit
    finally:
        for commit in commits:
            commit.join()
        holder.close()
        standby.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # a file
def test_on_sqlite_one_runner_holds_the_file_lock_and_polls_a_standby_takes_over(
    projector: Projector,
) -> None:
    holder = projector.store.wakeup(projector.lock_key)
    standby = projector.store.wakeup(projector.lock_key)
    try:
        assert holder.acquire()
        assert holder.acquire()  # still held: asking again is no new lock
        assert not standby.acquire()

        # Step: with no NOTIFY, the holder looks for new events every poll; the
        # standby only asks for the lock again once its interval is over.
        assert _waited(holder, 10.0) < 10.0
        assert _waited(standby, 3 * SQLITE_POLL) >= 3 * SQLITE_POLL

        # Step: the holder goes (its process ends); the standby takes over.
        holder.close()
        assert standby.acquire()
        assert not holder.acquire()
    finally:
        holder.close()
        standby.close()


def test_without_a_lock_file_the_runner_projects_unlocked(tmp_path: Path) -> None:
    wakeup = FileWakeup(str(tmp_path / "gone" / "phaselog.db.projector-lock"))

    assert wakeup.acquire()  # it cannot make the file: it projects, unlocked
    assert _waited(wakeup, 10.0) < 10.0  # and polls, as a holder does
    wakeup.close()


def _waited(wakeup: Wakeup, timeout: float) -> float:
    started = time.monotonic()
    wakeup.wait(timeout, threading.Event())
    return time.monotonic() - started


def test_a_started_runner_serves_read_your_writes(
    tracker: PhaseTracker, projector: Projector
) -> None:
    projector.start()
    result = log(tracker, "anna", "contact_captured", 0)

    assert projector.wait_for(result.position, timeout=10)
    [deal] = projector.reports.deals(now=day(1)).rows
    assert deal.deal_id == result.deal_id


def _intervals(projector: Projector) -> list[tuple[object, ...]]:
    return rows(projector)[1]
