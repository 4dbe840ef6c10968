"""An import file read record by record: NDJSON lines or CSV records.

A record is numbered by the line it begins on (the line an editor shows). A
record that cannot be read (broken quoting, a quote never closed, a cell count
unlike the header's, too long, not JSON, nested too deep, not an object) is
still a record, with the reason; the records after it are read as they would
be without it, so one bad record neither aborts the file nor changes the rest.
Memory holds the lines of the current record only.
"""

from __future__ import annotations

import csv
import json
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO

if TYPE_CHECKING:
    from collections.abc import Iterator

# The API's default body limit (Settings.max_body_bytes), in characters: one
# NDJSON line, or all the lines of one CSV record, cells and all.
MAX_RECORD = 5_000_000
# The columns that tell a record's deal: a broken record keeps its deal out too
# when they can still be read from its first line.
DEAL_COLUMNS = ("pipeline", "contact_id", "object_id")
_SKIP_CHUNK = 1 << 16
_LINE_ENDS = ("\n", "\r")


class UnreadableFile(RuntimeError):
    """A file that is not text phaselog can read, and where it goes wrong."""


class Record(NamedTuple):
    """One record's values, or why it cannot be read and what tells its deal.

    A named tuple: made once a line, at a fraction of a frozen dataclass's cost.
    """

    number: int  # the line it begins on
    values: dict[str, Any]
    problem: str | None = None


def ndjson_records(handle: TextIO) -> Iterator[Record]:
    """One record per line; blank lines are skipped."""
    for number, text in Lines(handle):
        if text is None:
            yield Record(number, {}, _too_long())
        elif text.strip():
            yield Record(number, *_json_object(text))


