"""The outbox: deliveries the worker records, the sender takes and settles.

A delivery is `pending` until it is `delivered` or, its attempts used up (or
its subscription gone with a 410), `failed`. The sender takes only the first
pending delivery of each (subscription, deal): a deal's later change waits
until the earlier one is delivered or given up, so a receiver sees a deal's
changes in order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from psycopg.sql import SQL

from storage.webhook_tables import ATTEMPTS, DELIVERIES, SUBSCRIPTIONS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from projections.dialect import Row, Store, Tx

COLUMNS = (
    "id, subscription_id, message_id, deal_id, seq, position, body, status, "
    "attempts, next_attempt_at, last_attempt_at, response_code, error, "
    "created_at, finished_at"
)
NEW_COLUMNS = (
    "subscription_id",
    "message_id",
    "deal_id",
    "seq",
    "position",
    "body",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
)


@dataclass(frozen=True)
class Attempt:
    n: int
    at: dt.datetime
    seconds: float
    response_code: int | None
    error: str | None


@dataclass(frozen=True)
class Delivery:
    id: int
    subscription_id: str
    message_id: str
    deal_id: str
    seq: int
    position: int
    body: str
    status: str
    attempts: int
    next_attempt_at: dt.datetime
    last_attempt_at: dt.datetime | None
    response_code: int | None
    error: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None
    tries: list[Attempt] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    """What an attempt came to, and what follows: `status` pending (with
    `retry_at`), delivered or failed."""

    at: dt.datetime
    seconds: float
    response_code: int | None
    error: str | None
    status: str
    retry_at: dt.datetime | None = None


class Outbox:
    """The `webhook_deliveries` and `webhook_attempts` tables."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.table = store.table(DELIVERIES)
        self.attempts = store.table(ATTEMPTS)
        self.subscriptions = store.table(SUBSCRIPTIONS)

    def _load(self, row: Row) -> Delivery:
        time = self.store.load_time
        values: list[Any] = list(row)
        for i in (9, 10, 13, 14):
            values[i] = time(values[i])
        return Delivery(*values)

    def add(self, tx: Tx, rows: Sequence[Sequence[Any]]) -> None:
        """New deliveries (values in NEW_COLUMNS order), in the worker's page."""
        if rows:
            bind = self.store.bind
            tx.insert(self.table, NEW_COLUMNS, [[bind(v) for v in r] for r in rows])

    def due(self, now: dt.datetime, limit: int) -> list[Delivery]:
        """Pending deliveries of active subscriptions due by `now`, each the
        first pending one of its (subscription, deal), in log order."""
        query = SQL(
            "SELECT {c} FROM {d} AS d JOIN {s} AS s ON s.id = d.subscription_id "
            "WHERE d.status = 'pending' AND d.next_attempt_at <= %s "
            "AND s.status = 'active' AND NOT EXISTS (SELECT 1 FROM {d} AS e "
            "WHERE e.subscription_id = d.subscription_id AND e.deal_id = d.deal_id "
            "AND e.status = 'pending' AND e.id < d.id) ORDER BY d.id LIMIT %s"
        ).format(
            c=SQL(", ").join(SQL("d." + c) for c in COLUMNS.split(", ")),
            d=self.table,
            s=self.subscriptions,
        )
        return [self._load(r) for r in self.store.query(query, [now, limit])]

    def next_due(self) -> dt.datetime | None:
        """When the earliest pending delivery of an active subscription is due."""
        rows = self.store.query(
            SQL(
                "SELECT min(d.next_attempt_at) FROM {} AS d JOIN {} AS s "
                "ON s.id = d.subscription_id "
                "WHERE d.status = 'pending' AND s.status = 'active'"
            ).format(self.table, self.subscriptions)
        )
        return self.store.load_time(rows[0][0]) if rows else None

    def settle_all(self, ended: Sequence[tuple[Delivery, Outcome]]) -> None:
        """Attempts recorded, and each delivery's status after its own, in ONE
        transaction: a round's attempts settle together (a commit, and on
        SQLite the write lock, per round rather than per attempt)."""
        if not ended:
            return
        bind = self.store.bind
        attempts = [
            [d.id, bind(o.at), o.seconds, o.response_code, o.error, d.id]
            for d, o in ended
        ]
        statuses = [
            [
                o.status,
                d.attempts + 1,  # in this round (a redelivery starts one)
                bind(o.retry_at or d.next_attempt_at),
                bind(o.at),
                o.response_code,
                o.error,
                bind(None if o.status == "pending" else o.at),
                d.id,
            ]
            for d, o in ended
        ]
        with self.store.write() as tx:
            tx.executemany(
                SQL(
                    "INSERT INTO {0} (delivery_id, n, at, seconds, response_code, "
                    "error) SELECT %s, coalesce(max(n), 0) + 1, %s, %s, %s, %s "
                    "FROM {0} WHERE delivery_id = %s"
                ).format(self.attempts),
                attempts,
            )
            tx.executemany(
                SQL(
                    "UPDATE {} SET status = %s, attempts = %s, next_attempt_at = %s, "
                    "last_attempt_at = %s, response_code = %s, error = %s, "
                    "finished_at = %s WHERE id = %s"
                ).format(self.table),
                statuses,
            )

    # -- the delivery log --------------------------------------------------------

    def log(self, subscription_id: str, after: int, limit: int) -> list[Delivery]:
        """A subscription's deliveries with their attempts, by id after `after`."""
        rows = self.store.query(
            SQL(
                "SELECT {} FROM {} WHERE subscription_id = %s AND id > %s "
                "ORDER BY id LIMIT %s"
            ).format(SQL(COLUMNS), self.table),
            [subscription_id, after, limit],
        )
        deliveries = [self._load(r) for r in rows]
        if not deliveries:
            return []
        condition, params = self.store.any_of(
            SQL("delivery_id"), [d.id for d in deliveries]
        )
        tries: dict[int, list[Attempt]] = {}
        for r in self.store.query(
            SQL(
                "SELECT delivery_id, n, at, seconds, response_code, error FROM {} "
                "WHERE {} ORDER BY delivery_id, n"
            ).format(self.attempts, condition),
            params,
        ):
            at = self.store.load_time(r[2])
            assert at is not None
            tries.setdefault(int(r[0]), []).append(
                Attempt(int(r[1]), at, float(r[3]), r[4], r[5])
            )
        return [
            Delivery(**{**d.__dict__, "tries": tries.get(d.id, [])}) for d in deliveries
        ]

    def get(self, subscription_id: str, delivery_id: int) -> Delivery | None:
        rows = self.store.query(
            SQL("SELECT {} FROM {} WHERE subscription_id = %s AND id = %s").format(
                SQL(COLUMNS), self.table
            ),
            [subscription_id, delivery_id],
        )
        return self._load(rows[0]) if rows else None

    def redeliver(
        self,
        subscription_id: str,
        now: dt.datetime,
        *,
        delivery_id: int | None = None,
        after: int | None = None,
    ) -> int:
        """Pending again, due now, with attempts afresh: one delivery, or every
        one of the subscription's after log position `after`; how many."""
        if delivery_id is not None:
            which, value = SQL("id = %s"), delivery_id
        else:
            which, value = SQL("position > %s"), after or 0
        with self.store.write() as tx:
            tx.execute(
                SQL(
                    "UPDATE {} SET status = 'pending', attempts = 0, "
                    "next_attempt_at = %s, finished_at = NULL "
                    "WHERE subscription_id = %s AND {}"
                ).format(self.table, which),
                [self.store.bind(now), subscription_id, value],
            )
            tx.execute(
                SQL("SELECT count(*) FROM {} WHERE subscription_id = %s AND {}").format(
                    self.table, which
                ),
                [subscription_id, value],
            )
            row = tx.fetchone()
        return int(row[0]) if row else 0
