"""Webhook subscriptions in the database: made, listed, paused, rotated, removed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from psycopg.sql import SQL

from domain.webhooks import ROTATION_GRACE, Filter, Status
from storage.webhook_tables import ATTEMPTS, DELIVERIES, SUBSCRIPTIONS, TRACKING, WORKER

if TYPE_CHECKING:
    from projections.dialect import Row, Store, Tx

COLUMNS = (
    "id, url, secret, old_secret, old_secret_until, pipelines, phases, kinds, "
    "status, reason, after_position, created_at, updated_at"
)


@dataclass(frozen=True)
class Subscription:
    id: str
    url: str
    secret: str
    old_secret: str | None
    old_secret_until: dt.datetime | None
    filter: Filter
    status: Status
    reason: str | None  # why it is disabled
    after_position: int  # the log's head when it was made: later events only
    created_at: dt.datetime
    updated_at: dt.datetime

    def secrets(self, now: dt.datetime) -> list[str]:
        """The secrets that sign now: the new one, and the old one in its grace."""
        old = self.old_secret
        until = self.old_secret_until
        if old is not None and until is not None and now < until:
            return [self.secret, old]
        return [self.secret]


def _joined(values: tuple[str, ...]) -> str:
    return ",".join(values)


def _split(text: str) -> tuple[str, ...]:
    return tuple(v for v in text.split(",") if v)


class Subscriptions:
    """The `webhook_subscriptions` table, through the read side's store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.table = store.table(SUBSCRIPTIONS)
        self.deliveries = store.table(DELIVERIES)
        self.attempts = store.table(ATTEMPTS)
        self.tracking = store.table(TRACKING)

    def _load(self, row: Row) -> Subscription:
        load = self.store.load_time
        until = load(row[4])
        created, updated = load(row[11]), load(row[12])
        assert created is not None and updated is not None
        return Subscription(
            id=row[0],
            url=row[1],
            secret=row[2],
            old_secret=row[3],
            old_secret_until=until,
            filter=Filter(_split(row[5]), _split(row[6]), _split(row[7])),
            status=row[8],
            reason=row[9],
            after_position=int(row[10]),
            created_at=created,
            updated_at=updated,
        )

    def create(
        self, id: str, url: str, secret: str, wanted: Filter, now: dt.datetime
    ) -> Subscription:
        """A new active subscription to the events after the log's head."""
        bind = self.store.bind
        with self.store.write() as tx:
            # Before the worker's next page or after it (its tracking row is
            # locked meanwhile): either way the worker sees this row for every
            # event after `head`, and none before.
            tx.execute(
                SQL("SELECT position FROM {} WHERE name = %s{}").format(
                    self.tracking, self.store.for_update
                ),
                [WORKER],
            )
            head = self.store.recorder.max_notification_id() or 0
            tx.execute(
                SQL("INSERT INTO {} ({}) VALUES ({})").format(
                    self.table,
                    SQL(COLUMNS),
                    SQL(", ").join(SQL("%s") for _ in COLUMNS.split(", ")),
                ),
                [
                    id,
                    url,
                    secret,
                    None,
                    None,
                    _joined(wanted.pipelines),
                    _joined(wanted.phases),
                    _joined(wanted.kinds),
                    "active",
                    None,
                    head,
                    bind(now),
                    bind(now),
                ],
            )
        found = self.get(id)
        assert found is not None
        return found

    def all(self, tx: Tx | None = None) -> list[Subscription]:
        query = SQL("SELECT {} FROM {} ORDER BY created_at, id").format(
            SQL(COLUMNS), self.table
        )
        if tx is not None:
            tx.execute(query)
            return [self._load(r) for r in tx.fetchall()]
        return [self._load(r) for r in self.store.query(query)]

    def get(self, id: str) -> Subscription | None:
        rows = self.store.query(
            SQL("SELECT {} FROM {} WHERE id = %s").format(SQL(COLUMNS), self.table),
            [id],
        )
        return self._load(rows[0]) if rows else None

    def _update(self, id: str, now: dt.datetime, **values: Any) -> Subscription | None:
        bind = self.store.bind
        sets = SQL(", ").join(SQL(f"{name} = %s") for name in [*values, "updated_at"])
        with self.store.write() as tx:
            tx.execute(
                SQL("UPDATE {} SET {} WHERE id = %s").format(self.table, sets),
                [*(bind(v) for v in values.values()), bind(now), id],
            )
        return self.get(id)

    def set_status(
        self, id: str, status: Status, now: dt.datetime, reason: str | None = None
    ) -> Subscription | None:
        """Pause, resume (a disabled one too: the receiver is back) or disable."""
        return self._update(id, now, status=status, reason=reason)

    def rotate(self, id: str, secret: str, now: dt.datetime) -> Subscription | None:
        """A new secret; the old one signs beside it for ROTATION_GRACE."""
        found = self.get(id)
        if found is None:
            return None
        return self._update(
            id,
            now,
            secret=secret,
            old_secret=found.secret,
            old_secret_until=now + ROTATION_GRACE,
        )

    def delete(self, id: str) -> bool:
        """The subscription and its delivery log are gone; False if none was."""
        if self.get(id) is None:
            return False
        with self.store.write() as tx:
            tx.execute(
                SQL(
                    "DELETE FROM {} WHERE delivery_id IN "
                    "(SELECT id FROM {} WHERE subscription_id = %s)"
                ).format(self.attempts, self.deliveries),
                [id],
            )
            tx.execute(
                SQL("DELETE FROM {} WHERE subscription_id = %s").format(
                    self.deliveries
                ),
                [id],
            )
            tx.execute(SQL("DELETE FROM {} WHERE id = %s").format(self.table), [id])
        return True
