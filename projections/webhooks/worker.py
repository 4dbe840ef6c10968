"""The webhook worker: the log's phase changes turned into deliveries.

Like the projector (`projections.runner`): read a page of notifications after
the tracked position, fold each touched deal with the engine (no transaction
open) to find what each new entry did to its derived phase, then record one
delivery per (subscription, change) and the new position in ONE transaction.
A crash anywhere leaves the previous page's state, and the page is read again:
nothing is recorded twice, nothing is skipped. One process per database runs
it, elected as the projector is (`Store.wakeup`).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

import orjson
from psycopg.sql import SQL

from domain.webhooks import message_id, payload, phase_changes
from projections.fold import DEAL_TOPICS, Folder
from projections.source import source_of
from projections.store import store_for
from projections.webhooks.outbox import Outbox
from projections.webhooks.subscriptions import Subscription, Subscriptions
from storage.webhook_tables import TRACKING, WORKER

if TYPE_CHECKING:
    import uuid
    from collections.abc import Callable, Sequence

    from eventsourcing.persistence import Notification

    from domain.service import PhaseTracker
    from projections.dialect import Tx

logger = logging.getLogger(__name__)
_RETRIES = 3  # a page whose subscriptions changed while it was folded


def _wanted(subscriptions: Sequence[Subscription]) -> set[tuple[Any, ...]]:
    """What recording depends on: which subscriptions take events, and which."""
    return {
        (s.id, s.filter, s.after_position)
        for s in subscriptions
        if s.status != "disabled"
    }


class WebhookWorker:
    """Records a delivery for every phase change a subscription wants."""

    def __init__(
        self,
        tracker: PhaseTracker,
        *,
        page_size: int = 500,
        poll_interval: float = 1.0,
    ) -> None:
        self.source = source_of(tracker)
        self.store = store_for(self.source)
        self.subscriptions = Subscriptions(self.store)
        self.outbox = Outbox(self.store)
        self.folder = Folder(self.source, self.store)
        self.tracking = self.store.table(TRACKING)
        self.page_size = page_size
        self.poll_interval = poll_interval
        self.lock_key = f"phaselog:{self.tracking.as_string(None)}:{WORKER}"
        # Told after every page that recorded deliveries (the sender wakes).
        self.listeners: list[Callable[[], None]] = []
        self.leading = False  # whether this process holds the worker's lock
        self._asked = threading.Event()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        with self.store.write() as tx:
            tx.execute(
                SQL(
                    "INSERT INTO {} (name, position) VALUES (%s, 0) "
                    "ON CONFLICT (name) DO NOTHING"
                ).format(self.tracking),
                [WORKER],
            )

    # -- one page ----------------------------------------------------------------

    def position(self) -> int:
        rows = self.store.query(
            SQL("SELECT position FROM {} WHERE name = %s").format(self.tracking),
            [WORKER],
        )
        return int(rows[0][0])

    def run_once(self) -> int:
        """At most one page; the notifications consumed."""
        for _ in range(_RETRIES):
            consumed = self._page(self.position())
            if consumed is not None:
                return consumed
        return 0

    def follow(self) -> int:
        total = 0
        while consumed := self.run_once():
            total += consumed
            if consumed < self.page_size:
                break
        return total

    def catch_up(self) -> int:
        total = 0
        while consumed := self.run_once():
            total += consumed
        return total

    def _page(self, position: int) -> int | None:
        """The page after `position`: notifications consumed, or None when the
        position or the subscriptions moved meanwhile (read it again)."""
        subscriptions = self.subscriptions.all()
        wanted = _wanted(subscriptions)
        if not wanted:
            return self._skip(position)
        notifications = self.source.recorder.select_notifications(
            position, self.page_size, inclusive_of_start=False
        )
        if not notifications:
            return 0
        last = notifications[-1].id
        taking = [s for s in subscriptions if s.status != "disabled"]
        rows = []
        if any(s.after_position < last for s in taking):
            rows = self._deliveries(notifications, last, taking)
        with self.store.write() as tx:
            if not self._still(tx, position, wanted):
                return None
            self.outbox.add(tx, rows)
            self._move(tx, last)
        if rows:
            for listener in self.listeners:
                listener()
        return len(notifications)

    def _skip(self, position: int) -> int | None:
        """No subscription takes events: the position moves to the log's head
        (a subscription made later starts after the head it saw)."""
        if (self.source.recorder.max_notification_id() or 0) <= position:
            return 0  # no write transaction (on SQLite, the write lock) for nothing
        with self.store.write() as tx:
            if not self._still(tx, position, set()):
                return None
            head = self.source.recorder.max_notification_id() or 0
            if head <= position:
                return 0
            self._move(tx, head)
        return head - position

    def _still(self, tx: Tx, position: int, wanted: set[tuple[Any, ...]]) -> bool:
        """The tracked position is `position` (locked till the end of `tx`)
        and the subscriptions are those the page was folded for."""
        tx.execute(
            SQL("SELECT position FROM {} WHERE name = %s{}").format(
                self.tracking, self.store.for_update
            ),
            [WORKER],
        )
        row = tx.fetchone()
        if row is None or int(row[0]) != position:
            return False
        return _wanted(self.subscriptions.all(tx)) == wanted

    def _move(self, tx: Tx, position: int) -> None:
        tx.execute(
            SQL("UPDATE {} SET position = %s WHERE name = %s").format(self.tracking),
            [position, WORKER],
        )

    def _deliveries(
        self,
        notifications: Sequence[Notification],
        last: int,
        subscriptions: Sequence[Subscription],
    ) -> list[list[Any]]:
        """A row (`outbox.NEW_COLUMNS`) per wanted change the page's entries made."""
        positions: dict[uuid.UUID, dict[int, int]] = {}
        for n in notifications:
            if n.topic in DEAL_TOPICS:
                deal: Any = n.originator_id
                positions.setdefault(deal, {})[n.originator_version] = n.id
        now = self.source.clock()
        rows: list[list[Any]] = []
        for history in self.folder.read(positions, last):
            at = positions[history.deal_id]
            pipeline = self.source.pipeline(history.pipeline, history.version)
            deal = {
                "deal_id": str(history.deal_id),
                "contact_id": history.contact_id,
                "object_id": history.object_id,
            }
            for change in phase_changes(pipeline, history.entries, list(at)):
                seq = change.entry.seq
                kind = pipeline.phase(change.after).kind if change.after else None
                position = at[seq]
                body: str | None = None
                for s in subscriptions:
                    if s.after_position >= position or not s.filter.wants(
                        pipeline.id, change.after, kind
                    ):
                        continue
                    if body is None:
                        event = payload(pipeline, deal, change, position)
                        body = orjson.dumps(event).decode()
                    rows.append(
                        [
                            s.id,
                            message_id(s.id, history.deal_id, seq),
                            str(history.deal_id),
                            seq,
                            position,
                            body,
                            "pending",
                            0,
                            now,
                            now,
                        ]
                    )
        return rows

    # -- the background thread ---------------------------------------------------

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        self._asked.clear()
        self._thread = threading.Thread(
            target=self._loop, name="webhook-worker", daemon=True
        )
        self._thread.start()

    def leads(self, timeout: float) -> bool | None:
        """Whether this process delivers, once the loop has asked (None: not yet)."""
        return self.leading if self._asked.wait(timeout) else None

    def hurry(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _loop(self) -> None:
        wakeup = self.store.wakeup(self.lock_key, purpose=WORKER)
        try:
            while not self._stopping.is_set():
                self.leading = wakeup.acquire()
                self._asked.set()
                if self.leading:
                    try:
                        self.follow()
                    except Exception:
                        # Read again after the poll interval; the log says why.
                        logger.exception("webhook worker: a page failed")
                wakeup.wait(self.poll_interval, self._wake)
                self._wake.clear()
        finally:
            self.leading = False
            wakeup.close()
