"""Why a projection (or its rebuild) stands still, kept where every process sees it.

The process that projects may be any server worker, or `phaselog project`; the
readiness check and the projections' status are answered by whichever worker a
request reaches. So a failure is a row, one per projection (and one for its
rebuild), written by the process that met it and read by all: a failure at a
position the projection has since passed is over.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING

from psycopg.sql import SQL

from projections.models import ProjectionFailure, Unprojectable

if TYPE_CHECKING:
    import datetime as dt

    from projections.dialect import Store

logger = logging.getLogger(__name__)
FAILURES = "projection_failures"


class Failures:
    """The failures table: record, clear, read."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.table = store.table(FAILURES)

    def ensure(self) -> None:
        with self.store.write() as tx:
            tx.execute(
                SQL(
                    "CREATE TABLE IF NOT EXISTS {} (name text PRIMARY KEY, position "
                    "{} NOT NULL, deal_id text, reason text NOT NULL, since {} "
                    "NOT NULL)"
                ).format(self.table, self.store.types["bigint"], self.store.types["ts"])
            )

    def record(
        self, name: str, error: Exception, position: int, now: dt.datetime
    ) -> ProjectionFailure:
        """Note `error`, met past `position`, unless the same failure is noted.

        Never raises: the database may be what failed.
        """
        if isinstance(error, Unprojectable):
            deal_id, reason = error.deal_id, error.reason
            position = error.position or position + 1
        else:
            deal_id = None
            said = " ".join(str(error).split()) or type(error).__name__
            reason = f"the page after position {position} failed: {said}"
            position += 1
        failure = ProjectionFailure(position, deal_id, reason, now)
        try:
            known = self.read().get(name)
            if known is not None and (known.position, known.reason) == (
                position,
                reason,
            ):
                return known  # the same failure, retried: since it first came
            logger.error("projection %s: %s", name, reason, exc_info=error)
            with self.store.write() as tx:
                tx.execute(
                    SQL("DELETE FROM {} WHERE name = %s").format(self.table), [name]
                )
                tx.execute(
                    SQL("INSERT INTO {} VALUES (%s, %s, %s, %s, %s)").format(
                        self.table
                    ),
                    [
                        name,
                        position,
                        None if deal_id is None else str(deal_id),
                        reason,
                        self.store.bind(now),
                    ],
                )
        except Exception:
            logger.exception("projection %s failed, and so did noting it", name)
        return failure

    def clear(self, name: str) -> None:
        with self.store.write() as tx:
            tx.execute(SQL("DELETE FROM {} WHERE name = %s").format(self.table), [name])

    def read(self) -> dict[str, ProjectionFailure]:
        with self.store.read() as tx:
            tx.execute(
                SQL("SELECT name, position, deal_id, reason, since FROM {}").format(
                    self.table
                )
            )
            rows = tx.fetchall()
        found: dict[str, ProjectionFailure] = {}
        for name, position, deal_id, reason, since in rows:
            when = self.store.load_time(since)
            assert when is not None
            deal = None if deal_id is None else uuid.UUID(deal_id)
            found[name] = ProjectionFailure(int(position), deal, reason, when)
        return found
