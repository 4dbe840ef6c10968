"""The `phaselog` command line: serve, demo, import, rebuild, replay, verify, ...

Every command reads PHASELOG_* settings (PHASELOG_DATABASE_URL above all). An error
is one readable line on stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from api.cli_admin import keys_app, pipelines_app
from api.cli_common import (
    Listing,
    err,
    one_line_errors,
    opened,
    out,
    printable,
    progress_bar,
)
from api.settings import Settings

app = typer.Typer(
    name="phaselog",
    help="Event-sourced phase tracker for sales pipelines.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=Listing,
    rich_markup_mode=None,
)
app.add_typer(pipelines_app, name="pipelines")
app.add_typer(keys_app, name="keys")


@app.command()
@one_line_errors
def serve(
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="server processes; each coalesces its own writes, one projects",
        ),
    ] = 1,
    projector_process: Annotated[
        bool,
        typer.Option(
            help="project in a process of its own, the workers standing by: a "
            "steadier tail under heavy logging, slower `after=` reads on SQLite",
        ),
    ] = False,
) -> None:
    """Serve the HTTP API (refuses a non-loopback address while no key exists)."""
    import contextlib
    import os

    import uvicorn

    from api import projecting
    from api.auth import check_bind
    from api.bootstrap import open_keys
    from api.settings import eventsourcing_env
    from domain.helper import shared_database
    from storage import lifeline

    settings = Settings()
    with opened(settings) as tracker:
        check_bind(host, open_keys(tracker, settings))
    separate = projector_process and shared_database(eventsourcing_env(settings))
    # From `--workers 2` on, uvicorn starts each worker (spawn) from this, the
    # main, thread, and the worker's app factory asks to end with this process
    # (`lifeline.end_with_serve`). It learns our pid from the environment it
    # inherits: uvicorn hands the factory no arguments of ours. With one
    # worker, uvicorn serves in this process.
    if workers > 1:
        os.environ[lifeline.SERVE_PID] = str(os.getpid())
    else:
        os.environ.pop(lifeline.SERVE_PID, None)
    with projecting.beside() if separate else contextlib.nullcontext():
        uvicorn.run(
            "api.app:app_from_env", factory=True, host=host, port=port, workers=workers
        )


@app.command()
@one_line_errors
def project(
    until_input_ends: Annotated[
        bool, typer.Option(hidden=True, help="stop when standard input ends")
    ] = False,
) -> None:
    """Keep the read models up to date and close idle deals, until stopped.

    One process projects a database at a time; the others stand by and take
    over when it ends. `serve --projector-process` starts this first, so its
    workers stand by. Started before a server, on this machine or (PostgreSQL)
    another, it projects for that server too.
    """
    import signal
    import threading

    from api import projecting

    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    if until_input_ends:
        projecting.stop_at_end_of_input(stop)

    def say(line: str) -> None:
        print(line, flush=True)  # one line a parent process waits for

    projecting.project(Settings(), stop, say)


@app.command()
@one_line_errors
def demo(
    actions: Annotated[int, typer.Option(help="how many actions to log")] = 3000,
    seed: Annotated[int, typer.Option(help="random seed (same seed, same data)")] = 7,
    show: Annotated[int, typer.Option(help="rejected lines to list")] = 5,
) -> None:
    """Load the presets and a synthetic history: deals over months, drop-offs.

    Safe to run again: a later run finds the history it loaded (same seed) and
    stores nothing twice. A rejected line is listed and makes the exit status 1.
    """
    from api.demo import load_demo

    with opened() as tracker, progress_bar() as bar:
        task = bar.add_task("demo history", total=actions)
        summary = load_demo(tracker, actions, seed, lambda n: bar.advance(task, n))
    until = summary.now.strftime("%Y-%m-%d %H:%M UTC")
    if summary.stored == summary.voided == 0 and not summary.rejected:
        out.print(
            f"demo: already loaded ({summary.replayed} actions, history up to "
            f"{until}); nothing stored",
            soft_wrap=True,
        )
        return
    out.print(
        f"demo: {summary.stored} actions stored on {summary.deals} deals "
        f"({summary.replayed} already there, {summary.voided} voided, "
        f"{len(summary.rejected)} rejected), history up to {until}",
        soft_wrap=True,
    )
    if summary.rejected:
        for action_id, reason in summary.rejected[:show]:
            err.print(printable(f"rejected {action_id}: {reason}"), soft_wrap=True)
        if len(summary.rejected) > show:
            more = len(summary.rejected) - show
            err.print(f"... and {more} more rejected (--show to list them)")
        raise typer.Exit(1)


@app.command("import")
@one_line_errors
def import_file(
    file: Annotated[Path, typer.Argument(help="NDJSON or CSV of actions")],
    show: Annotated[int, typer.Option(help="rejected lines to list")] = 20,
) -> None:
    """Import historical actions; a rejected line keeps its whole deal out."""
    from api.importing import import_lines, read_lines
    from domain.collector import tune_gc

    # Parsing keeps every line alive: the default thresholds walked them over
    # and over (300,000 lines: 5.2 s to read, 2.6 s with this).
    tune_gc()
    lines = read_lines(file)
    with opened() as tracker, progress_bar() as bar:
        task = bar.add_task(f"importing {file.name}", total=len(lines))
        summary = import_lines(tracker, lines, progress=lambda n: bar.advance(task, n))
    out.print(
        f"imported {summary.stored} actions, {summary.replayed} already there, "
        f"{len(summary.rejected)} rejected"
    )
    if summary.rejected:
        # One line per record, as a compiler names a line: a table's wrapped
        # cells would split the reason, and a reason may hold `[` (rich markup).
        for number, field, reason in summary.rejected[:show]:
            where = f"line {number}: {field}: " if field else f"line {number}: "
            out.print(printable(where + reason), soft_wrap=True)
        if len(summary.rejected) > show:
            more = len(summary.rejected) - show
            out.print(f"... and {more} more rejected lines (--show to list them)")
        raise typer.Exit(1)


@app.command()
@one_line_errors
def rebuild(
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            show_default="two on a log of 200,000 events or more, else one",
            help="processes folding the log",
        ),
    ] = None,
) -> None:
    """Rebuild every read model from the log; the old ones serve until the swap."""
    from api.bootstrap import open_projector

    settings = Settings()
    with opened(settings) as tracker, progress_bar() as bar:
        task = bar.add_task("rebuilding", total=None)
        projector = open_projector(tracker, settings, rebuild_workers=workers)
        projector.rebuild(
            lambda done, total: bar.update(task, completed=done, total=total)
        )
        status = projector.status()
    out.print(f"rebuilt: generation {status.generation} at position {status.position}")


@app.command()
@one_line_errors
def replay(
    deal_id: Annotated[
        uuid.UUID | None,
        typer.Argument(help="the deal's id; or name it by its keys, below"),
    ] = None,
    pipeline: Annotated[
        str | None, typer.Option(help="the deal's pipeline, with --contact")
    ] = None,
    contact: Annotated[str | None, typer.Option(help="the deal's contact_id")] = None,
    object_id: Annotated[
        str | None,
        typer.Option("--object", help="the deal's object_id, if it has one"),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            help="business time to stop at: ISO 8601 with a timezone, or a date "
            "(through its end, UTC)"
        ),
    ] = None,
    known_at: Annotated[
        str | None,
        typer.Option(help="only what was recorded by then; written as --as-of"),
    ] = None,
) -> None:
    """Print a deal's timeline: each entry's business and recording times, and
    the phase before and after it.

    Name the deal by its id (`phaselog replay 5f0c...`) or by the keys its
    actions carry: `phaselog replay --pipeline nl-tesoro --contact c-1`, with
    `--object flat-3` for a deal about an object.
    """
    from api.cli_replay import deal_named, moment_option, timeline_lines
    from domain.errors import DealNotFound

    deal = deal_named(deal_id, pipeline, contact, object_id)
    moments = {
        "as_of": moment_option("--as-of", as_of),
        "known_at": moment_option("--known-at", known_at),
    }
    with opened(register=False) as tracker:
        try:
            found = tracker.timeline(deal, **moments)
        except DealNotFound:
            if deal_id is not None:
                raise
            on = f" on object {object_id!r}" if object_id is not None else ""
            raise DealNotFound(
                f"of contact {contact!r}{on} in pipeline {pipeline!r}"
            ) from None
    for line in timeline_lines(found, out.width, **moments):
        out.print(line, soft_wrap=True)


@app.command()
@one_line_errors
def verify() -> None:
    """Re-fold the whole log and compare; exit 1 when a stored row differs."""
    from api.bootstrap import open_projector

    settings = Settings()
    with opened(settings) as tracker:
        projector = open_projector(tracker, settings)
        projector.catch_up()
        differences = projector.verify()
    if not differences:
        out.print("verified: the read models match the log")
        return
    table = Table("table", "key", "column", "stored", "expected", title="differences")
    for d in differences:
        table.add_row(d.table, d.key, d.column, repr(d.stored), repr(d.expected))
    out.print(table)
    err.print(f"error: {len(differences)} differences between read models and log")
    raise typer.Exit(1)


def main() -> Any:
    return app()


if __name__ == "__main__":  # `python -m api.cli`, as the bench runs a command
    main()
