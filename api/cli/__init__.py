"""The `phaselog` command line: serve, demo, import, rebuild, replay, verify, ...

Every command reads PHASELOG_* settings (PHASELOG_DATABASE_URL above all). An error
is one readable line on stderr and exit status 1, never a traceback. One module
per group of commands; this one puts them together, in the order `--help` lists
them.
"""

from __future__ import annotations

from typing import Any

import typer

from api.cli import (
    audit,
    data,
    keys,
    pipelines,
    projections,
    replay,
    serve,
    webhooks,
)
from api.cli.common import Listing

app = typer.Typer(
    name="phaselog",
    help="Event-sourced phase tracker for sales pipelines.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=Listing,
    rich_markup_mode=None,
)
# Without a name, a group's commands are the app's own: `phaselog serve`.
for commands in (serve.app, data.app, projections.app, replay.app):
    app.add_typer(commands)
app.add_typer(pipelines.app, name="pipelines")
app.add_typer(keys.app, name="keys")
app.add_typer(audit.app, name="audit")
app.add_typer(webhooks.app, name="webhooks")


def main() -> Any:
    return app()
