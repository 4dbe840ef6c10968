"""Every command's help at 80 columns: option names and summaries whole."""

from __future__ import annotations

import re

import typer.main
from typer.core import TyperGroup
from typer.testing import CliRunner

from api.cli import app

runner = CliRunner()
NARROW = {"COLUMNS": "80"}  # a terminal 80 columns wide


def commands(group: TyperGroup, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The path of every group and command under `group`."""
    found: list[tuple[str, ...]] = [path]
    for name, command in group.commands.items():
        if isinstance(command, TyperGroup):
            found += commands(command, (*path, name))
        else:
            found.append((*path, name))
    return found


def test_every_option_name_is_whole_in_its_help_at_80_columns() -> None:
    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    for path in commands(root):
        command = root
        for name in path:
            assert isinstance(command, TyperGroup)
            command = command.commands[name]

        shown = runner.invoke(app, [*path, "--help"], env=NARROW)

        assert shown.exit_code == 0, shown.output
        words = set(re.split(r"[\s,/]+", shown.output))
        names = [n for p in command.params if not p.hidden for n in p.opts]
        names += [n for p in command.params if not p.hidden for n in p.secondary_opts]
        assert {n for n in names if n.startswith("-")} <= words, path
        assert "…" not in shown.output
        assert all(len(line) <= 80 for line in shown.output.splitlines())


def test_the_command_lists_give_each_summary_whole() -> None:
    for path in [(), ("pipelines",), ("keys",)]:
        shown = runner.invoke(app, [*path, "--help"], env=NARROW)

        assert shown.exit_code == 0
        listed = shown.output.split("Commands:")[1]
        assert "..." not in listed
    serve = runner.invoke(app, ["--help"], env=NARROW).output
    assert "while no key exists)." in " ".join(serve.split())
