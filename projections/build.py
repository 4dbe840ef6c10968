"""The bulk load of a building generation, folded in parallel worker processes.

Deals never span two ranges of deal ids, so the log up to the rebuild's head splits
into disjoint ranges that fold independently: each worker process scans its range
(keyset pages on the primary key), folds the deals with the engine and COPYs their
rows in a transaction per page. Python's fold gets one core per worker; the database
reads and writes for each of them meanwhile. The parent only hands out ranges and
reports progress; the position moves once every range is in (`rebuild.rebuild`).

On SQLite the workers' write transactions take turns (BEGIN IMMEDIATE waits for
the lock), while their reads and folds run side by side. With one worker (a small
log) the same loop runs in this process.

The workers end with this process, even when it is killed (`lifeline`): else
they folded on, or waited for work forever, holding their connections.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import signal
import uuid
from concurrent.futures import (
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    as_completed,
)
from typing import TYPE_CHECKING

from projections.fold import Folder
from projections.schema import Schema
from projections.source import open_source
from projections.store import store_for
from projections.writer import PageWriter
from storage.collector import tune_gc
from storage.lifeline import end_with_parent

if TYPE_CHECKING:
    from collections.abc import Callable

    from projections.fold import IdRange
    from projections.projection import Projection

PARALLEL_FROM = 200_000  # events: below this, starting processes costs more
# More, smaller ranges even out the workers' loads: the last range leaves one core
# to the other worker's tail (at 1.25 M events, 12 took 0.2-1.0 s off 4's load).
RANGES_PER_WORKER = 12

_loader: tuple[Folder, PageWriter] | None = None  # one per worker process


def workers_for(projection: Projection, events: int) -> int:
    if projection.rebuild_workers is not None:
        return projection.rebuild_workers
    # SQLite too: the folding runs in parallel, only the short writes queue.
    parallel = events >= PARALLEL_FROM
    return min(2, multiprocessing.cpu_count()) if parallel else 1


def id_ranges(count: int) -> list[IdRange]:
    """`count` ranges of deal ids covering them all; ids are uniform (uuid5)."""
    bounds = [uuid.UUID(int=(n << 128) // count) for n in range(1, count)]
    return list(zip([None, *bounds], [*bounds, None], strict=True))


def load(
    projection: Projection,
    generation: int,
    head: int,
    workers: int,
    progress: Callable[[int], None],
) -> None:
    """Fold every deal up to `head` into `generation`; `progress(events)` per step."""
    if workers <= 1:
        folder, writer = projection.folder, projection.writer
        page_size = projection.load_page_size
        _load_range(folder, writer, generation, head, page_size, progress)
        return
    context = multiprocessing.get_context("spawn")  # no inherited pools or threads
    # The tables exist; workers creating them at once would race on the catalog.
    env = {**projection.source.env, "CREATE_TABLE": "n"}
    # A worker asks to be killed when the thread that started it ends. With
    # spawn, CPython (3.11) starts them in `submit`, on this thread; its manager
    # thread starts one only to replace a worker past `max_tasks_per_child`,
    # unused here. This thread leaves the block only once the pool has shut
    # down and joined them all, so it outlives them: also when it is the
    # server's rebuild thread (POST /v1/projections/rebuild).
    initargs = (env, projection.name, os.getpid())
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start, initargs=initargs
    ) as pool:
        pending = [
            pool.submit(
                _load_in_worker, generation, head, projection.load_page_size, ids
            )
            for ids in id_ranges(workers * RANGES_PER_WORKER)
        ]
        for done in as_completed(pending):
            progress(done.result())


def _load_range(
    folder: Folder,
    writer: PageWriter,
    generation: int,
    head: int,
    page_size: int,
    progress: Callable[[int], None],
    ids: IdRange = (None, None),
) -> None:
    # A page is written (in a thread) while the next one folds; one write at a
    # time, so memory stays at two pages and errors surface at the next page.
    with ThreadPoolExecutor(1) as writing:
        written: Future[None] | None = None
        loaded = 0
        for events, folded in folder.scan(head, page_size, ids):
            if written is not None:
                written.result()
                progress(loaded)
            written, loaded = writing.submit(writer.load, generation, folded), events
        if written is not None:
            written.result()
            progress(loaded)


def _start(env: dict[str, str], name: str, parent: int) -> None:
    global _loader
    # First: a parent killed while we start must not leave us folding (its
    # page is rolled back anyway) or waiting for work that never comes.
    end_with_parent(parent, signal.SIGKILL)
    source, close = open_source(env)
    atexit.register(close)  # as the worker exits, not when collected
    store = store_for(source)
    schema = Schema(store, name)
    _loader = (Folder(source, store), PageWriter(store, schema, source.position_of))
    # A fold allocates several objects per event and keeps a page of them: the
    # default thresholds collect every 700 allocations and rescan the page's
    # objects again and again. This process only folds; it may collect rarely.
    tune_gc()


def _load_in_worker(generation: int, head: int, page_size: int, ids: IdRange) -> int:
    assert _loader is not None, "the pool initializer builds the loader"
    done = [0]

    def count(events: int) -> None:
        done[0] += events

    folder, writer = _loader
    _load_range(folder, writer, generation, head, page_size, count, ids)
    return done[0]
