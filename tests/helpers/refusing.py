"""Recorders that refuse one value as a database refuses a value it cannot hold.

The API refuses every value phaselog knows a database cannot store; these stand
in for the one nobody foresaw: a save holding an action key that starts with
`poison` fails with the storage library's DataError (what psycopg raised for a
NUL byte in a key), after `gate` opens. Installed through the recorder topic the
settings name, so the service is otherwise exactly the real one.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import DataError

from storage.postgres import PostgresPhaselogRecorder
from storage.sqlite import SQLitePhaselogRecorder

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pytest
    from eventsourcing.persistence import StoredEvent

POISON = "poison"
gate = threading.Event()  # saves wait for it: a test lets requests pile up first


def _refused(kwargs: dict[str, Any]) -> bool:
    gate.wait(60)
    return any(key[0].startswith(POISON) for key in kwargs.get("action_keys") or [])


class RefusingSQLite(SQLitePhaselogRecorder):
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if _refused(kwargs):
            raise DataError("the database cannot hold this value")
        return super().insert_events(stored_events, **kwargs)


class RefusingPostgres(PostgresPhaselogRecorder):
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if _refused(kwargs):
            raise DataError("the database cannot hold this value")
        return super().insert_events(stored_events, **kwargs)


def install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Apps and trackers made after this use the refusing recorders."""
    gate.set()
    monkeypatch.setattr(
        "api.settings.SQLITE_RECORDER", f"{__name__}:{RefusingSQLite.__name__}"
    )
    monkeypatch.setattr(
        "api.settings.POSTGRES_RECORDER", f"{__name__}:{RefusingPostgres.__name__}"
    )
