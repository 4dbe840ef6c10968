"""`phaselog pipelines ...`: the definitions a database holds, and checking a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from api.cli.common import (
    Listing,
    describe,
    err,
    one_line_errors,
    opened,
    out,
    printable,
)
from domain.definitions import json_schema
from domain.errors import DefinitionError, PhaselogError, UnknownPipeline

app = typer.Typer(
    help="Pipeline definitions.",
    no_args_is_help=True,
    cls=Listing,
    rich_markup_mode=None,
)
NONE_YET = (
    "no pipeline registered yet: `phaselog demo`, `phaselog serve` or "
    "`phaselog import` registers the presets and PHASELOG_PIPELINES_DIR"
)


@app.command("list")
@one_line_errors
def list_pipelines() -> None:
    """Every pipeline the database holds, at its latest version."""
    with opened(register=False) as tracker:
        found = tracker.registered_pipelines()
    if not found:
        out.print(NONE_YET)
        return
    table = _table("id", "version", "label", "phases", "actions", wraps={"label"})
    for p in found:
        label = p.label.get("en") or next(iter(p.label.values()), "")
        table.add_row(
            p.id,
            str(p.version),
            printable(label),
            str(len(p.phases)),
            str(len(p.actions)),
        )
    out.print(table)


@app.command("show")
@one_line_errors
def show_pipeline(
    pipeline_id: Annotated[str, typer.Argument(help="a pipeline id")],
    version: Annotated[
        int | None, typer.Option(help="a past version", show_default="the latest")
    ] = None,
) -> None:
    """A pipeline's phases and the actions leading to each, as stored."""
    with opened(register=False) as tracker:
        try:
            versions = tracker.pipeline_versions(pipeline_id)
        except UnknownPipeline:
            held = [p.id for p in tracker.registered_pipelines()]
            raise PhaselogError(
                f"unknown pipeline {pipeline_id!r}; "
                + (f"this database holds {', '.join(held)}" if held else NONE_YET)
            ) from None
    if version is not None and not 1 <= version <= len(versions):
        raise PhaselogError(
            f"pipeline {pipeline_id!r} has no version {version}; "
            + _versions(len(versions))
        )
    p = versions[(version or len(versions)) - 1]
    out.print(
        f"{p.id} v{p.version} of {len(versions)}: {p.progression}, skip {p.skip_policy}"
    )
    table = _table(
        "phase", "kind", "label", "stale after", "reached by", wraps={"label"}
    )
    for phase in p.phases:
        by = [a.key for a in p.actions if any(r.to == phase.key for r in a.rules)]
        stale = f"{phase.stale_after_days} d" if phase.stale_after_days else ""
        table.add_row(
            phase.key,
            phase.kind,
            printable(p.label_of(phase.key)),
            stale,
            "\n".join(by),  # one key a line: a key is never split
        )
    out.print(table)


def _versions(count: int) -> str:
    return "it has version 1 only" if count == 1 else f"it has versions 1 to {count}"


def _table(*headers: str, wraps: set[str]) -> Table:
    """Keys whole (a column of keys never wraps), text wrapped at spaces; a
    word wider than the terminal folds rather than losing its end."""
    table = Table(
        box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0)
    )
    for header in headers:
        table.add_column(header, overflow="fold", no_wrap=header not in wraps)
    return table


@app.command("validate")
def validate(
    file: Annotated[Path, typer.Argument(help="a pipeline YAML file")],
) -> None:
    """Check a definition file; print the path inside it of what is wrong."""
    from api.bootstrap import read_pipeline

    try:
        pipeline = read_pipeline(file)
    except DefinitionError as error:
        err.print(f"error: {describe(error)}", soft_wrap=True)
        raise typer.Exit(1) from None
    out.print(f"{file}: valid pipeline {pipeline.id!r} ({len(pipeline.phases)} phases)")


@app.command("schema")
def schema() -> None:
    """The JSON Schema of definition files, for editors."""
    out.print_json(json.dumps(json_schema()))
