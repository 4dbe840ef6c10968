"""What every CLI command shares: consoles, the service, errors as one line."""

from __future__ import annotations

import functools
import re
import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import click
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress
from typer.core import TyperGroup
from typer.exceptions import TyperException

from api.settings import Settings
from domain.errors import PhaselogError
from domain.staging import UNREACHABLE

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    # typer's own copy of click, whose classes its groups are made of
    from typer._click import Context, HelpFormatter

    from domain.service import PhaseTracker

# No markup: what is printed is said as it is (a stored note "[/b]" is text).
out = Console(highlight=False, markup=False)
err = Console(stderr=True, highlight=False, markup=False)
# What a terminal would obey rather than show: C0 and C1 controls and DEL, but
# the line breaks and tabs of a note.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")

P = ParamSpec("P")
R = TypeVar("R")


class Listing(TyperGroup):
    """A group whose help lists each command with its whole first sentence,
    wrapped at spaces (click cuts it at the terminal's width with "...").

    Its apps take `rich_markup_mode=None`: click's own help, not rich's
    panels, which at 80 columns cut option names (`--projector-proc…`).
    """

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=sys.maxsize)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def one_line_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn the errors a user can cause into one line and exit status 1."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except (
            click.ClickException,
            click.exceptions.Exit,
            TyperException,  # typer's own click's: BadParameter, UsageError
            typer.Exit,
            typer.Abort,
        ):
            raise
        except (PhaselogError, ValidationError, OSError, RuntimeError) as error:
            err.print(f"error: {describe(error)}", soft_wrap=True)
            raise typer.Exit(1) from None
        except UNREACHABLE as error:
            err.print(f"error: cannot reach the database: {describe(error)}")
            raise typer.Exit(1) from None
        except Exception as error:  # a bug: the words, not the class, for the user
            err.print(f"error: unexpected failure: {describe(error)}", soft_wrap=True)
            raise typer.Exit(1) from None

    return run


def describe(error: BaseException) -> str:
    """The error in one line, safe to print to a terminal."""
    if isinstance(error, ValidationError):
        said = "; ".join(
            f"{_field(error, e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
            for e in error.errors()
        )
    else:
        said = " ".join(str(error).split()) or type(error).__name__
    return printable(said)


def printable(text: str) -> str:
    """`text` with every control character a terminal would obey written out
    (`\x1b`), so a stored value cannot move the cursor or recolour the screen."""
    return _CONTROL.sub(lambda found: repr(found.group())[1:-1], text)


def _field(error: ValidationError, loc: tuple[int | str, ...]) -> str:
    """What is wrong, a setting named as the user sets it (PHASELOG_ADMIN_KEY)."""
    name = ".".join(map(str, loc))
    return f"PHASELOG_{name.upper()}" if error.title == Settings.__name__ else name


@contextmanager
def opened(
    settings: Settings | None = None, *, register: bool = True
) -> Iterator[PhaseTracker]:
    """The service on the configured database, then closed. With `register`,
    the presets and PHASELOG_PIPELINES_DIR are registered first; a command
    that only reads registers nothing (no new version behind a server's back)."""
    from api.bootstrap import open_tracker

    tracker = open_tracker(settings or Settings(), register=register)
    try:
        yield tracker
    finally:
        tracker.close()


def progress_bar() -> Progress:
    return Progress(console=err, transient=False)
