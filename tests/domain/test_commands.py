"""Command digests are stored with every action: they must never change."""

from __future__ import annotations

import dataclasses
import datetime as dt

from domain.commands import LogAction, digest_of

COMMAND = LogAction(
    pipeline="fr-sale",
    contact_id="c-1",
    object_id="villa",
    type="viewing",
    occurred_at=dt.datetime(2025, 1, 1, 9, tzinfo=dt.UTC),
    fields={"b": 1, "a": [1.5, "é"]},
    action_id="x",
)


def test_a_command_digest_is_the_one_stored_by_earlier_versions() -> None:
    # An action replayed with the same key is compared by this digest: a change
    # here would answer 409 to every client retrying an action stored before.
    assert digest_of(COMMAND) == (
        "1d1ba92732816098201e32cae38979759361cb5c10c1716901a6f172e81bca7e"
    )


def test_the_digest_ignores_the_idempotency_key_and_sees_the_content() -> None:
    assert digest_of(dataclasses.replace(COMMAND, action_id="y")) == digest_of(COMMAND)
    moved = dataclasses.replace(
        COMMAND, occurred_at=COMMAND.occurred_at + dt.timedelta(seconds=1)
    )  # type: ignore[operator]
    assert digest_of(moved) != digest_of(COMMAND)
