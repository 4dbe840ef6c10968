"""`phaselog audit ...`: the log itself proved, not the read models."""

from __future__ import annotations

import typer

from api.cli.common import Listing, one_line_errors, opened, out, printable
from storage.audit import check_log
from storage.eventstore import event_store

app = typer.Typer(
    help="Prove the log is the one that was written.",
    no_args_is_help=True,
    cls=Listing,
    rich_markup_mode=None,
)


@app.command("verify")
@one_line_errors
def verify_log() -> None:
    """Recompute every event's hash and chain against what was recorded with it;
    exit 0 only when the log is intact, else name the first position and deal."""
    with opened(register=False) as tracker:
        checked = check_log(event_store(tracker).keys.ledger)
    if checked.mismatch is not None:
        out.print(
            printable(f"log altered at {checked.mismatch}"),
            soft_wrap=True,
        )
        raise typer.Exit(1)
    out.print(
        f"log intact: {checked.events} events, chain head {checked.head.hex()}",
        soft_wrap=True,
    )
