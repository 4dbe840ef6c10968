"""A hand in the database: statements an auditor must catch, sent past phaselog.

On PostgreSQL the log's append-only triggers are disabled around them, as an
owner of the tables could.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from psycopg.sql import SQL, Identifier

from storage.ledger import LEAVES

if TYPE_CHECKING:
    from collections.abc import Sequence

    from domain.service import PhaseTracker


def tamper(tracker: PhaseTracker, statement: str, params: Sequence[Any] = ()) -> None:
    """Run `statement` on the log's tables: `{events}`, `{leaves}` and
    `{position}` (the events' position column) stand for the database's own,
    `?` for a parameter; a UUID parameter is sent as the database stores it."""
    recorder: Any = tracker.store.recorder  # type: ignore[attr-defined]
    table, datastore = recorder.events_table_name, recorder.datastore
    if hasattr(datastore, "schema"):
        events = Identifier(datastore.schema, table)
        leaves = Identifier(datastore.schema, LEAVES)
        text = SQL(statement.replace("?", "%s")).format(
            events=events, leaves=leaves, position=Identifier("notification_id")
        )
        with datastore.transaction(commit=True) as cursor:
            for name in (events, leaves):
                cursor.execute(SQL("ALTER TABLE {} DISABLE TRIGGER USER").format(name))
            cursor.execute(text, params)
            for name in (events, leaves):
                cursor.execute(SQL("ALTER TABLE {} ENABLE TRIGGER USER").format(name))
        return
    values = [p.hex if isinstance(p, uuid.UUID) else p for p in params]
    with datastore.transaction(commit=True) as cursor:
        cursor.execute(
            statement.format(events=table, leaves=LEAVES, position="rowid"), values
        )
