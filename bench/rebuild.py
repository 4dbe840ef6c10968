"""Projection rebuild in a fresh process (so its peak memory is its own), and the
stock `ProjectionRunner` on a sample of the same log.

`python -m bench.rebuild URL` rebuilds every read model from position 0 and prints
one JSON line: events folded, seconds, peak resident memory.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from eventsourcing.projection import ProjectionRunner

from bench.db import open_tracker
from bench.stock import StockPhases, StockPhasesView, stock_env
from domain.application import PhaseTracker
from projections.runner import Projector

if TYPE_CHECKING:
    from collections.abc import Sequence


@dataclass
class Rebuilt:
    events: int
    seconds: float
    peak_mib: float
    deals: int


def rebuild_in_subprocess(url: str) -> Rebuilt:
    output = subprocess.run(
        [sys.executable, "-m", "bench.rebuild", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return Rebuilt(**json.loads(output.strip().splitlines()[-1]))


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
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return Rebuilt(total[0], seconds, peak, _count_deals(projector))
    finally:
        tracker.close()


def _count_deals(projector: Projector) -> int:
    from psycopg.sql import SQL

    with projector.store.read() as tx:
        tx.execute(SQL("SELECT count(*) FROM {}").format(projector.reports.deal_phases))
        row = tx.fetchone()
    return int(row[0]) if row else 0


def stock_runner(url: str, sample: int, timeout: float = 60) -> tuple[int, float]:
    """Events the stock runner projects per second: (events, seconds)."""
    env = stock_env(url)
    env["APPLICATION_RECORDER_TOPIC"] = open_tracker_topic(url)
    started = time.perf_counter()
    with ProjectionRunner(
        application_class=PhaseTracker,
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
