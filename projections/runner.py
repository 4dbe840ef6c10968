"""The batched, exactly-once projection runner.

A page: read the notifications after the tracked position, fold every deal they
touch with the engine (no transaction open), then write the deals' rows and the new
position in one transaction. A crash anywhere leaves the previous page's state; the
page is simply read again.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from projections import rebuild as rebuilding
from projections.failures import Failures
from projections.fold import Folder
from projections.models import ProjectionStatus
from projections.projection import Projection
from projections.rebuild import AlreadyRunning
from projections.reports import Reports
from projections.schema import PROJECTION, Schema
from projections.source import source_of
from projections.store import store_for
from projections.writer import PageWriter

if TYPE_CHECKING:
    import datetime as dt
    import uuid
    from collections.abc import Callable

    from domain.service import PhaseTracker
    from projections.models import Difference

_CONFLICT_RETRIES = 3


class Projector:
    """Keeps `deal_phases` and `phase_intervals` up to date with the event log."""

    def __init__(
        self,
        tracker: PhaseTracker,
        *,
        page_size: int = 2000,
        load_page_size: int = 8000,
        poll_interval: float = 1.0,
        settle: float = 0.05,
        rebuild_workers: int | None = None,
    ) -> None:
        self.tracker = tracker  # for callers; what projecting reads is `source`
        self.source = source_of(tracker)
        self.page_size = page_size
        # A rebuild's (and verify's) scan of the whole log pages by more events:
        # a page is a query, a transaction and a write of its own, and no reader
        # waits for it (1.25 M events, SQLite / PostgreSQL load: 17.2-17.8 ->
        # 15.7-15.8 s / 17.2-17.9 -> 16.0-16.5 s against pages of 2,000).
        self.load_page_size = load_page_size
        # Processes folding a rebuild; None: two on a big PostgreSQL log, else one.
        self.rebuild_workers = rebuild_workers
        self.poll_interval = poll_interval
        # After a page, new events gather this long before the next one: one page
        # of many events costs far less than many pages of one each (a page is
        # ~10 ms, mostly fixed). `wait_for` (a reader waiting for its own write)
        # cuts the pause short.
        self.settle = settle
        self.name = PROJECTION
        self.store = store_for(self.source)
        self.schema = Schema(self.store, self.name)
        self.schema.ensure()
        self.failures = Failures(self.store)
        self.failures.ensure()
        self.folder = Folder(self.source, self.store)
        self.writer = PageWriter(self.store, self.schema, self.source.position_of)
        self.reports = Reports(tracker)
        self.lock_key = self.projection.lock_key
        self._page_lock = threading.Lock()
        self._rebuild_lock = threading.Lock()
        # Notified after every committed page: a wait that needs no polling.
        self.progressed = threading.Condition()
        # The serving generation's position as last seen here: a lower bound,
        # since it only grows (a swap never goes back). Each of `listeners` hears
        # it after every page this process commits to the serving generation.
        self.known = 0
        self.listeners: list[Callable[[int], None]] = []
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        # Whether the loop's last ask for the projection got it (else another
        # process projects and this one stands by); `_asked` once it has asked.
        self.leading = False
        self._asked = threading.Event()

    @property
    def projection(self) -> Projection:
        """The parts the runner projects with, as a rebuild and verify take them."""
        return Projection(
            name=self.name,
            source=self.source,
            store=self.store,
            schema=self.schema,
            folder=self.folder,
            writer=self.writer,
            page_size=self.page_size,
            load_page_size=self.load_page_size,
            rebuild_workers=self.rebuild_workers,
        )

    # -- one page ----------------------------------------------------------------

    def run_once(self) -> int:
        """Process at most one page; the number of notifications consumed."""
        with self._page_lock:
            for _ in range(_CONFLICT_RETRIES):
                generation, position = self._active()
                consumed = self.page(generation, "active", position)
                if consumed is not None:
                    return consumed
        return 0

    def catch_up(self) -> int:
        total = 0
        while consumed := self.run_once():
            total += consumed
        return total

    def follow(self) -> int:
        """Pages until one comes back short of a full page: the background loop.

        Under steady load `catch_up` never stopped: each page took the few
        events that came in while the last one was written (at 1,000 actions/s
        SQLite wrote 47 pages a second, ~20 events each), and the settle after
        a page never came. Each page is a transaction under the write lock, so
        every logging request could wait behind one.
        """
        total = 0
        while consumed := self.run_once():
            total += consumed
            if consumed < self.page_size:
                break
        return total

    def page(self, generation: int, state: str, position: int) -> int | None:
        """One page into `generation`; None when another writer moved it first."""
        paged = self.projection.page(generation, state, position)
        if paged is None:
            return None
        consumed, last = paged
        if not consumed:
            return 0
        if state == "active":
            self._reached(last)
        with self.progressed:
            self.progressed.notify_all()
        return consumed

    def _active(self) -> tuple[int, int]:
        with self.store.read() as tx:
            generation, position = self.schema.active(tx)
        self.known = max(self.known, position)
        return generation, position

    def _reached(self, position: int) -> None:
        self.known = max(self.known, position)
        for listener in self.listeners:
            listener(position)

    def served(self) -> int:
        """The serving generation's position, read from the database."""
        return self._active()[1]

    def hurry(self) -> None:
        """A reader waits: the loop skips its settle and reads the log now."""
        self._wake.set()

    # -- background thread ---------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        self._asked.clear()
        self._thread = threading.Thread(
            target=self._loop, name=f"projector-{self.name}", daemon=True
        )
        self._thread.start()

    @property
    def running(self) -> bool:
        """The background thread is alive and not asked to stop."""
        alive = self._thread is not None and self._thread.is_alive()
        return alive and not self._stopping.is_set()

    def leads(self, timeout: float) -> bool | None:
        """Whether this process projects, once the loop has asked (None: not yet)."""
        return self.leading if self._asked.wait(timeout) else None

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _loop(self) -> None:
        wakeup = self.store.wakeup(self.lock_key)
        try:
            while not self._stopping.is_set():
                consumed = 0
                self.leading = wakeup.acquire()
                self._asked.set()
                if self.leading:
                    try:
                        consumed = self.follow()
                        if consumed:
                            self.store.checkpoint()
                    except Exception as error:
                        # Retried after the poll interval; meanwhile every
                        # process's status and readiness tell what and where.
                        now = self.source.clock()
                        self.failures.record(self.name, error, self.known, now)
                if consumed and self.settle and self._wake.wait(self.settle):
                    self._wake.clear()
                    continue  # a reader is waiting (or we stop): go on at once
                wakeup.wait(self.poll_interval, self._wake)
                self._wake.clear()
        finally:
            self.leading = False
            wakeup.close()

    # -- read-your-writes and status -------------------------------------------------

    def wait_for(self, position: int, timeout: float) -> bool:
        """True once the serving generation has processed `position` (bounded wait)."""
        deadline = time.monotonic() + timeout
        while self._active()[1] < position:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if self._thread is not None and self._thread.is_alive():
                self._wake.set()
                with self.progressed:
                    self.progressed.wait(min(left, 0.05))
            elif not self.run_once():
                # Another process runs this projection, or the position is ahead.
                self._stopping.wait(min(left, 0.05))
        return True

    def status(self) -> ProjectionStatus:
        with self.store.read() as tx:
            generations = self.schema.generations(tx)
        failures = self.failures.read()
        head = self.source.recorder.max_notification_id() or 0
        generation, position = next(
            (g, p) for g, (s, p, _) in generations.items() if s == "active"
        )
        building = [pr for s, _, pr in generations.values() if s == "building"]
        failure = failures.get(self.name)
        return ProjectionStatus(
            name=self.name,
            position=position,
            head=head,
            lag=max(head - position, 0),
            generation=generation,
            rebuilding=bool(building),
            rebuild_progress=building[0] if building else None,
            # A failure at a position since passed is over.
            failure=failure if failure and failure.position > position else None,
            rebuild_failure=failures.get(self.rebuild_key),
        )

    @property
    def rebuild_key(self) -> str:
        return f"{self.name}:rebuild"

    # -- rebuild, verify, expiry -------------------------------------------------------

    def rebuild(self, progress: Callable[[int, int], None] | None = None) -> None:
        """Build a new generation from position 0 while the old one serves; swap.

        A rebuild that fails is noted (the status shows it) until the next one
        starts, and raised.
        """
        self.failures.clear(self.rebuild_key)
        try:
            rebuilding.rebuild(self.projection, self._rebuild_lock, progress)
        except AlreadyRunning:
            raise
        except Exception as error:
            now = self.source.clock()
            self.failures.record(self.rebuild_key, error, 0, now)
            raise

    def verify(self) -> list[Difference]:
        """Re-fold the whole log in memory; every stored value that differs."""
        return rebuilding.verify(self.projection)

    def expiring(self, now: dt.datetime) -> list[uuid.UUID]:
        return self.reports.expiring(now)
