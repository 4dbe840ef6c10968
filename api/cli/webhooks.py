"""`phaselog webhooks ...`: subscriptions managed as the API's admin manages
them, their delivery log, redelivery, and `run`, the worker and sender alone."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from api.cli.common import Listing, err, one_line_errors, opened, out, printable
from api.settings import Settings
from api.webhooks.admin import WebhookAdmin
from projections.webhooks.subscriptions import Subscription

app = typer.Typer(
    help="Webhooks: a signed POST for every change of a deal's phase.",
    no_args_is_help=True,
    cls=Listing,
    rich_markup_mode=None,
)
Id = Annotated[str, typer.Argument(help="the subscription's id (wh_...)")]


def _show(s: Subscription) -> None:
    shown = {
        "id": s.id,
        "url": s.url,
        "pipelines": list(s.filter.pipelines),
        "phases": list(s.filter.phases),
        "kinds": list(s.filter.kinds),
        "status": s.status,
        "reason": s.reason,
        "created_at": s.created_at.isoformat(),
    }
    out.print(printable(json.dumps(shown)), soft_wrap=True)


@app.command("create")
@one_line_errors
def create(
    url: Annotated[str, typer.Argument(help="where to POST (http or https)")],
    pipeline: Annotated[
        list[str] | None, typer.Option(help="only this pipeline (repeatable)")
    ] = None,
    phase: Annotated[
        list[str] | None, typer.Option(help="only entering this phase (repeatable)")
    ] = None,
    kind: Annotated[
        list[str] | None,
        typer.Option(
            help="only entering a phase of this kind: open, won, lost, "
            "paused (repeatable)"
        ),
    ] = None,
) -> None:
    """Subscribe a URL; its secret is shown once, alone on the last line."""
    for k in kind or ():
        if k not in ("open", "won", "lost", "paused"):
            raise typer.BadParameter(f"kind {k!r}: open, won, lost or paused")
    settings = Settings()
    with opened(settings, register=False) as tracker:
        made = WebhookAdmin(tracker, settings).create(
            url, pipeline or (), phase or (), kind or ()
        )
    err.print(f"created webhook {made.id}; the secret is not shown again:")
    out.print(made.secret, soft_wrap=True)


@app.command("list")
@one_line_errors
def list_() -> None:
    """Every subscription: id, status, URL and filter."""
    settings = Settings()
    with opened(settings, register=False) as tracker:
        found = WebhookAdmin(tracker, settings).all()
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for header in ("id", "status", "url", "filter"):
        table.add_column(header, overflow="fold")
    for s in found:
        wanted = " ".join(
            f"{name}={','.join(values)}"
            for name, values in (
                ("pipelines", s.filter.pipelines),
                ("phases", s.filter.phases),
                ("kinds", s.filter.kinds),
            )
            if values
        )
        table.add_row(s.id, s.status, printable(s.url), wanted or "everything")
    out.print(table)


def _admin_do(action: str, id: str) -> None:
    settings = Settings()
    with opened(settings, register=False) as tracker:
        admin = WebhookAdmin(tracker, settings)
        if action == "show":
            _show(admin.get(id))
        elif action == "pause":
            _show(admin.set_status(id, "paused"))
        elif action == "resume":
            _show(admin.set_status(id, "active"))
        elif action == "delete":
            admin.delete(id)
            out.print(f"deleted webhook {id}")
        elif action == "rotate":
            rotated = admin.rotate(id)
            err.print(
                f"rotated the secret of {id}; the old one signs beside it for "
                "24 hours. The new secret, not shown again:"
            )
            out.print(rotated.secret, soft_wrap=True)


@app.command("show")
@one_line_errors
def show(id: Id) -> None:
    """One subscription, as JSON."""
    _admin_do("show", id)


@app.command("pause")
@one_line_errors
def pause(id: Id) -> None:
    """Hold its deliveries (events are still recorded, sent once resumed)."""
    _admin_do("pause", id)


@app.command("resume")
@one_line_errors
def resume(id: Id) -> None:
    """Send again: a paused subscription, or one a 410 disabled."""
    _admin_do("resume", id)


@app.command("delete")
@one_line_errors
def delete(id: Id) -> None:
    """Remove a subscription and its delivery log."""
    _admin_do("delete", id)


@app.command("rotate")
@one_line_errors
def rotate(id: Id) -> None:
    """A new secret, shown once; the old one signs beside it for 24 hours."""
    _admin_do("rotate", id)


@app.command("deliveries")
@one_line_errors
def deliveries(
    id: Id,
    after: Annotated[int, typer.Option(help="deliveries after this id")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
) -> None:
    """The delivery log: each event's position, status, attempts, last answer."""
    settings = Settings()
    with opened(settings, register=False) as tracker:
        found = WebhookAdmin(tracker, settings).deliveries(id, after, limit)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for header in ("id", "position", "deal", "status", "tries", "code", "error"):
        table.add_column(header, overflow="fold")
    for d in found:
        table.add_row(
            str(d.id),
            str(d.position),
            d.deal_id,
            d.status,
            str(len(d.tries)),
            "" if d.response_code is None else str(d.response_code),
            printable(d.error or ""),
        )
    out.print(table)


@app.command("redeliver")
@one_line_errors
def redeliver(
    id: Id,
    delivery: Annotated[int | None, typer.Option(help="this delivery")] = None,
    after: Annotated[
        int | None, typer.Option(help="every delivery after this log position")
    ] = None,
) -> None:
    """Send again (same webhook-id): one delivery, or all after a position."""
    if (delivery is None) == (after is None):
        raise typer.BadParameter("give --delivery or --after")
    settings = Settings()
    with opened(settings, register=False) as tracker:
        admin = WebhookAdmin(tracker, settings)
        if delivery is not None:
            admin.redeliver(id, delivery)
            count = 1
        else:
            count = admin.redeliver_after(id, after or 0)
    out.print(f"redelivering {count} deliveries of {id}")


@app.command("run")
@one_line_errors
def run() -> None:
    """Record and send webhooks, alone, until stopped (SIGTERM or Ctrl-C).

    One process per database delivers; a server's own worker stands by
    meanwhile and takes over should this one end, as `phaselog project` does.
    """
    import signal
    import threading

    from api.bootstrap import open_tracker, open_webhooks, startup_lock

    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    settings = Settings()
    with startup_lock(settings):
        tracker = open_tracker(settings)
    try:
        hooks = open_webhooks(tracker, settings)
        hooks.start()
        try:
            if hooks.worker.leads(60):
                print("delivering: webhooks follow the log", flush=True)
            else:
                print("standby: another process delivers", flush=True)
            stop.wait()
        finally:
            hooks.stop()
    finally:
        tracker.close()
