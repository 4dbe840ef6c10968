"""What every CLI command shares: consoles, the service, errors as one line."""

from __future__ import annotations

import functools
from contextlib import contextmanager
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import click
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress

from api.settings import Settings
from domain.errors import PhaselogError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from domain.application import PhaseTracker

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

P = ParamSpec("P")
R = TypeVar("R")


def one_line_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn the errors a user can cause into one line and exit status 1."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, typer.Exit, typer.Abort):
            raise
        except (PhaselogError, ValidationError, OSError, RuntimeError) as error:
            err.print(f"error: {describe(error)}", markup=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except Exception as error:  # a database driver's error, say
            err.print(
                f"error: {type(error).__name__}: {describe(error)}",
                markup=False,
                soft_wrap=True,
            )
            raise typer.Exit(1) from None

    return run


def describe(error: BaseException) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(
            f"{_field(error, e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
            for e in error.errors()
        )
    return " ".join(str(error).split()) or type(error).__name__


def _field(error: ValidationError, loc: tuple[int | str, ...]) -> str:
    """What is wrong, a setting named as the user sets it (PHASELOG_ADMIN_KEY)."""
    name = ".".join(map(str, loc))
    return f"PHASELOG_{name.upper()}" if error.title == Settings.__name__ else name


@contextmanager
def opened() -> Iterator[PhaseTracker]:
    """The service on the configured database (presets registered), then closed."""
    from api.app import open_tracker

    tracker = open_tracker(Settings())
    try:
        yield tracker
    finally:
        tracker.close()


def progress_bar() -> Progress:
    return Progress(console=err, transient=False)
