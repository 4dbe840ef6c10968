"""Deals folded into read-model rows by the engine: the one place rows are made.

A deal's rows are always the fold of its whole history up to a position, never a
patch of the previous rows, so a back-dated action simply re-derives them. The
runner, the rebuild and `verify` all fold through `Folder.fold`.

The live runner's histories come from its page where they can: a deal it folded
recently is remembered with the version of its last event, and a page that holds
the next versions only needs those decoded (`Folder.follow`).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from psycopg.sql import SQL

from domain.engine import expiry_due, replay
from domain.errors import UnknownPipeline
from domain.history import Entry
from domain.reasons import lost_detail, lost_reason
from projections.dialect import Row, chunks
from projections.models import Unprojectable
from projections.recent import Recent
from storage.decode import DEAL_TOPICS as DEAL_TOPICS  # re-exported
from storage.decode import OPENED_TOPIC, Decoder, Opening

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

    from eventsourcing.persistence import Notification

    from projections.dialect import Store
    from projections.source import EventSource

IdRange = tuple[uuid.UUID | None, uuid.UUID | None]  # [low, high) of deal ids


@dataclass(slots=True)
class DealHistory:
    """What a fold needs of a deal; `entries` in recording order."""

    deal_id: uuid.UUID
    pipeline: str
    version: int
    contact_id: str
    object_id: str | None
    entries: list[Entry]
    seen: int = 0  # the version of the deal's last event in `entries`

    @classmethod
    def opened(cls, opening: Opening, seen: int = 0) -> DealHistory:
        """The history of a deal that has just its opening event."""
        return cls(
            deal_id=opening.deal_id,
            pipeline=opening.pipeline,
            version=opening.version,
            contact_id=opening.contact_id,
            object_id=opening.object_id,
            entries=[],
            seen=seen,
        )


@dataclass(frozen=True, slots=True)
class Folded:
    """A deal's rows, values in `DEAL_COLUMNS` / `INTERVAL_COLUMNS` order, and
    the version of the deal's last event they were folded from."""

    deal_id: uuid.UUID
    deal: Row
    intervals: list[Row]
    version: int = 0


# What a text column cannot hold on both databases (PostgreSQL's text no NUL,
# neither UTF-8 a lone surrogate). The door refuses such values; an older log
# may hold some, and the read models show them with U+FFFD rather than stop.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str | None) -> str | None:
    """`text` as a read model's text column can hold it."""
    if text is None or (text.isascii() and "\x00" not in text):
        return text
    return _UNSTORABLE.sub("\ufffd", text)


