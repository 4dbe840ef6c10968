"""`phaselog replay`: which deal, at which moments, and its timeline as text.

One block per entry: its business time beside the time it was recorded, what it
did to the phase, then its id, actor and texts. A line breaks between words
only, so a key is never split; a note wraps at spaces and folds just a word
longer than the line (a long URL).
"""

from __future__ import annotations

import datetime as dt
import json
import textwrap
import uuid
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli.common import one_line_errors, opened, out, printable
from api.moments import Day, moment
from domain.deal import deal_id_for
from domain.errors import DealNotFound, InvalidCommand
from domain.history import MOVED, VOID, VOIDED

if TYPE_CHECKING:
    from collections.abc import Mapping

    from domain.commands import Timeline
    from domain.history import Entry, Step

INDENT = "  "

app = typer.Typer()


@app.command()
@one_line_errors
def replay(
    deal_id: Annotated[
        uuid.UUID | None,
        typer.Argument(help="the deal's id; or name it by its keys, below"),
    ] = None,
    pipeline: Annotated[
        str | None, typer.Option(help="the deal's pipeline, with --contact")
    ] = None,
    contact: Annotated[str | None, typer.Option(help="the deal's contact_id")] = None,
    object_id: Annotated[
        str | None,
        typer.Option("--object", help="the deal's object_id, if it has one"),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            help="business time to stop at: ISO 8601 with a timezone, or a date "
            "(through its end, UTC)"
        ),
    ] = None,
    known_at: Annotated[
        str | None,
        typer.Option(help="only what was recorded by then; written as --as-of"),
    ] = None,
) -> None:
    """Print a deal's timeline: each entry's business and recording times, and
    the phase before and after it.

    Name the deal by its id (`phaselog replay 5f0c...`) or by the keys its
    actions carry: `phaselog replay --pipeline nl-tesoro --contact c-1`, with
    `--object flat-3` for a deal about an object.
    """
    deal = deal_named(deal_id, pipeline, contact, object_id)
    moments = {
        "as_of": moment_option("--as-of", as_of),
        "known_at": moment_option("--known-at", known_at),
    }
    with opened(register=False) as tracker:
        if deal_id is None:
            deal = tracker.latest_process(deal)
        try:
            found = tracker.timeline(deal, **moments)
        except DealNotFound:
            if deal_id is not None:
                raise
            on = f" on object {object_id!r}" if object_id is not None else ""
            raise DealNotFound(
                f"of contact {contact!r}{on} in pipeline {pipeline!r}"
            ) from None
    for line in timeline_lines(found, out.width, **moments):
        out.print(line, soft_wrap=True)


def deal_named(
    deal_id: uuid.UUID | None,
    pipeline: str | None,
    contact: str | None,
    object_id: str | None,
) -> uuid.UUID:
    """The deal given by its id, or by its natural keys (as actions name it:
    their first sales process, from which `latest_process` goes on)."""
    keys = pipeline is not None or contact is not None or object_id is not None
    if deal_id is not None and keys:
        raise InvalidCommand(
            "deal", "give its id or --pipeline and --contact, not both"
        )
    if deal_id is not None:
        return deal_id
    if pipeline is None or contact is None:
        raise InvalidCommand(
            "deal", "give its id, or --pipeline and --contact (and --object)"
        )
    return deal_id_for(pipeline, contact, object_id)


def moment_option(option: str, value: str | None) -> dt.datetime | None:
    """`--as-of` or `--known-at` read as the API reads `as_of` and `known_at`."""
    if value is None:
        return None
    try:
        return moment(value, Day.THROUGH)
    except ValueError as error:
        raise InvalidCommand(option, str(error)) from None


def timeline_lines(
    timeline: Timeline,
    width: int,
    as_of: dt.datetime | None = None,
    known_at: dt.datetime | None = None,
) -> list[str]:
    """The deal, the moments asked for, each entry, and the phase they lead to."""
    deal = timeline.deal
    about = f"{deal.pipeline} v{deal.pipeline_version}, contact {deal.contact_id}"
    if deal.object_id is not None:
        about += f", object {deal.object_id}"
    lines = [f"deal {deal.deal_id}", *_wrapped(printable(about), width)]
    moments = [
        f"{name} {_when(when)}"
        for name, when in (("as of", as_of), ("known at", known_at))
        if when is not None
    ]
    if moments:
        lines.append(", ".join(moments))
    for step in timeline.steps:
        lines += _entry(step, width, timeline.voids.get(step.entry.entry_id))
    lines.append(f"phase: {timeline.state.phase or '-'}")
    return lines


def _entry(step: Step, width: int, void: Entry | None = None) -> list[str]:
    entry = step.entry
    when = f"{_when(entry.occurred_at)}"
    if entry.recorded_at is not None:
        when += f"  recorded {_when(entry.recorded_at)}"
    if entry.kind == "void":
        what = f"void of {entry.voids}"
    elif entry.kind == "action":
        what = f"action {entry.type}"
        what += f", outcome {entry.outcome}" if entry.outcome else ""
    else:
        what = entry.kind
    what += f": {step.phase_before or '-'} -> {step.phase_after or '-'}"
    if step.effect == VOIDED:
        by = f"by {void.entry_id}: {void.reason}" if void is not None else "later"
        what += f" (voided {by})"
    elif step.effect not in (MOVED, VOID):
        what += f" ({step.effect})"
    who = f"id {entry.entry_id}, recorded by {_recorder(entry.recorded_by)}"
    who += f", on behalf of {entry.actor}" if entry.actor else ""
    lines = [
        *_wrapped(when, width),
        *_wrapped(printable(what), width, INDENT),
        *_wrapped(printable(who), width, INDENT),
    ]
    texts = {
        "reason": entry.reason,
        "note": entry.note,
        "fields": json.dumps(dict(entry.fields), ensure_ascii=False)
        if entry.fields
        else None,
    }
    for name, text in texts.items():
        for number, paragraph in enumerate((text or "").splitlines()):
            # a line of the text's own is indented as its wrapped lines are
            first = number == 0
            said = printable(f"{name}: {paragraph}" if first else paragraph)
            lines += _wrapped(said, width, INDENT if first else INDENT * 2, fold=True)
    return lines


def _recorder(recorded_by: Mapping[str, str] | None) -> str:
    """Who stored an entry, in words: a key's name and id, an operator, ..."""
    if not recorded_by:
        return "unknown (stored before phaselog recorded who)"
    name = recorded_by.get("name", "unknown")
    if recorded_by.get("via") == "api_key":
        return f"key {name} ({recorded_by.get('key_id')})"
    if recorded_by.get("via") == "cli":
        return f"{name} (command line)"
    return name


def _wrapped(
    text: str, width: int, indent: str = "", *, fold: bool = False
) -> list[str]:
    """`text` broken at spaces to `width`, its lines after the first indented
    further; `fold` also splits a word too long for a line (a note's), else
    such a word (a key) stays whole on a line of its own."""
    return textwrap.wrap(
        text,
        width=width,
        initial_indent=indent,
        subsequent_indent=indent + INDENT,
        break_long_words=fold,
        break_on_hyphens=False,
    ) or [indent]


def _when(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
