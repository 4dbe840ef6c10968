"""Projection figures: rebuild events/s and peak memory, report latency, in process.

    python -m bench.projections_bench --deals 200000 [--repeat 3] [--keep]
    python -m bench.projections_bench --url sqlite:///big.db --repeat 1

Generates a history with `api.synthetic.generator` through
`PhaseTracker.log_actions` (the bulk path) into its own PostgreSQL schema (kept
with `--keep`, dropped otherwise), then runs each rebuild in a fresh subprocess so
its peak RSS (`VmHWM`) is the rebuild's own, and times the reports. `--url`
measures an existing database instead (any URL phaselog takes, e.g. one
`bench.imports` filled), left as it is. Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import psycopg

from api.bootstrap import open_tracker
from api.settings import Settings
from api.synthetic.generator import batches, history
from bench.rebuild import own_peak_mib
from domain.commands import LogAction, VoidAction
from domain.errors import PhaselogError
from projections.reports import Reports
from projections.runner import Projector

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from api.synthetic.generator import Command
    from domain.service import PhaseTracker

URL = "postgresql://postgres@127.0.0.1:5432/test?schema=bench_proj"
LIBPQ = "postgresql://postgres@127.0.0.1:5432/test"
SCHEMA = "bench_proj"
PIPELINE = "fr-sale"  # the busiest pipeline of the generated history


def tracker(url: str = URL) -> PhaseTracker:
    return open_tracker(Settings(database_url=url, pool_size=4))


def drop_schema() -> None:
    with psycopg.connect(LIBPQ, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')


def _deals(commands: Iterator[Command], deals: int) -> Iterator[Command]:
    """The generator's stream cut after the last command of the `deals`-th deal."""
    seen: set[tuple[str, str, str | None]] = set()
    for command in commands:
        if isinstance(command, LogAction):
            key = (command.pipeline, command.contact_id, command.object_id)
            if key not in seen and len(seen) == deals:
                return
            seen.add(key)
        yield command


def generate(app: PhaseTracker, deals: int) -> tuple[int, float]:
    """Log the history (voids included); (last position, seconds)."""
    started = time.perf_counter()
    for batch in batches(_deals(history(10 * deals, now=app.clock()), deals), 5000):
        logs = [c for c in batch if isinstance(c, LogAction)]
        app.log_actions(logs)
        voids = [c for c in batch if isinstance(c, VoidAction)]
        for void in voids:
            try:
                app.void(void)
            except PhaselogError:
                pass  # the voided action was in a deal cut off by `--deals`
    return app.store.recorder.max_notification_id() or 0, time.perf_counter() - started


def measure_rebuild(url: str) -> dict[str, Any]:
    """One rebuild in this process: events, seconds, peak RSS in MiB."""
    app = tracker(url)
    projector = Projector(app)
    events = [0]

    def progress(done: int, total: int) -> None:
        events[0] = total

    started = time.perf_counter()
    projector.rebuild(progress)
    seconds = time.perf_counter() - started
    app.close()
    # Worker processes (if the rebuild used any) are children: their peak too.
    rss = own_peak_mib()
    worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"events": events[0], "seconds": seconds, "rss_mib": rss, "worker": worker}


def rebuild_in_subprocess(url: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.projections_bench", "--rebuild-once", url],
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise RuntimeError(f"the rebuild failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def latency(call: Callable[[], object], runs: int) -> tuple[float, float]:
    """(p50, p99) in milliseconds after one warm-up call."""
    call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def reports(app: PhaseTracker, runs: int) -> dict[str, tuple[float, float]]:
    Projector(app).catch_up()
    answers = Reports(app)
    pipeline = app.pipeline(PIPELINE)
    now = app.clock()
    some = {"owner": "agent-03"}
    return {
        "funnel": latency(lambda: answers.funnel(pipeline), runs),
        "funnel (owner)": latency(lambda: answers.funnel(pipeline, **some), runs),
        "board totals": latency(lambda: answers.board_totals(pipeline), runs),
        "board totals (owner)": latency(
            lambda: answers.board_totals(pipeline, **some), runs
        ),
        "time-in-stage": latency(
            lambda: answers.time_in_stage(pipeline, now=now), runs
        ),
        "time-in-stage (owner)": latency(
            lambda: answers.time_in_stage(pipeline, now=now, **some), runs
        ),
        "stale": latency(lambda: answers.stale(pipeline, now=now), runs),
        "deals page": latency(lambda: answers.deals(pipeline=PIPELINE, now=now), runs),
    }


def _print_rebuilds(rebuilds: list[dict[str, Any]]) -> None:
    rates = [r["events"] / r["seconds"] for r in rebuilds]
    print(f"{'events':<28}{rebuilds[0]['events']:>30}")
    runs = ", ".join(f"{r:,.0f}" for r in rates)
    rate = f"{statistics.median(rates):,.0f} (runs {runs})"
    print(f"{'rebuild events/s':<28}{rate:>30}")
    rss = max(r["rss_mib"] for r in rebuilds)
    worker = max(r["worker"] for r in rebuilds)
    print(f"{'rebuild peak RSS MiB':<28}{rss:>30.0f}")
    print(f"{'  of one worker process':<28}{worker:>30.0f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3, help="rebuilds to run")
    parser.add_argument("--runs", type=int, default=50, help="calls per report")
    parser.add_argument("--keep", action="store_true", help="keep the schema")
    parser.add_argument(
        "--reuse", action="store_true", help="use the history a --keep run left"
    )
    parser.add_argument("--url", help="an existing database to measure, kept")
    parser.add_argument("--rebuild-once", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rebuild_once:
        print(json.dumps(measure_rebuild(args.rebuild_once)))
        return
    existing = args.reuse or args.url is not None
    url = args.url or URL
    if not existing:
        drop_schema()
    app = tracker(url)
    try:
        if not existing:
            events, seconds = generate(app, args.deals)
            print(f"generated {events} events in {seconds:.0f} s")
        Projector(app).catch_up()
        rebuilds = [rebuild_in_subprocess(url) for _ in range(args.repeat)]
        print(f"{'figure':<28}{'result':>30}")
        if rebuilds:
            _print_rebuilds(rebuilds)
        for name, (p50, p99) in reports(app, args.runs).items():
            print(f"{name + ' p50/p99 ms':<28}{f'{p50:.1f} / {p99:.1f}':>30}")
    finally:
        app.close()
        if not (args.keep or existing):
            drop_schema()


if __name__ == "__main__":
    main()