class Folder:
    """Reads deals' stored events, decodes them and folds them into rows."""

    def __init__(self, source: EventSource, store: Store) -> None:
        self.source = source
        self.store = store
        self.decoder = Decoder(source.mapper)
        # Histories of deals the live runner folded lately, by deal.
        self.recent: Recent[uuid.UUID, DealHistory] = Recent()
        self._select = SQL(
            "SELECT originator_id, originator_version, topic, state FROM {} "
        ).format(store.events)

    # -- reading -----------------------------------------------------------------

    def follow(
        self, notifications: Sequence[Notification], upto: int
    ) -> tuple[list[Folded], set[uuid.UUID]]:
        """The deals a page of notifications touches, folded up to `upto`, and
        those it opens (they have no rows yet).

        Notification ids follow commit order, so the page holds every event of
        its deals after the position it was read from. A deal opened in the page,
        or remembered at the version just before its first event in the page, is
        completed from the page alone; any other deal is read from the table.
        """
        events: dict[uuid.UUID, list[Notification]] = {}
        for n in notifications:
            if n.topic in DEAL_TOPICS:
                events.setdefault(n.originator_id, []).append(n)  # type: ignore[arg-type]
        histories: list[DealHistory] = []
        unknown: list[uuid.UUID] = []
        opened: set[uuid.UUID] = set()
        for deal_id, page in events.items():
            history = self._extended(deal_id, page)
            if history is None:
                unknown.append(deal_id)
                continue
            if page[0].topic == OPENED_TOPIC:
                opened.add(deal_id)
            histories.append(history)
        histories.extend(self.read(unknown, upto))
        recent = self.recent
        for history in histories:
            recent.put(history.deal_id, history)
        return [self.fold(h) for h in histories], opened

    def _extended(
        self, deal_id: uuid.UUID, page: list[Notification]
    ) -> DealHistory | None:
        """The remembered history with the page's events, or None to read it."""
        first = page[0]
        if first.topic == OPENED_TOPIC and first.originator_version == 1:
            try:
                opening = self.decoder.opening(deal_id, 1, first.topic, first.state)
            except Exception as error:
                raise Unprojectable(deal_id, first.id, _reason(error)) from error
            base = DealHistory.opened(opening, seen=1)
            page = page[1:]
        else:
            remembered = self.recent.get(deal_id)
            if remembered is None:
                return None
            base = remembered
            # The remembered rows hold this very UUID: comparing them with the
            # new rows then takes the identity shortcut, not `UUID.__eq__`.
            deal_id = base.deal_id
        seen = base.seen
        for n in page:
            seen += 1
            if n.originator_version != seen or n.topic == OPENED_TOPIC:
                return None  # a gap, or a page from before what we remember
        entry = self.decoder.entry
        try:
            added = [
                entry(deal_id, n.originator_version, n.topic, n.state) for n in page
            ]
        except Exception:
            return None  # read from the table, which names the event
        # A new list: `base` may be remembered, and stays as it was.
        return replace(base, entries=base.entries + added, seen=seen)

    def read(self, deal_ids: Iterable[uuid.UUID], upto: int) -> list[DealHistory]:
        """The given deals' histories read from the event table up to `upto`."""
        histories: list[DealHistory] = []
        for chunk in chunks(sorted(deal_ids)):
            values = [self.store.stored_id(i) for i in chunk]
            condition, params = self.store.any_of(SQL("originator_id"), values)
            query = self._select + SQL(
                "WHERE {} AND {} <= %s ORDER BY originator_id, originator_version"
            ).format(condition, self.store.notification_id)
            with self.store.read() as tx:
                tx.execute(query, [*params, upto])
                rows = tx.fetchall()
            histories.extend(self.histories(rows))
        return histories

    def scan(
        self, upto: int, page_size: int, ids: IdRange = (None, None)
    ) -> Iterator[tuple[int, list[Folded]]]:
        """Every deal folded over its events up to `upto`, page by page in deal order.

        Each page is one short query (keyset on the primary key), so no transaction
        stays open while Python folds; yields (events read, folded deals). `ids`
        limits the scan to deal ids in [low, high), None meaning unbounded.
        """
        carry: list[Row] = []
        for rows in self._pages(upto, page_size, ids):
            rows = carry + rows
            cut = len(rows)
            while cut and rows[cut - 1][0] == rows[-1][0]:
                cut -= 1  # the last deal may go on in the next page
            carry = rows[cut:]
            yield (
                len(rows) - len(carry),
                [self.fold(h) for h in self.histories(rows[:cut])],
            )
        if carry:
            yield len(carry), [self.fold(h) for h in self.histories(carry)]

    def _pages(self, upto: int, page_size: int, ids: IdRange) -> Iterator[list[Row]]:
        """Keyset pages; the next one is read (in a thread) while this one folds.

        The database answers while Python folds: the wait is overlapped instead
        of added, and the thread holds no transaction beyond its own query.
        """
        with ThreadPoolExecutor(1) as reader:
            page = reader.submit(self._page, upto, page_size, ids, None)
            while True:
                rows = page.result()
                if not rows:
                    return
                full = len(rows) == page_size
                if full:
                    after = (rows[-1][0], rows[-1][1])
                    page = reader.submit(self._page, upto, page_size, ids, after)
                yield rows
                if not full:
                    return

    def _page(
        self, upto: int, page_size: int, ids: IdRange, after: tuple[Any, int] | None
    ) -> list[Row]:
        where = SQL("WHERE {} <= %s").format(self.store.notification_id)
        params: list[Any] = [upto]
        for value, operator in zip(ids, (">=", "<"), strict=True):
            if value is not None:
                where += SQL(" AND originator_id {} %s").format(SQL(operator))
                params.append(self.store.stored_id(value))
        if after is not None:
            where += SQL(" AND (originator_id, originator_version) > (%s, %s)")
            params.extend(after)
        query = (
            self._select
            + where
            + SQL(" ORDER BY originator_id, originator_version LIMIT %s")
        )
        with self.store.read() as tx:
            tx.execute(query, [*params, page_size])
            return tx.fetchall()

    def histories(self, rows: Iterable[Row]) -> Iterator[DealHistory]:
        """Deal histories from stored event rows ordered by deal and version.

        A deal's versions run from its opening, 1, without a gap: an event
        missing from the log (a row deleted by hand) is named, never folded
        past; so is one that cannot be decoded (Unprojectable).
        """
        current: DealHistory | None = None
        stored: Any = None  # the current deal's id as stored
        decoder = self.decoder
        last = 0  # version of the deal's previous event
        for originator_id, version, topic, state in rows:
            if topic not in DEAL_TOPICS:
                continue  # pipeline versions live in the same log
            if topic == OPENED_TOPIC and version == 1:
                if current is not None:
                    current.seen = last
                    yield current
                deal_id = self._uuid(originator_id)  # once per deal, not per event
                stored = originator_id
                try:
                    opening = decoder.opening(deal_id, version, topic, bytes(state))
                except Exception as error:
                    raise self.unprojectable(deal_id, version, error) from error
                current = DealHistory.opened(opening)
            elif (
                current is not None and version == last + 1 and originator_id == stored
            ):
                try:
                    entry = decoder.entry(current.deal_id, version, topic, bytes(state))
                except Exception as error:
                    raise self.unprojectable(current.deal_id, version, error) from error
                current.entries.append(entry)
            else:
                raise self._gap(originator_id, stored, version, last)
            last = version
        if current is not None:
            current.seen = last
            yield current

    def _gap(self, found: Any, stored: Any, version: int, last: int) -> Unprojectable:
        """The failure of a history whose event `version` does not follow on."""
        deal_id = self._uuid(found)
        if found != stored:
            reason = (
                f"its opening event is missing from the log (found event {version})"
            )
        elif version <= last:
            reason = f"the log holds its event {version} twice"
        else:
            reason = (
                f"its event {last + 1} is missing from the log (the next is {version})"
            )
        return self.unprojectable(deal_id, version, reason)

    def _uuid(self, value: Any) -> uuid.UUID:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(value)

    # -- folding -----------------------------------------------------------------

    def fold(self, history: DealHistory) -> Folded:
        """The deal's rows; Unprojectable naming it if they cannot be made."""
        try:
            return self._fold(history)
        except Exception as error:
            raise self.unprojectable(history.deal_id, history.seen, error) from error

    def unprojectable(
        self, deal_id: uuid.UUID, version: int, error: Exception | str
    ) -> Unprojectable:
        """The failure naming the deal and the position of its event `version`."""
        if isinstance(error, Unprojectable):
            return error
        try:
            position = self.source.position_of(deal_id, version)
        except Exception:  # the error at hand is the one worth telling
            position = None
        return Unprojectable(deal_id, position, _reason(error))

    def _fold(self, history: DealHistory) -> Folded:
        try:
            pipeline = self.source.pipeline(history.pipeline, history.version)
        except UnknownPipeline:
            raise LookupError(
                f"its pipeline {history.pipeline} v{history.version} is not "
                "registered in this database"
            ) from None
        state = replay(pipeline, history.entries)
        phase = pipeline.phase(state.phase) if state.phase else None
        stale_days = phase.stale_after_days if phase else None
        stale_at: dt.datetime | None = None
        if stale_days and state.kind == "open" and state.phase_since is not None:
            stale_at = state.phase_since + dt.timedelta(days=stale_days)
        lost = storable(lost_reason(pipeline, state))
        deal_id = history.deal_id
        owner = storable(state.owner)
        deal = (
            deal_id,
            history.pipeline,
            history.version,
            storable(history.contact_id),
            storable(history.object_id),
            state.phase,
            state.kind,
            state.phase_since,
            state.opened_at,
            state.last_activity_at,
            owner,
            phase.probability if phase else None,
            stale_days,
            stale_at,
            expiry_due(pipeline, state),
            lost,
            ",".join(sorted({i.phase for i in state.intervals})),
            storable(lost_detail(pipeline, state)),
            None if state.amount is None else float(state.amount),
            state.currency,  # three capital letters: the door's and the fold's rule
        )
        intervals = [
            (
                deal_id,
                seq,
                history.pipeline,
                interval.phase,
                interval.entered_at,
                interval.exited_at,
                None
                if interval.exited_at is None
                else (interval.exited_at - interval.entered_at).total_seconds(),
                owner,
            )
            for seq, interval in enumerate(state.intervals)
        ]
        return Folded(deal_id, deal, intervals, history.seen)


def _reason(error: Exception | str) -> str:
    """What went wrong, in words: the error's own, or its kind if it has none."""
    if isinstance(error, str):
        return error
    said = " ".join(str(error).split())
    return said or type(error).__name__
