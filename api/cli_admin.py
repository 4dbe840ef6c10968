"""`phaselog pipelines ...` and `phaselog keys ...`: definitions and API keys."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api.cli_common import err, one_line_errors, opened, out
from domain.definitions import json_schema, load_definition
from domain.errors import DefinitionError
from projections.keys import KeyStore

pipelines_app = typer.Typer(help="Pipeline definitions.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys (stored hashed).", no_args_is_help=True)


class RoleName(enum.StrEnum):
    agent = "agent"
    auditor = "auditor"
    admin = "admin"


@pipelines_app.command("list")
@one_line_errors
def list_pipelines() -> None:
    """Every pipeline registered in the database, latest version."""
    with opened() as tracker:
        found = tracker.pipelines()
    table = Table("id", "version", "label", "phases", "actions")
    for p in found:
        label = p.label.get("en") or next(iter(p.label.values()), "")
        table.add_row(
            p.id, str(p.version), label, str(len(p.phases)), str(len(p.actions))
        )
    out.print(table)


@pipelines_app.command("show")
@one_line_errors
def show_pipeline(
    pipeline_id: Annotated[str, typer.Argument(help="a pipeline id")],
    version: Annotated[int | None, typer.Option(help="a past version")] = None,
) -> None:
    """A pipeline's phases and the actions leading to each."""
    with opened() as tracker:
        p = tracker.pipeline(pipeline_id, version)
        versions = len(tracker.pipeline_versions(pipeline_id))
    out.print(
        f"{p.id} v{p.version} of {versions}: {p.progression}, skip {p.skip_policy}"
    )
    table = Table("phase", "kind", "label", "stale after", "reached by")
    for phase in p.phases:
        by = [a.key for a in p.actions if any(r.to == phase.key for r in a.rules)]
        stale = f"{phase.stale_after_days} d" if phase.stale_after_days else ""
        table.add_row(
            phase.key, phase.kind, p.label_of(phase.key), stale, ", ".join(by)
        )
    out.print(table)


@pipelines_app.command("validate")
def validate(
    file: Annotated[Path, typer.Argument(help="a pipeline YAML file")],
) -> None:
    """Check a definition file; print the path inside it of what is wrong."""
    try:
        pipeline = load_definition(file)
    except DefinitionError as error:
        err.print(f"error: {error}", markup=False, soft_wrap=True)
        raise typer.Exit(1) from None
    out.print(f"{file}: valid pipeline {pipeline.id!r} ({len(pipeline.phases)} phases)")


@pipelines_app.command("schema")
def schema() -> None:
    """The JSON Schema of definition files, for editors."""
    out.print_json(json.dumps(json_schema()))


@keys_app.command("create")
@one_line_errors
def create_key(
    role: Annotated[RoleName, typer.Option(help="what the key may do")],
    label: Annotated[str | None, typer.Option(help="who or what uses it")] = None,
) -> None:
    """Create a key; it is shown once, alone on the last line."""
    with opened() as tracker:
        key = KeyStore(tracker).create(role.value, label)
    err.print(f"created a key with role {role.value}; it is not shown again:")
    out.print(key, markup=False, soft_wrap=True)


@keys_app.command("list")
@one_line_errors
def list_keys() -> None:
    """The stored keys: role, label, when, and a prefix of each key's hash."""
    with opened() as tracker:
        rows = KeyStore(tracker).rows()
    table = Table("sha256", "role", "label", "created")
    for digest, role, label, created in rows:
        table.add_row(digest[:12], role, label or "", created)
    out.print(table)
