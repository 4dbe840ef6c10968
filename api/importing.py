"""Importing historical actions from NDJSON or CSV, all-or-nothing per deal.

Each line is checked against the API's `ActionIn` (so a file says what the API
says), then lines are grouped by deal and handed to the service's import path in
whole groups: a rejected line keeps every other line of its deal out too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from pydantic import ValidationError

from api.convert import log_action
from api.errors import field_path, problem_for
from api.records import Record, UnreadableFile, csv_records, ndjson_records
from api.schemas.actions import ActionIn
from api.schemas.base import reason as reason_of
from domain.commands import LogAction
from domain.errors import PhaselogError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

    from domain.service import PhaseTracker

DealKey = tuple[object, object, object]
# Lines per `log_actions` call: big enough for the service's helper process to
# take half of each call (storage.big_calls.HELPER_FROM), small enough for progress.
CHUNK = 10_000


@dataclass(frozen=True)
class Line:
    """A record checked: its command, or the field and reason it was refused."""

    number: int
    deal: DealKey  # which lines stand or fall together
    command: LogAction | None = None
    field: str | None = None
    reason: str | None = None


@dataclass
class Summary:
    stored: int = 0
    replayed: int = 0
    rejected: list[tuple[int, str, str]] = field(default_factory=list)


def read_lines(path: Path, recorded_by: Mapping[str, str] | None = None) -> list[Line]:
    """Every record of the file, parsed and checked, or with why it is not.

    The file is read record by record, never whole (api.records). A byte-order
    mark (as spreadsheets write one) is not part of the first column's name.
    """
    named_ndjson = path.suffix in (".ndjson", ".jsonl", ".json")
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            ndjson = named_ndjson or _opens_object(handle)
            handle.seek(0)
            records = ndjson_records(handle) if ndjson else csv_records(handle)
            return [_check(record, recorded_by) for record in records]
    except UnicodeDecodeError as error:
        raise UnreadableFile(_not_utf8(path)) from error
    except UnreadableFile as error:
        raise UnreadableFile(f"{path.name}: {error}") from None


def _not_utf8(path: Path) -> str:
    """Which line is not UTF-8 (the text decoder knows only its own chunk)."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as error:
                return (
                    f"{path.name}: line {number} is not UTF-8 (byte "
                    f"{error.start + 1}: {error.reason}); save the file as UTF-8"
                )
    return f"{path.name}: not UTF-8; save the file as UTF-8"


def _opens_object(handle: TextIO) -> bool:
    """Whether the first character other than whitespace is `{` (NDJSON, not CSV)."""
    while chunk := handle.read(4096):
        if stripped := chunk.lstrip():
            return stripped[0] == "{"
    return False


def _check(record: Record, recorded_by: Mapping[str, str] | None) -> Line:
    """The record's values are not kept: a big file's lines all wait in memory.

    Whatever goes wrong checking one record rejects that record alone: a file
    is never aborted by one of its lines.
    """
    number, raw = record.number, record.values
    deal = _deal_key(number, raw)
    if record.problem is not None:
        return Line(number, deal, field="", reason=record.problem)
    try:
        command = log_action(ActionIn.model_validate(raw), recorded_by)
    except ValidationError as error:
        first = error.errors()[0]
        return Line(
            number, deal, field=field_path(first["loc"]), reason=reason_of(first)
        )
    except Exception as error:  # a bug's, not the file's: still this line alone
        said = " ".join(str(error).split())
        reason = f"cannot be checked: {said} ({type(error).__name__})"
        return Line(number, deal, field="", reason=reason)
    return Line(number, deal, command=command)


def import_lines(
    tracker: PhaseTracker,
    lines: list[Line],
    *,
    chunk: int = CHUNK,
    progress: Callable[[int], None] = lambda done: None,
) -> Summary:
    """Log the good lines, whole deals at a time; name every rejected line."""
    summary = Summary()
    groups: dict[DealKey, list[Line]] = {}
    for line in lines:
        groups.setdefault(line.deal, []).append(line)
    batch: list[Line] = []
    for group in groups.values():
        bad = next((line for line in group if line.command is None), None)
        if bad is not None:
            _reject(summary, group, bad)
            progress(len(group))
            continue
        batch += group
        if len(batch) >= chunk:
            _log(tracker, batch, summary)
            progress(len(batch))
            batch = []
    if batch:
        _log(tracker, batch, summary)
        progress(len(batch))
    summary.rejected.sort()
    return summary


def _deal_key(number: int, raw: dict[str, Any]) -> DealKey:
    """The deal a record belongs to, when it can be told even from a broken one."""
    pipeline, contact = raw.get("pipeline"), raw.get("contact_id")
    if isinstance(pipeline, str) and isinstance(contact, str):
        return (pipeline, contact, raw.get("object_id"))
    return ("", "", number)


def _reject(summary: Summary, group: list[Line], bad: Line) -> None:
    for line in group:
        if line is bad:
            summary.rejected.append((line.number, bad.field or "", bad.reason or ""))
        else:
            reason = f"another line of this deal (line {bad.number}) was rejected"
            summary.rejected.append((line.number, "", reason))


def _log(tracker: PhaseTracker, batch: list[Line], summary: Summary) -> None:
    answers = tracker.log_actions([line.command for line in batch if line.command])
    for line, answer in zip(batch, answers, strict=True):
        if isinstance(answer, PhaselogError):
            found = problem_for(answer)
            field = found.field or ""
            reason = found.detail.removeprefix(f"{field}: ")
            summary.rejected.append((line.number, field, reason))
        elif answer.replayed:
            summary.replayed += 1
        else:
            summary.stored += 1
