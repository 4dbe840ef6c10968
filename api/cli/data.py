"""`phaselog demo` and `phaselog import`: history logged in bulk.

The work is done outside the command line (api.demo, api.importing); these
commands show its progress and summary, and list what was rejected.
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import err, one_line_errors, opened, out, printable, progress_bar

app = typer.Typer()

AS_OPTION = typer.Option(
    "--as",
    help="who stores these entries, as each records it (default: the system user)",
)


def operator(name: str | None) -> dict[str, str]:
    """Who stores what this command line sends: the operator named, or the
    system user running it."""
    return {"via": "cli", "name": name or getpass.getuser()}


@app.command()
@one_line_errors
def demo(
    actions: Annotated[int, typer.Option(help="how many actions to log")] = 3000,
    seed: Annotated[int, typer.Option(help="random seed (same seed, same data)")] = 7,
    show: Annotated[int, typer.Option(help="rejected lines to list")] = 5,
    as_: Annotated[str | None, AS_OPTION] = None,
) -> None:
    """Load the presets and a synthetic history: deals over months, drop-offs.

    Safe to run again: a later run finds the history it loaded (same seed) and
    stores nothing twice. A rejected line is listed and makes the exit status 1.
    """
    from api.demo import load_demo

    with opened() as tracker, progress_bar() as bar:
        task = bar.add_task("demo history", total=actions)
        summary = load_demo(
            tracker,
            actions,
            seed,
            lambda n: bar.advance(task, n),
            recorded_by=operator(as_),
        )
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
    as_: Annotated[str | None, AS_OPTION] = None,
) -> None:
    """Import historical actions; a rejected line keeps its whole deal out.

    Each entry records who stored it: `--as NAME`, by default the system user.
    """
    from api.importing import import_lines, read_lines
    from storage.collector import tune_gc

    # Parsing keeps every line alive: the default thresholds walked them over
    # and over (300,000 lines: 5.2 s to read, 2.6 s with this).
    tune_gc()
    lines = read_lines(file, operator(as_))
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
