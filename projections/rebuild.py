"""Rebuild without downtime, and verify: both fold the whole log again.

Rebuild: generation N+1 is bulk-loaded by scanning the log in deal order up to the
head seen at the start (one fold per deal, memory bounded by a page), indexed, then
caught up page by page like the live runner, and swapped in one transaction once it
is at least as far as N. Readers keep using N until the swap.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from psycopg.sql import SQL, Identifier

from projections import build
from projections.count_tables import CountTables
from projections.models import Difference
from projections.schema import (
    DEAL_COLUMNS,
    DEAL_PHASES,
    INTERVAL_COLUMNS,
    PHASE_INTERVALS,
    TIME_COLUMNS,
)

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable, Iterator, Sequence

    from projections.dialect import Row, Store
    from projections.projection import Projection
    from projections.schema import Schema

_SWAP_ATTEMPTS = 20
PROGRESS_EVERY = 1.0  # seconds between stored rebuild progress values


class AlreadyRunning(RuntimeError):
    """Another rebuild of this projection is under way."""


@contextmanager
def exclusive(store: Store, key: str, local: threading.Lock) -> Iterator[None]:
    """Hold `key` across processes (where the store can) and threads, or raise
    AlreadyRunning."""
    if not local.acquire(blocking=False):
        raise AlreadyRunning(key)
    try:
        with store.hold(key) as held:
            if not held:
                raise AlreadyRunning(key)
            yield
    finally:
        local.release()


def rebuild(
    projection: Projection,
    local: threading.Lock,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    store, schema = projection.store, projection.schema
    with exclusive(store, f"{projection.lock_key}:rebuild", local):
        with store.write() as tx:
            generation = schema.begin_build(tx)
        try:
            _build(projection, generation, progress)
        except BaseException:
            # Readers never saw it; the status must not show it building on.
            with store.write() as tx:
                if schema.generations(tx).get(generation, ("",))[0] == "building":
                    schema.drop(tx, generation)
            raise


def _build(
    projection: Projection,
    generation: int,
    progress: Callable[[int, int], None] | None,
) -> None:
    store, schema = projection.store, projection.schema
    store.analyze([store.events])  # the scan's plan depends on them
    head = projection.source.recorder.max_notification_id() or 0
    total = _count_events(store, head)
    done = 0
    shown = time.monotonic()  # begin_build stored progress 0

    def loaded(events: int) -> None:
        nonlocal done, shown
        done += events
        # A stored progress is a commit (an fsync: ~0.1 s on SQLite here),
        # and the single-worker path reports every page: store it at most
        # once a PROGRESS_EVERY; the end of the load stores 1.0 anyway.
        if time.monotonic() - shown >= PROGRESS_EVERY:
            with store.write() as tx:
                schema.advance(tx, generation, 0, done / total if total else 1.0)
            shown = time.monotonic()
        if progress is not None:
            progress(done, total)

    workers = build.workers_for(projection, total)
    build.load(projection, generation, head, workers, loaded)
    # The counts before the indexes: with none yet, grouping the rows is one
    # scan (SQLite grouped `phase_intervals` through an index that does not
    # cover it, a table lookup a row: 3.7 s against 2.3 s at 1 M intervals).
    with store.bulk_write() as tx:
        schema.create_counts(tx, generation)  # before any write keeps them
    _index(store, schema, generation)
    with store.write() as tx:
        schema.advance(tx, generation, head, 1.0)
    _swap(projection, generation)


def _index(store: Store, schema: Schema, generation: int) -> None:
    """Index the loaded generation and refresh its statistics."""
    tables = [schema.table(n, generation) for n in (DEAL_PHASES, PHASE_INTERVALS)]
    store.build_indexes(schema.index_statements(generation), tables)


def _count_events(store: Store, head: int) -> int:
    with store.read() as tx:
        tx.execute(
            SQL("SELECT count(*) FROM {} WHERE {} <= %s").format(
                store.events, store.notification_id
            ),
            [head],
        )
        row = tx.fetchone()
    return int(row[0]) if row else 0


def _swap(projection: Projection, generation: int) -> None:
    """Catch the new generation up, then swap once it is not behind the old one."""
    store, schema = projection.store, projection.schema
    for _ in range(_SWAP_ATTEMPTS):
        while True:
            with store.read() as tx:
                position = schema.generations(tx)[generation][1]
            paged = projection.page(generation, "building", position)
            if not paged or not paged[0]:
                break
        with store.write() as tx:
            old, _ = schema.active(tx)
            old_row = schema.lock(tx, old)
            new_row = schema.lock(tx, generation)
            assert old_row is not None and new_row is not None
            if new_row[1] < old_row[1]:
                continue  # the live runner moved on meanwhile: catch up again
            schema.swap(tx, old, generation)
        with store.write() as tx:
            schema.drop(tx, old)
        return
    raise RuntimeError("the rebuilt generation could not catch up with the live one")


# -- verify -------------------------------------------------------------------------


def verify(projection: Projection) -> list[Difference]:
    """Stored rows of the serving generation against a fresh fold of the log, and
    its counts against a fresh count of those rows."""
    store, schema = projection.store, projection.schema
    with store.snapshot() as tx:
        generation, position = schema.active(tx)
        stored_deals = _stored(tx, schema.table(DEAL_PHASES, generation), DEAL_COLUMNS)
        stored_intervals = _stored(
            tx, schema.table(PHASE_INTERVALS, generation), INTERVAL_COLUMNS
        )
        counts = [
            Difference(name, "/".join(map(str, key)), "*", have, want)
            for name, key, have, want in CountTables(store).differences(
                tx, lambda name: schema.table(name, generation)
            )
        ]
    expected_deals: dict[str, Row] = {}
    expected_intervals: dict[str, Row] = {}
    for _, folded in projection.folder.scan(position, projection.load_page_size):
        for deal in folded:
            expected_deals[_key(deal.deal)] = deal.deal
            for row in deal.intervals:
                expected_intervals[_key(row)] = row
    return [
        *_compare(DEAL_PHASES, DEAL_COLUMNS, store, stored_deals, expected_deals),
        *_compare(
            PHASE_INTERVALS,
            INTERVAL_COLUMNS,
            store,
            stored_intervals,
            expected_intervals,
        ),
        *counts,
    ]


def _stored(tx: Any, table: Any, columns: Sequence[str]) -> list[Row]:
    names = SQL(", ").join(map(Identifier, columns))
    tx.execute(SQL("SELECT {} FROM {}").format(names, table))
    rows: list[Row] = tx.fetchall()
    return rows


def loaded(store: Store, columns: Sequence[str], raw: Row) -> Row:
    """A stored row as the fold makes it: UUIDs and UTC datetimes."""
    row = [
        store.load_time(v) if c in TIME_COLUMNS else v
        for c, v in zip(columns, raw, strict=True)
    ]
    return (store.load_uuid(row[0]), *row[1:])


def _key(row: Row) -> str:
    """deal_id, or deal_id/seq for an interval."""
    return str(row[0]) if len(row) == len(DEAL_COLUMNS) else f"{row[0]}/{row[1]}"


def _compare(
    table: str,
    columns: Sequence[str],
    store: Store,
    stored_rows: list[Row],
    expected: dict[str, Row],
) -> list[Difference]:
    differences: list[Difference] = []
    seen: set[str] = set()
    for raw in stored_rows:
        row = loaded(store, columns, raw)
        key = _key(row)
        seen.add(key)
        want = expected.get(key)
        if want is None:
            differences.append(
                Difference(table, key, "*", dict(zip(columns, row, strict=True)), None)
            )
            continue
        for column, value, wanted in zip(columns, row, want, strict=True):
            if value != wanted:
                differences.append(Difference(table, key, column, value, wanted))
    for key in expected.keys() - seen:
        row = expected[key]
        differences.append(
            Difference(table, key, "*", None, dict(zip(columns, row, strict=True)))
        )
    return sorted(differences, key=lambda d: (d.table, d.key, d.column))
