"""Webhooks' pure rules: which changes a history makes, filters, retries, URLs."""

from __future__ import annotations

import datetime as dt
import uuid

from domain.history import Entry
from domain.webhooks import (
    RETRY_SECONDS,
    Filter,
    message_id,
    new_secret,
    next_delay,
    phase_changes,
    retry_after,
    url_problem,
)
from storage.definitions import load_presets

TESORO = load_presets()["nl-tesoro"]
DAY = dt.datetime(2024, 3, 4, 9, tzinfo=dt.UTC)


def action(seq: int, type: str, day: int, id: str | None = None) -> Entry:
    return Entry(
        "action", id or f"a{seq}", DAY + dt.timedelta(days=day), seq, type=type
    )


def test_only_entries_that_change_the_derived_phase_are_changes() -> None:
    entries = [
        action(2, "contact_captured", 0),
        action(3, "contact_captured", 1),  # already in lead: nothing
        action(4, "budget_confirmed", 2),
    ]
    found = [
        (c.entry.seq, c.before, c.after)
        for c in phase_changes(TESORO, entries, [2, 3, 4])
    ]
    assert found == [(2, None, "lead"), (4, "lead", "qualification")]


def test_a_back_dated_entry_is_judged_by_what_it_changed_now() -> None:
    entries = [
        action(2, "contact_captured", 0),
        action(3, "budget_confirmed", 5),
        action(4, "budget_confirmed", 2),  # back-dated: the phase stays
    ]
    assert list(phase_changes(TESORO, entries, [4])) == []


def test_a_void_sends_the_way_back() -> None:
    entries = [
        action(2, "contact_captured", 0),
        action(3, "budget_confirmed", 1),
        Entry("void", "v1", DAY + dt.timedelta(days=2), 4, voids="a3"),
    ]
    [change] = phase_changes(TESORO, entries, [4])
    assert (change.before, change.after) == ("qualification", "lead")


def test_an_empty_filter_wants_everything_and_each_part_narrows() -> None:
    assert Filter().wants("nl-tesoro", "lead", "open")
    assert Filter(kinds=("won",)).wants("x", "won", "won")
    assert not Filter(kinds=("won",)).wants("x", "lead", "open")
    assert not Filter(pipelines=("fr-sale",)).wants("nl-tesoro", "lead", "open")
    assert not Filter(phases=("lead",)).wants("nl-tesoro", None, None)


def test_retries_follow_the_schedule_with_jitter_then_stop() -> None:
    assert next_delay(1, RETRY_SECONDS, 0.5) == 5
    assert 4 <= next_delay(1, RETRY_SECONDS, 0.0) <= 5  # type: ignore[operator]
    assert next_delay(len(RETRY_SECONDS) + 1, RETRY_SECONDS, 0.5) is None
    assert 70 * 3600 < sum(RETRY_SECONDS) < 80 * 3600  # about three days


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = dt.datetime(2024, 3, 4, 9, tzinfo=dt.UTC)
    assert retry_after("120", now) == 120
    assert retry_after("Mon, 04 Mar 2024 09:01:00 GMT", now) == 60
    assert retry_after("soon", now) is None
    assert retry_after(None, now) is None


def test_urls_must_be_http_with_a_host() -> None:
    assert url_problem("https://example.com/h") is None
    assert url_problem("ftp://example.com/h") == "must be an http or https URL"
    assert url_problem("http:///nohost") == "has no host"
    assert url_problem("https://u:p@example.com/") is not None


def test_secrets_and_ids() -> None:
    assert new_secret(bytes(32)).startswith("whsec_")
    deal = uuid.uuid4()
    assert message_id("wh_1", deal, 3) == message_id("wh_1", deal, 3)
    assert message_id("wh_1", deal, 3) != message_id("wh_2", deal, 3)
