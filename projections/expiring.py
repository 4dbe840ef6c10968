"""Deals whose pipeline's expiry policy is due: the expiry sweeper's candidates.

Only candidates: the sweeper (api/sweeping.py) has the service check each deal
against its whole history before anything is written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg.sql import SQL

from projections.schema import DEAL_PHASES

if TYPE_CHECKING:
    import datetime as dt
    import uuid

    from projections.dialect import Store


class DueExpiries:
    """Deals whose `expires_at` has come."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._query = SQL(
            "SELECT deal_id FROM {} WHERE expires_at <= %s ORDER BY expires_at"
        ).format(store.table(DEAL_PHASES))

    def expiring(self, now: dt.datetime) -> list[uuid.UUID]:
        """Deals whose pipeline's expiry policy is due by `now`."""
        return [
            self.store.load_uuid(r[0]) for r in self.store.query(self._query, [now])
        ]
