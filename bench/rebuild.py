"""Projection rebuild in a fresh process (so its peak memory is its own), and the
stock `ProjectionRunner` on a sample of the same log.

`python -m bench.rebuild URL` rebuilds every read model from position 0 and prints
one JSON line: events folded, seconds, peak resident memory.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from eventsourcing.projection import ProjectionRunner

from api.sweeping import sweep_expired
from bench.db import open_tracker
from bench.stock import StockPhases, StockPhasesView, stock_env
from projections.runner import Projector
from storage.eventstore import EventStore

if TYPE_CHECKING:
    from collections.abc import Sequence


@dataclass
class Rebuilt:
    events: int
    seconds: float
    peak_mib: float
    deals: int


def rebuild_in_subprocess(url: str) -> Rebuilt:
    """The rebuild in a fresh process; peak memory is that of its whole tree.

    The rebuild may fan out to worker processes, which `ru_maxrss` of the
    rebuilding process does not see: the resident memory of the process and all
    its descendants is summed every 0.1 s and the largest sum is reported.
    """
    with subprocess.Popen(
        [sys.executable, "-m", "bench.rebuild", url],
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        peak = 0
        while process.poll() is None:
            peak = max(peak, tree_rss(process.pid))
            time.sleep(0.1)
        output = process.stdout.read() if process.stdout else ""
    if process.returncode:
        raise RuntimeError(f"the rebuild failed ({process.returncode})")
    rebuilt = Rebuilt(**json.loads(output.strip().splitlines()[-1]))
    rebuilt.peak_mib = max(rebuilt.peak_mib, peak / 2**20)
    return rebuilt


def own_peak_mib() -> float:
    """This process's peak resident memory since it started its program.

    Not `ru_maxrss`: Linux carries it over from the parent through fork and
    exec, so a rebuild started by a bench process that had held 1.5 GB
    reported 1.5 GB. The kernel's high-water mark of this address space
    (`VmHWM`) starts afresh at exec.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux


def tree_rss(root: int) -> int:
    """Bytes resident in `root` and all its descendants (Linux /proc)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rpartition(")")[2].split()
        except OSError:
            continue  # gone meanwhile
        parents[int(entry)] = int(fields[1])
        rss[int(entry)] = int(fields[21]) * page
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += [child for child, parent in parents.items() if parent == pid]
    return total


def _rebuild(url: str) -> Rebuilt:
    tracker = open_tracker(url)
    try:
        projector = Projector(tracker)
        total = [0]

        def progress(done: int, of: int) -> None:
            total[0] = done

        started = time.perf_counter()
        projector.rebuild(progress)
        seconds = time.perf_counter() - started
        deals = projector.reports.deals(now=tracker.clock(), limit=1)
        del deals
        return Rebuilt(total[0], seconds, own_peak_mib(), _count_deals(projector))
    finally:
        tracker.close()


def _count_deals(projector: Projector) -> int:
    from psycopg.sql import SQL

    with projector.store.read() as tx:
        tx.execute(SQL("SELECT count(*) FROM {}").format(projector.reports.deal_phases))
        row = tx.fetchone()
    return int(row[0]) if row else 0


def expire_due(url: str) -> int:
    """Write the expiries due now and project them; the number of deals expired.

    A server's first sweep does this as it starts: on an imported log, thousands
    of idle deals at once (8,578 of the full size's ~230,000). Done here, untimed,
    it no longer runs beside the reads and writes the server is measured on.
    """
    tracker = open_tracker(url)
    try:
        projector = Projector(tracker)
        expired = sweep_expired(tracker, projector, tracker.clock())
        projector.catch_up()
        return expired
    finally:
        tracker.close()


def stock_runner(url: str, sample: int, timeout: float = 60) -> tuple[int, float]:
    """Events the stock runner projects per second: (events, seconds)."""
    env = stock_env(url)
    env["APPLICATION_RECORDER_TOPIC"] = open_tracker_topic(url)
    started = time.perf_counter()
    with ProjectionRunner(
        application_class=EventStore,
        projection_class=StockPhases,
        view_class=StockPhasesView,
        env=env,
    ) as runner:
        projection = runner.projection
        assert isinstance(projection, StockPhases)
        deadline = started + timeout
        while projection.processed < sample and time.perf_counter() < deadline:
            time.sleep(0.05)
        # From the first event on: the runner's start-up is not projection work.
        processed = projection.processed
        seconds = projection.last_at - projection.first_at
    return processed - 1, seconds


def open_tracker_topic(url: str) -> str:
    from api.settings import eventsourcing_env
    from bench.db import settings_for

    return eventsourcing_env(settings_for(url))["APPLICATION_RECORDER_TOPIC"]


def main(argv: Sequence[str]) -> None:
    rebuilt = _rebuild(argv[0])
    print(json.dumps(rebuilt.__dict__))


if __name__ == "__main__":
    main(sys.argv[1:])