def _json_object(text: str) -> tuple[dict[str, Any], str | None]:
    """The object the text holds, or why it holds none a deal can keep."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        return {}, f"not JSON: {error.msg}"
    except RecursionError:  # json's parser recurses once per level
        return {}, "nested too deeply to read"
    except ValueError as error:  # an integer of over 4,300 digits, say
        said = str(error).split(";")[0]  # not the advice to raise Python's limit
        return {}, f"not JSON phaselog can read: {said}"
    if not isinstance(value, dict):
        return {}, "not an object"
    if ("\\ud" in text or "\\uD" in text) and not _is_text(value):
        # json.loads keeps a lone surrogate escape; UTF-8 cannot store it.
        return value, "a string holds half a surrogate pair (\\ud800-\\udfff)"
    return value, None


def _is_text(value: dict[str, Any]) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode()
    except (UnicodeEncodeError, RecursionError):
        return False
    return True


def csv_records(handle: TextIO) -> Iterator[Record]:
    """Empty cells are absent; `fields` holds JSON; `fields.x` columns fill it too.

    A quoted cell may span lines. Quoting is strict: text after a closing
    quote, or a quote never closed, rejects the record, and reading resumes
    on the line after the one it began on.
    """
    feed = _Feed(Lines(handle))
    reader = csv.reader(feed, strict=True)
    # The csv module's own limit (131,072 per cell) would abort the file; a
    # record's lines are bounded by MAX_RECORD instead, so lift it meanwhile.
    with _field_size_limit(MAX_RECORD + 2):
        header: list[str] | None = None
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                found = feed.reject(_quoting_problem(str(error), feed), header)
            except _TooLong as error:
                found = feed.too_long(error, header)
            else:
                if not cells:  # a blank line
                    feed.done()
                    continue
                if header is None:
                    header = _header(cells, feed.done())
                    continue
                found = _record(header, cells, feed.done())
            if header is None:
                raise UnreadableFile(
                    f"line {found.number}, the header: {found.problem}"
                )
            yield found


def _record(header: list[str], cells: list[str], number: int) -> Record:
    if len(cells) != len(header):
        return Record(
            number,
            _deal_values(header, cells),
            f"has {_cells(len(cells))}, the header has {len(header)}",
        )
    values: dict[str, Any] = {}
    problem = None
    for name, value in zip(header, cells, strict=True):
        if not value:
            continue
        if name.startswith("fields."):
            values.setdefault("fields", {})[name.removeprefix("fields.")] = value
        elif name == "fields":
            parsed, problem = _json_object(value)
            values.setdefault("fields", {}).update(parsed)
            problem = problem and f"fields: {problem}"
        else:
            values[name] = value
    return Record(number, values, problem)


def _cells(count: int) -> str:
    return f"{count} cell" if count == 1 else f"{count} cells"


def _header(cells: list[str], number: int) -> list[str]:
    seen: set[str] = set()
    for name in cells:
        if name in seen:
            raise UnreadableFile(f"line {number}, the header: {name!r} appears twice")
        seen.add(name)
    return cells


def _deal_values(header: list[str] | None, cells: list[str]) -> dict[str, Any]:
    """What tells the deal, read from where the header puts those columns."""
    if header is None:
        return {}
    found = dict(zip(header, cells, strict=False))
    return {name: found[name] for name in DEAL_COLUMNS if found.get(name)}


def _quoting_problem(message: str, feed: _Feed) -> str:
    if message == "unexpected end of data":
        return "a quote opened here is never closed"
    if "expected after" in message:
        last = feed.taken[-1][0]
        if last == feed.taken[0][0]:
            return (
                "a quoted cell goes on after its closing quote "
                '(inside quotes, write a quote as "")'
            )
        return (
            "a quote opened here is never closed properly: the next quote, "
            f"on line {last}, has text after it"
        )
    return f"not CSV: {message}"


def _too_long() -> str:
    return f"the line is longer than {MAX_RECORD:,} characters"


class _TooLong(Exception):
    """A line that would take the record past MAX_RECORD (None: the line alone)."""

    def __init__(self, number: int, text: str | None) -> None:
        super().__init__(number)
        self.number, self.text = number, text


class _Feed:
    """The lines the csv reader asks for, kept until their record is done."""

    def __init__(self, lines: Lines) -> None:
        self.lines = lines
        self.taken: list[tuple[int, str]] = []
        self.size = 0

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> str:
        number, text = next(self.lines)
        if text is None or (self.taken and self.size + len(text) > MAX_RECORD):
            raise _TooLong(number, text)
        self.taken.append((number, text))
        self.size += len(text)
        return text

    def done(self) -> int:
        """The line the record began on; its lines are let go."""
        number = self.taken[0][0]
        self.taken.clear()
        self.size = 0
        return number

    def reject(
        self,
        problem: str,
        header: list[str] | None,
        also: tuple[int, str | None] | None = None,
    ) -> Record:
        """The record as rejected; its lines but the first will be read again."""
        first = self.taken[0][1]
        again = self.taken[1:] + ([also] if also else [])
        number = self.done()
        self.lines.put_back(again)
        return Record(number, _deal_values(header, _loose_cells(first)), problem)

    def too_long(self, error: _TooLong, header: list[str] | None) -> Record:
        if not self.taken:  # the record's first line alone
            return Record(error.number, {}, _too_long())
        problem = f"a quote opened here is not closed within {MAX_RECORD:,} characters"
        return self.reject(problem, header, (error.number, error.text))


def _loose_cells(line: str) -> list[str]:
    """A broken record's first line, read leniently: only to tell its deal."""
    try:
        return next(csv.reader([line]), [])
    except csv.Error:
        return []


class Lines:
    """A text file's lines, numbered; one longer than MAX_RECORD comes as None.

    Lines put back are read again first, as they came.
    """

    def __init__(self, handle: TextIO) -> None:
        self._handle = handle
        self._number = 0
        self._back: list[tuple[int, str | None]] = []

    def __iter__(self) -> Lines:
        return self

    def __next__(self) -> tuple[int, str | None]:
        if self._back:
            return self._back.pop()
        text = self._readline(MAX_RECORD + 1)
        if not text:
            raise StopIteration
        self._number += 1
        if len(text) > MAX_RECORD and not text.endswith(_LINE_ENDS):
            self._skip_rest()
            return self._number, None
        return self._number, text

    def _skip_rest(self) -> None:
        """Past the end of a line too long to keep, a chunk at a time."""
        while rest := self._readline(_SKIP_CHUNK):
            if rest.endswith(_LINE_ENDS):
                return

    def put_back(self, lines: list[tuple[int, str | None]]) -> None:
        self._back.extend(reversed(lines))

    def _readline(self, size: int) -> str:
        text = self._handle.readline(size)
        if len(text) == size and text.endswith("\r"):
            # A "\r\n" the size cut in two: its "\n" is not a line of its own.
            mark = self._handle.tell()
            if self._handle.read(1) == "\n":
                return text + "\n"
            self._handle.seek(mark)
        return text


@contextmanager
def _field_size_limit(limit: int) -> Iterator[None]:
    before = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(before)
