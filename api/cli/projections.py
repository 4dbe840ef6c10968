"""`phaselog rebuild` and `phaselog verify`: the read models made again from the
log, or compared with it."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from api.cli.common import err, one_line_errors, opened, out, progress_bar

app = typer.Typer()


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

    with opened() as tracker, progress_bar() as bar:
        task = bar.add_task("rebuilding", total=None)
        projector = open_projector(tracker, rebuild_workers=workers)
        projector.rebuild(
            lambda done, total: bar.update(task, completed=done, total=total)
        )
        status = projector.status()
    out.print(f"rebuilt: generation {status.generation} at position {status.position}")


@app.command()
@one_line_errors
def verify() -> None:
    """Re-fold the whole log and compare; exit 1 when a stored row differs."""
    from api.bootstrap import open_projector

    with opened() as tracker:
        projector = open_projector(tracker)
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
