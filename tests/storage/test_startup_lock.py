"""Startup is one process at a time, on either database."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from api.settings import eventsourcing_env
from storage.startup import startup_lock

if TYPE_CHECKING:
    from api.settings import Settings


def test_a_second_startup_waits_until_the_first_is_done(settings: Settings) -> None:
    env = eventsourcing_env(settings)
    entered = threading.Event()
    with startup_lock(env):
        second = threading.Thread(target=lambda: _enter(env, entered), daemon=True)
        second.start()
        # Generous: a second startup that did not wait would be in by now.
        assert not entered.wait(2)
    assert entered.wait(30)
    second.join(30)


def _enter(env: dict[str, str], entered: threading.Event) -> None:
    with startup_lock(env):
        entered.set()
