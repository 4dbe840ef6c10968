"""`python -m bench run|pages|webhooks --size full|medium|small|tiny --database ...`.

Prints progress on stderr and the table on stdout; `--json FILE` also writes every
figure with its counts, for the smoke test and for comparing runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bench.db import DEFAULT_POSTGRES
from bench.run import SIZES, run_database, run_pages
from bench.table import Figure, render, to_json
from bench.webhooks import run_webhooks

if TYPE_CHECKING:
    from collections.abc import Callable


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, says in (
        ("run", "run every benchmark and print the table"),
        ("pages", "only the pages' timings, on an imported history"),
        ("webhooks", "webhook lag at 1,000 actions/s and delivery throughput"),
    ):
        run = commands.add_parser(name, help=says)
        run.add_argument("--size", choices=list(SIZES), default="small")
        run.add_argument(
            "--database", choices=["postgres", "sqlite", "both"], default="both"
        )
        run.add_argument(
            "--postgres",
            default=os.environ.get("BENCH_POSTGRES_DSN", DEFAULT_POSTGRES),
            help="server to use; each run creates and drops its own schema",
        )
        run.add_argument("--seed", type=int, default=7)
        run.add_argument("--json", type=Path, help="also write the figures here")
        run.add_argument(
            "--wait-quiet",
            type=float,
            default=0,
            metavar="SECONDS",
            help="first wait up to this long for a load average below 0.7",
        )
    args = parser.parse_args(argv)

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    load_before = os.getloadavg()[0]
    if args.wait_quiet:
        load_before = wait_for_quiet(0.7, args.wait_quiet, say)
    size = SIZES[args.size]
    databases = ["postgres", "sqlite"] if args.database == "both" else [args.database]
    started = time.perf_counter()
    figures: list[Figure] = []
    for database in databases:
        measure = {"pages": run_pages, "webhooks": run_webhooks}.get(
            args.command, run_database
        )
        figures += measure(database, size, args.postgres, args.seed, say)
    meta = {
        "size": args.size,
        "actions": size.actions,
        "databases": databases,
        "cpus": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "python": platform.python_version(),
        "load_average_before": round(load_before, 2),
        "seconds": round(time.perf_counter() - started, 1),
        "command": f"python -m bench {args.command} "
        + " ".join(sys.argv[2:] if argv is None else argv[1:]),
    }
    print(render(figures))
    print(
        f"\n{meta['cpus']} cores, {meta['memory_gib']} GiB, Python {meta['python']}; "
        f"size {args.size} ({size.actions:,} actions); load average before "
        f"{meta['load_average_before']}; took {meta['seconds']} s"
    )
    if args.json is not None:
        args.json.write_text(to_json(figures, meta))
    return 0


def _memory_gib() -> int:
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return 0
    return round(pages / 2**30)


def wait_for_quiet(limit: float, timeout: float, say: Callable[[str], None]) -> float:
    """Wait (bounded) until the 1-minute load average drops below `limit`."""
    deadline = time.monotonic() + timeout
    load_now = os.getloadavg()[0]
    while load_now >= limit and time.monotonic() < deadline:
        say(f"load average {load_now:.2f} >= {limit}: waiting for a quiet machine")
        time.sleep(30)
        load_now = os.getloadavg()[0]
    return load_now


if __name__ == "__main__":
    sys.exit(main())
