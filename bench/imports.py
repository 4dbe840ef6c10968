"""Bulk import through `PhaseTracker.log_actions`, against raw COPY of the same rows.

Only the time spent inside `log_actions` counts: the generator's own cost is the
data source, not the import. Each batch's voids go through `void_many` afterwards,
all in one call, and are timed apart (an import from another CRM has few of them).
`import_file` times what a user waits for: `phaselog import` of the same actions
written to an NDJSON file, the whole command.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from api.synthetic.generator import batches, history
from bench.db import checkpoint, libpq, open_tracker, schema_of
from bench.wire import action_body
from domain.commands import LogAction, VoidAction
from domain.errors import PhaselogError
from storage.log import ACTION_KEYS

if TYPE_CHECKING:
    from eventsourcing.persistence import Notification

    from domain.service import PhaseTracker

BATCH = 10_000  # commands per log_actions call
# Actions per save in `store_again`: as the import's saves of this history, which
# hold up to 2,000 deals (IMPORT_DEALS_PER_TRANSACTION), ~1 action each (1,960 a
# save over 200,000 actions).
SAVE_ACTIONS = 2_000
COPY_BATCH = 50_000  # rows per COPY (and per transaction) for the raw baseline


@dataclass
class Imported:
    actions: int
    accepted: int
    rejected: int
    seconds: float
    voids: int
    void_seconds: float
    stored_events: int
    errors: list[str]


def import_history(url: str, actions: int, seed: int) -> Imported:
    tracker = open_tracker(url)
    try:
        return _import(tracker, actions, seed)
    finally:
        tracker.close()


def _import(tracker: PhaseTracker, actions: int, seed: int) -> Imported:
    done = accepted = voids = 0
    seconds = void_seconds = 0.0
    errors: list[str] = []
    for batch in batches(history(actions, seed=seed), BATCH):
        commands = [c for c in batch if isinstance(c, LogAction)]
        started = time.perf_counter()
        answers = tracker.log_actions(commands)
        seconds += time.perf_counter() - started
        done += len(commands)
        for answer in answers:
            if isinstance(answer, PhaselogError):
                errors.append(repr(answer))
            else:
                accepted += 1
        voided = [c for c in batch if isinstance(c, VoidAction)]
        started = time.perf_counter()
        for answer in tracker.void_many(voided):
            if isinstance(answer, PhaselogError):
                raise answer  # as `void` one by one did: the history is broken
        void_seconds += time.perf_counter() - started
        voids += len(voided)
    return Imported(
        actions=done,
        accepted=accepted,
        rejected=len(errors),
        seconds=seconds,
        voids=voids,
        void_seconds=void_seconds,
        stored_events=count_events(tracker),
        errors=errors[:5],
    )


@dataclass
class FileImported:
    actions: int  # lines in the file
    stored: int  # as the command reports them
    seconds: float


def import_file(url: str, actions: int, seed: int) -> FileImported:
    """`phaselog import` of the history's actions as one NDJSON file, timed whole.

    The file is written first, untimed. The command runs as a process of its
    own on `url`: its start, reading and checking every line, the import (with
    its helper process) and its exit all count.
    """
    with tempfile.TemporaryDirectory(prefix="phaselog-bench-file-") as directory:
        path = Path(directory) / "actions.ndjson"
        lines = 0
        with path.open("w") as out:
            for command in history(actions, seed=seed):
                if isinstance(command, LogAction):
                    out.write(json.dumps(action_body(command)) + "\n")
                    lines += 1
        command_line = [sys.executable, "-m", "api.cli", "import", str(path)]
        env = {**os.environ, "PHASELOG_DATABASE_URL": url}
        started = time.perf_counter()
        done = subprocess.run(command_line, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - started
    said = re.search(r"imported (\d+) actions", done.stdout)
    if done.returncode != 0 or said is None:
        raise RuntimeError(f"phaselog import failed: {done.stdout}{done.stderr}")
    return FileImported(actions=lines, stored=int(said[1]), seconds=seconds)


def count_events(tracker: PhaseTracker) -> int:
    return int(tracker.store.recorder.max_notification_id() or 0)


# -- what any import must write: its own rows, stored again -----------------------


@dataclass
class StoredAgain:
    events: int
    keys: int
    seconds: float
    present: int  # events a fresh database holds already (the pipeline catalog)


def store_again(source: str, target: str) -> StoredAgain:
    """The rows an import stored at `source`, stored again at `target`, timed.

    However an import checks and folds its actions, it must write these rows:
    the events into the library's table (its primary key and its notification
    ids), and an action key each (what makes an import idempotent). Here they
    go ready-made through the same recorder call the import ends with, in
    saves of the import's size, into a fresh database; only the saves count.
    The gap between this and raw COPY is what storing them costs (those
    indexes, a commit each save), before any of the import's own work.
    """
    events, keys = _stored_rows(source)
    tracker = open_tracker(target)
    try:
        present = {(e.originator_id, e.originator_version) for e in _events(tracker)}
        events = [
            e for e in events if (e.originator_id, e.originator_version) not in present
        ]
        checkpoint(target)
        saves = max(1, -(-len(keys) // SAVE_ACTIONS))
        started = time.perf_counter()
        for n in range(saves):
            tracker.store.recorder.insert_events(
                events[n * len(events) // saves : (n + 1) * len(events) // saves],
                action_keys=keys[n * len(keys) // saves : (n + 1) * len(keys) // saves],
            )
        seconds = time.perf_counter() - started
    finally:
        tracker.close()
    return StoredAgain(len(events), len(keys), seconds, present=len(present))


def _stored_rows(
    url: str,
) -> tuple[list[Notification], list[tuple[str, uuid.UUID, str]]]:
    tracker = open_tracker(url)
    try:
        events = _events(tracker)
    finally:
        tracker.close()
    if url.startswith("sqlite"):
        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as db:
            rows = db.execute(f"SELECT action_id, deal_id, digest FROM {ACTION_KEYS}")
            keys = [(a, uuid.UUID(d), g) for a, d, g in rows]
    else:
        table = sql.Identifier(schema_of(url), ACTION_KEYS)
        with psycopg.connect(libpq(url)) as conn:
            query = sql.SQL("SELECT action_id, deal_id, digest FROM {}").format(table)
            keys = [(a, d, g) for a, d, g in conn.execute(query)]
    return events, keys


def _events(tracker: PhaseTracker, page: int = 50_000) -> list[Notification]:
    events: list[Notification] = []
    while True:
        start = events[-1].id + 1 if events else 1
        got = tracker.store.recorder.select_notifications(start, page)
        events += got
        if len(got) < page:
            return events


# -- the machine's limit: raw COPY into a bare table --------------------------------


def sample_rows(url: str, limit: int = 2000) -> list[tuple[str, bytes]]:
    """(topic, state) of stored events, so the raw rows have the same sizes."""
    tracker = open_tracker(url)
    try:
        rows = tracker.store.recorder.select_notifications(1, limit)
        return [(n.topic, bytes(n.state)) for n in rows]
    finally:
        tracker.close()


def raw_copy(url: str, count: int, samples: list[tuple[str, bytes]]) -> float:
    """Seconds to write `count` event-shaped rows into a bare table, no indexes."""
    rows: list[tuple[uuid.UUID, int, str, bytes]] = [
        (uuid.uuid4(), i % 7 + 1, *samples[i % len(samples)]) for i in range(count)
    ]
    if url.startswith("sqlite"):
        return _raw_sqlite(url, rows)
    return _raw_postgres(url, rows)


def _raw_postgres(url: str, rows: list[Any]) -> float:
    table = sql.Identifier(schema_of(url), "raw_copy")
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} (originator_id uuid NOT NULL, originator_version "
                "bigint NOT NULL, topic text NOT NULL, state bytea NOT NULL, "
                "notification_id bigserial)"
            ).format(table)
        )
        copy_sql = sql.SQL(
            "COPY {} (originator_id, originator_version, topic, state) "
            "FROM STDIN (FORMAT BINARY)"
        ).format(table)
        started = time.perf_counter()
        for start in range(0, len(rows), COPY_BATCH):
            with conn.transaction(), conn.cursor() as cursor:
                with cursor.copy(copy_sql) as copy:
                    copy.set_types(["uuid", "int8", "text", "bytea"])
                    for row in rows[start : start + COPY_BATCH]:
                        copy.write_row(row)
        seconds = time.perf_counter() - started
        conn.execute(sql.SQL("DROP TABLE {}").format(table))
    return seconds


def _raw_sqlite(url: str, rows: list[Any]) -> float:
    path = url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE raw_copy (originator_id TEXT NOT NULL, originator_version "
            "INTEGER NOT NULL, topic TEXT NOT NULL, state BLOB NOT NULL)"
        )
        started = time.perf_counter()
        for start in range(0, len(rows), COPY_BATCH):
            conn.executemany(
                "INSERT INTO raw_copy VALUES (?, ?, ?, ?)",
                [(r[0].hex, *r[1:]) for r in rows[start : start + COPY_BATCH]],
            )
            conn.commit()
        seconds = time.perf_counter() - started
        conn.execute("DROP TABLE raw_copy")
    return seconds
