"""`phaselog keys ...`: API keys, created, revoked and listed (stored hashed)."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from api.cli.common import Listing, err, one_line_errors, opened, out, printable
from storage.api_keys import KeyStore, new_key

app = typer.Typer(
    help="API keys (stored hashed).",
    no_args_is_help=True,
    cls=Listing,
    rich_markup_mode=None,
)


class RoleName(enum.StrEnum):
    agent = "agent"
    manager = "manager"
    auditor = "auditor"
    admin = "admin"


@app.command("create")
@one_line_errors
def create_key(
    role: Annotated[RoleName, typer.Option(help="what the key may do")],
    name: Annotated[
        str | None,
        typer.Option(help="who or what uses it, unique among active keys"),
    ] = None,
    label: Annotated[str | None, typer.Option(hidden=True)] = None,  # old --name
) -> None:
    """Create a key; it is shown once, alone on the last line."""
    if name is not None and label is not None and name != label:
        raise typer.BadParameter("give --name alone (--label is its old spelling)")
    with opened() as tracker:
        key = new_key()
        stored = KeyStore(tracker).add(key, role.value, name or label)
    err.print(
        f"created key {stored.key_id} named {stored.name} with role {role.value}; "
        "the key is not shown again:",
        markup=False,
        soft_wrap=True,
    )
    out.print(key, soft_wrap=True)


@app.command("revoke")
@one_line_errors
def revoke_key(
    name_or_id: Annotated[str, typer.Argument(help="a key's name or id")],
) -> None:
    """Revoke a key: every server refuses it within seconds. Kept, never deleted."""
    with opened() as tracker:
        revoked = KeyStore(tracker).revoke(name_or_id)
    for stored in revoked:
        out.print(f"revoked key {stored.key_id} named {stored.name}")


@app.command("list")
@one_line_errors
def list_keys() -> None:
    """Every key: id, name, role, created, last used (UTC days), status."""
    with opened() as tracker:
        rows = KeyStore(tracker).rows()
    # No rules between columns: a name of 18 characters (PHASELOG_ADMIN_KEY)
    # fits a line of 80; a longer one folds.
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=0)
    for header in ("id", "name", "role", "created", "last used", "status"):
        table.add_column(header, overflow="fold", no_wrap=header != "name")
    for stored in rows:
        used, revoked = stored.last_used_at, stored.revoked_at
        table.add_row(
            stored.key_id,
            printable(stored.name),
            stored.role,
            _day(stored.created_at),
            _day(used) if used else "never",
            f"revoked {_day(revoked)}" if revoked else "active",
        )
    out.print(table)


def _day(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%d")
