"""Every benchmark, one database at a time, each against its comparison.

Order of one database's run: import N actions (and raw COPY of as many rows,
and the import's own rows stored again into a fresh database), rebuild every
read model from that log in a fresh process (and the stock runner on a sample),
write the expiries then due (untimed: a server's first sweep would write them
while it is measured), then start the real server on the same database
for the reports, the timeline and online logging; finally the stock server on an
empty database for the same online actions. Each timed step starts after a
checkpoint, as pgbench's runs do, so that it does not pay for writing out the step
before it.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from api.synthetic.generator import ACTORS, default_now
from bench import load, wire
from bench.db import checkpoint, scratch
from bench.imports import (
    import_file,
    import_history,
    raw_copy,
    sample_rows,
    store_again,
)
from bench.rebuild import expire_due, rebuild_in_subprocess, stock_runner
from bench.requests import (
    TIMELINE_EVENTS,
    arrival_requests,
    deal_page,
    online_requests,
    page_reads,
)
from bench.server import serve
from bench.table import Figure, percentile

if TYPE_CHECKING:
    from collections.abc import Callable

    from bench.load import Request

MS = 1000.0


@dataclass(frozen=True)
class Size:
    actions: int  # imported, then rebuilt and reported on
    online: int  # actions over HTTP, closed loop (ours; the stock gets a quarter)
    open_loop: int  # actions offered at `rate` per second
    rate: float
    clients: int
    stock_sample: int  # events for the stock ProjectionRunner
    repeats: int  # reads per report or timeline


SIZES = {
    "tiny": Size(2_000, 400, 200, 1000, 8, 300, 20),
    "small": Size(50_000, 4_000, 3_000, 1000, 32, 2_000, 50),
    "medium": Size(200_000, 10_000, 10_000, 1000, 64, 5_000, 100),
    "full": Size(1_000_000, 20_000, 20_000, 1000, 64, 5_000, 200),
}
REPORT_PIPELINE = "fr-sale"
# Server processes, for ours and the stock alike: one per core, as deployed
# (`phaselog serve --workers 2`).
WORKERS = 2


def run_database(
    database: str,
    size: Size,
    postgres_dsn: str,
    seed: int,
    say: Callable[[str], None],
) -> list[Figure]:
    figures: list[Figure] = []

    def add(name: str, ours: float, unit: str, **more: Any) -> None:
        figures.append(Figure(database, name, ours, unit, **more))
        say(f"  {database}: {name}: {ours:,.2f} {unit}")

    with scratch(database, postgres_dsn, "ours") as url:
        say(f"{database}: importing {size.actions:,} actions")
        imported = import_history(url, size.actions, seed)
        if imported.errors:
            say(f"  rejected: {imported.errors}")
        checkpoint(url)
        raw_rate = imported.actions / raw_copy(url, imported.actions, sample_rows(url))
        raw_name = (
            "raw COPY, bare table"
            if database == "postgres"
            else "raw executemany, bare table"
        )
        add(
            "bulk import (log_actions)",
            imported.accepted / imported.seconds,
            "actions/s",
            compared_to=raw_name,
            comparison=raw_rate,
            target=">= 50%" if database == "postgres" else "",
            count=imported.accepted,
            extra={
                "actions": imported.actions,
                "rejected": imported.rejected,
                "stored_events": imported.stored_events,
                "voids": imported.voids,
                "void_seconds": imported.void_seconds,
            },
        )
        say(f"{database}: the import's own rows, stored again ready-made")
        with scratch(database, postgres_dsn, "again") as again_url:
            again = store_again(url, again_url)
        add(
            "import's rows stored again (the recorder alone, ready-made rows)",
            imported.accepted / again.seconds,
            "actions/s",
            compared_to=raw_name,
            comparison=raw_rate,
            count=again.keys,
            extra={"events": again.events, "present": again.present},
        )
        if imported.voids:
            add(
                "voids during import (void_many, per batch)",
                imported.voids / imported.void_seconds,
                "voids/s",
                count=imported.voids,
            )

        say(f"{database}: the same actions through `phaselog import` of a file")
        with scratch(database, postgres_dsn, "file") as file_url:
            checkpoint(file_url)
            by_file = import_file(file_url, size.actions, seed)
        add(
            "bulk import (phaselog import, NDJSON file, whole command)",
            by_file.stored / by_file.seconds,
            "actions/s",
            compared_to=raw_name,
            comparison=raw_rate,
            count=by_file.stored,
            extra={"lines": by_file.actions},
        )

        say(
            f"{database}: rebuilding read models from {imported.stored_events:,} events"
        )
        checkpoint(url)
        rebuilt = rebuild_in_subprocess(url)
        comparison: dict[str, Any] = {}
        if database == "postgres":
            sample = min(size.stock_sample, imported.stored_events)
            events, seconds = stock_runner(url, sample)
            comparison = {
                "compared_to": f"stock ProjectionRunner ({events:,} events)",
                "comparison": events / seconds,
            }
        add(
            "projection rebuild",
            rebuilt.events / rebuilt.seconds,
            "events/s",
            target=">= 50000",
            count=rebuilt.events,
            extra={"deals": rebuilt.deals, "stored_events": imported.stored_events},
            **comparison,
        )
        add(
            "rebuild peak memory (RSS)",
            rebuilt.peak_mib,
            "MiB",
            target="<= 1024",
            higher_is_better=False,
            count=rebuilt.events,
        )

        expired = expire_due(url)
        say(f"{database}: {expired:,} idle deals expired before the server starts")
        checkpoint(url)
        say(f"{database}: server up; reports, timeline, online logging")
        with serve("bench.server:phaselog_app", url, workers=WORKERS) as base:
            figures += _reads(database, base, size, say)
            online = online_requests(seed + 1, size.online, size.clients)
            ours = load.closed_loop(base, online)
            _check(ours, say)
            offered = arrival_requests(seed + 2, size.open_loop)
            steady = load.open_loop(base, offered, size.rate, "/v1/projections")
            _check(steady, say)

    with scratch(database, postgres_dsn, "stock") as url:
        quarter = online_requests(seed + 1, max(size.online // 4, 1), size.clients)
        checkpoint(url)
        with serve("bench.stock:stock_app", url, workers=WORKERS) as base:
            stock = load.closed_loop(base, quarter)
            _check(stock, say)

    add(
        f"online logging over HTTP, {size.clients} clients",
        ours.rate,
        "actions/s",
        compared_to="stock get-change-save",
        comparison=stock.rate,
        target=">= 4x" if database == "postgres" else "",
        count=ours.done,
        extra={"stock_count": stock.done, "failures": ours.failures},
    )
    if database == "postgres":
        add(
            "online logging over HTTP (absolute)",
            ours.rate,
            "actions/s",
            target=">= 2000",
            count=ours.done,
        )
    for share in (0.5, 0.99):
        add(
            f"online latency p{share * 100:.0f}, closed loop",
            percentile(ours.latencies, share) * MS,
            "ms",
            compared_to="stock",
            comparison=percentile(stock.latencies, share) * MS,
            higher_is_better=False,
            count=ours.done,
        )
    add(
        f"online latency p50 at {size.rate:,.0f}/s offered",
        percentile(steady.latencies, 0.5) * MS,
        "ms",
        higher_is_better=False,
        count=steady.done,
        extra={"achieved_rate": steady.rate},
    )
    add(
        f"online latency p99 at {size.rate:,.0f}/s offered",
        percentile(steady.latencies, 0.99) * MS,
        "ms",
        target="<= 50" if database == "postgres" else "",
        higher_is_better=False,
        count=steady.done,
        extra={"achieved_rate": steady.rate},
    )
    add(
        f"projection lag at {size.rate:,.0f}/s offered (worst)",
        steady.projection_lag,
        "s",
        target="<= 1",
        higher_is_better=False,
        count=len(steady.progress),
    )
    return figures


def _reads(
    database: str, base: str, size: Size, say: Callable[[str], None]
) -> list[Figure]:
    figures: list[Figure] = []
    pipeline = REPORT_PIPELINE
    # "My pipeline" and "this quarter": one agent's deals, the last 90 days.
    owner = f"owner={ACTORS[2]}"
    quarter = f"since={default_now() - dt.timedelta(days=90):%Y-%m-%dT%H:%M:%SZ}"
    reads: list[tuple[str, str, str]] = [
        ("funnel", f"/v1/reports/funnel?pipeline={pipeline}", "<= 20"),
        ("time-in-stage", f"/v1/reports/time-in-stage?pipeline={pipeline}", "<= 100"),
        ("stale", f"/v1/reports/stale?pipeline={pipeline}", ""),
        (
            "deal filter page (50)",
            f"/v1/deals?pipeline={pipeline}&phase=first_viewing&limit=50",
            "",
        ),
        ("funnel, one owner", f"/v1/reports/funnel?pipeline={pipeline}&{owner}", ""),
        ("funnel, 90 days", f"/v1/reports/funnel?pipeline={pipeline}&{quarter}", ""),
        (
            "time-in-stage, one owner",
            f"/v1/reports/time-in-stage?pipeline={pipeline}&{owner}",
            "",
        ),
        (
            "time-in-stage, 90 days",
            f"/v1/reports/time-in-stage?pipeline={pipeline}&{quarter}",
            "",
        ),
        *page_reads(pipeline, owner),
    ]
    figures += _timed(database, base, size, reads, say, "report ")
    deal_id = _timeline_deal(base)
    timeline = load.sequential(
        base, ("GET", f"/v1/deals/{deal_id}/timeline", None), size.repeats
    )
    _check(timeline, say)
    figures += _timed(database, base, size, deal_page(deal_id), say)
    floor = load.sequential(base, ("GET", "/healthz", None), size.repeats)
    figures.append(
        Figure(
            database,
            f"timeline replay p50 ({TIMELINE_EVENTS} events, HTTP)",
            percentile(timeline.latencies, 0.5) * MS,
            "ms",
            compared_to="GET /healthz p50",
            comparison=percentile(floor.latencies, 0.5) * MS,
            target="<= 5",
            higher_is_better=False,
            count=timeline.done,
        )
    )
    say(f"  {database}: {figures[-1].name}: {figures[-1].ours:.2f} ms")
    return figures


def run_pages(
    database: str,
    size: Size,
    postgres_dsn: str,
    seed: int,
    say: Callable[[str], None],
) -> list[Figure]:
    """The pages alone (`python -m bench pages`): the history imported and
    rebuilt as `run_database` does, then each page read as a person reads it."""
    with scratch(database, postgres_dsn, "pages") as url:
        say(f"{database}: importing {size.actions:,} actions")
        import_history(url, size.actions, seed)
        checkpoint(url)
        rebuild_in_subprocess(url)
        checkpoint(url)
        with serve("bench.server:phaselog_app", url, workers=WORKERS) as base:
            owner = f"owner={ACTORS[2]}"
            figures = _timed(
                database, base, size, page_reads(REPORT_PIPELINE, owner), say
            )
            deal_id = _timeline_deal(base)
            figures += _timed(database, base, size, deal_page(deal_id), say)
    return figures


def _timed(
    database: str,
    base: str,
    size: Size,
    reads: list[tuple[str, str, str]],
    say: Callable[[str], None],
    prefix: str = "",
) -> list[Figure]:
    """Each of `reads` (name, path, target p50) by one client, `size.repeats`
    times: its p50 and p99."""
    figures: list[Figure] = []
    for name, path, target in reads:
        outcome = load.sequential(base, ("GET", path, None), size.repeats)
        _check(outcome, say)
        for share in (0.5, 0.99):
            figures.append(
                Figure(
                    database,
                    f"{prefix}{name} p{share * 100:.0f} ({REPORT_PIPELINE})",
                    percentile(outcome.latencies, share) * MS,
                    "ms",
                    target=target if share == 0.5 else "",
                    higher_is_better=False,
                    count=outcome.done,
                )
            )
            say(f"  {database}: {figures[-1].name}: {figures[-1].ours:.2f} ms")
    return figures


def _timeline_deal(base: str) -> str:
    """A deal with TIMELINE_EVENTS events (its opening and the actions after)."""
    start = dt.datetime(2025, 1, 6, 9, tzinfo=dt.UTC)
    kinds = itertools.cycle(["documentation_sent", "viewing", "inquiry_answered"])
    requests: list[Request] = [
        (
            "POST",
            "/v1/actions",
            {
                "pipeline": REPORT_PIPELINE,
                "contact_id": "timeline-contact",
                "object_id": "timeline-object",
                "type": "inquiry_received" if n == 0 else next(kinds),
                "occurred_at": (start + dt.timedelta(hours=6 * n)).isoformat(),
                "action_id": f"timeline-{n}",
            },
        )
        for n in range(TIMELINE_EVENTS - 1)
    ]
    import httpx

    with httpx.Client(base_url=base, timeout=60, headers=wire.AUTH) as http:
        deal_id = ""
        for method, path, body in requests:
            response = http.request(method, path, json=body)
            response.raise_for_status()
            deal_id = response.json()["deal_id"]
    return deal_id


def _check(outcome: load.Outcome, say: Callable[[str], None]) -> None:
    if outcome.failures:
        say(f"  FAILED requests {outcome.failures}: {outcome.samples}")
